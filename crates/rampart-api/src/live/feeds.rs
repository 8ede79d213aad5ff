//! Shared readers: the followers of one thing (an organisation's alerts, a run) share one task
//! that reads the database and hands what it read to all of them through a broadcast channel. The
//! reader starts with the first follower and is stopped when the last one goes.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{broadcast, watch};
use tokio::task::AbortHandle;

use crate::metrics::Metrics;

/// What a follower may fall behind its reader before it lags.
const BACKLOG: usize = 1024;

/// The readers running, by what they read.
pub(crate) struct Feeds<K: Eq + Hash, T> {
    metrics: Arc<Metrics>,
    feeds: Mutex<HashMap<K, Weak<Feed<K, T>>>>,
}

/// One reader, alive while a follower holds it.
pub(crate) struct Feed<K: Eq + Hash, T> {
    key: K,
    sender: broadcast::Sender<T>,
    /// True once the reader has its starting point: what it reads after is sent.
    ready: watch::Receiver<bool>,
    reader: AbortHandle,
    feeds: Arc<Feeds<K, T>>,
}

/// What a reader is given: where to send, and how to say it has its starting point.
pub(crate) struct Reader<T> {
    pub(crate) sender: broadcast::Sender<T>,
    pub(crate) ready: watch::Sender<bool>,
}

impl<K: Eq + Hash, T> Drop for Feed<K, T> {
    fn drop(&mut self) {
        self.reader.abort();
        self.feeds.metrics.live_readers.dec();
        let mut feeds = self.feeds.feeds.lock().expect("the feeds are never poisoned");
        // A follower may have started a new reader meanwhile: that one stays.
        if feeds.get(&self.key).is_some_and(|feed| feed.strong_count() == 0) {
            feeds.remove(&self.key);
        }
    }
}

impl<K, T> Feeds<K, T>
where
    K: Copy + Eq + Hash + Send + Sync + 'static,
    T: Clone + Send + 'static,
{
    pub(crate) fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self { metrics, feeds: Mutex::new(HashMap::new()) })
    }

    /// Follows `key`: joins its reader, or starts one with `read`. Returns once the reader has its
    /// starting point, so that nothing it reads after this returns can be missed. The follower
    /// keeps the feed as long as it reads from the receiver.
    pub(crate) async fn follow<R, F>(self: &Arc<Self>, key: K, read: R) -> (Arc<Feed<K, T>>, broadcast::Receiver<T>)
    where
        R: FnOnce(Reader<T>) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let (feed, receiver) = {
            let mut feeds = self.feeds.lock().expect("the feeds are never poisoned");
            let feed = match feeds.get(&key).and_then(Weak::upgrade) {
                Some(feed) => feed,
                None => {
                    let (sender, _) = broadcast::channel(BACKLOG);
                    let (ready_tx, ready) = watch::channel(false);
                    let reader = tokio::spawn(read(Reader { sender: sender.clone(), ready: ready_tx })).abort_handle();
                    self.metrics.live_readers.inc();
                    let feed = Arc::new(Feed { key, sender, ready, reader, feeds: self.clone() });
                    feeds.insert(key, Arc::downgrade(&feed));
                    feed
                }
            };
            let receiver = feed.sender.subscribe();
            (feed, receiver)
        };
        // An error means the reader is gone (it ended): what it read was sent before.
        let _ = feed.ready.clone().wait_for(|ready| *ready).await;
        (feed, receiver)
    }
}
