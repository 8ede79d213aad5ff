//! Change notices: "this row changed, read it again". Followers of a run (and, later, of an
//! organisation's alerts) wait on them instead of polling the database.
//!
//! On PostgreSQL a trigger calls `pg_notify` in the writing transaction, so the notice reaches
//! every server listening — whichever process wrote — and only once the change is committed. One
//! `LISTEN` connection per process, held by the listener task the process starts (see
//! [`crate::Store::listener`]), feeds a broadcast channel.
//! On SQLite the server is the only writer, so the store broadcasts after its own commits.
//!
//! A notice says what to read again, never what the new value is: the database stays the one
//! source of truth, and a missed notice (a reconnect, a lagging follower) costs only latency, as
//! long as followers also read again now and then.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::{ExecutionId, OrgId};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Task;

/// The PostgreSQL channel the triggers notify on.
pub(crate) const CHANNEL: &str = "rampart_changes";
/// Notices a slow subscriber may fall behind by before it is told it lagged.
const BACKLOG: usize = 1024;
/// How long the listener waits before reconnecting after an error.
const RECONNECT: Duration = Duration::from_secs(1);

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A run: its state, progress or log.
    Execution(ExecutionId),
    /// An organisation's alerts: one was raised or changed.
    Alerts(OrgId),
    /// New outbox records: dispatchers read on.
    Outbox,
    /// Decisions or the allowlist changed: a new version of the decisions to read.
    Decisions,
    /// A bouncer was made or deleted: its keys to read again.
    Bouncers,
}

impl Change {
    /// Reads a trigger's payload: `execution:<uuid>`, `alerts:<uuid>`, `outbox`, `decisions` or
    /// `bouncers`.
    fn parse(payload: &str) -> Option<Self> {
        match payload {
            "outbox" => return Some(Change::Outbox),
            "decisions" => return Some(Change::Decisions),
            "bouncers" => return Some(Change::Bouncers),
            _ => {}
        }
        let (kind, id) = payload.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "execution" => Some(Change::Execution(ExecutionId::from_uuid(id))),
            "alerts" => Some(Change::Alerts(OrgId::from_uuid(id))),
            _ => None,
        }
    }
}

/// The broadcast side of the notices, shared by every clone of a store.
#[derive(Clone, Debug)]
pub(crate) struct Changes {
    sender: broadcast::Sender<Change>,
    /// Whether the listener's first `LISTEN` is in place (PostgreSQL).
    listening: Arc<watch::Sender<bool>>,
}

impl Changes {
    pub(crate) fn new() -> Self {
        Self { sender: broadcast::channel(BACKLOG).0, listening: Arc::new(watch::Sender::new(false)) }
    }

    /// Tells this process's subscribers (SQLite: the writes are all ours).
    pub(crate) fn publish(&self, change: Change) {
        // No subscriber is not an error: nobody is following.
        let _ = self.sender.send(change);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// Waits (briefly) until the listener's first `LISTEN` is in place, so that a subscriber that
    /// reads the state and then waits for notices misses none committed after its read; returns
    /// at once from then on.
    pub(crate) async fn listening(&self) {
        let mut listening = self.listening.subscribe();
        // A database that is down must not hold the subscriber: it reads again later anyway.
        let _ = tokio::time::timeout(RECONNECT, listening.wait_for(|listening| *listening)).await;
    }

    /// The task that forwards PostgreSQL's notices to the subscribers until it is stopped or the
    /// pool is closed.
    pub(crate) fn listener(&self, pool: &PgPool) -> Task {
        let (pool, sender, listening) = (pool.clone(), self.sender.clone(), self.listening.clone());
        Task::new("change-listener", move |stop| forward(pool, sender, listening, stop))
    }
}

/// Listens until `stop` is cancelled or the pool is closed, reconnecting after errors.
async fn forward(
    pool: PgPool,
    sender: broadcast::Sender<Change>,
    listening: Arc<watch::Sender<bool>>,
    stop: CancellationToken,
) {
    while !pool.is_closed() {
        let mut listener = match stop.run_until_cancelled(PgListener::connect_with(&pool)).await {
            None => return,
            Some(Ok(listener)) => listener,
            Some(Err(_)) => {
                if stop.run_until_cancelled(tokio::time::sleep(RECONNECT)).await.is_none() {
                    return;
                }
                continue;
            }
        };
        match stop.run_until_cancelled(listener.listen(CHANNEL)).await {
            None => return,
            Some(Ok(())) => {}
            Some(Err(_)) => {
                if stop.run_until_cancelled(tokio::time::sleep(RECONNECT)).await.is_none() {
                    return;
                }
                continue;
            }
        }
        listening.send_replace(true);
        // `try_recv` answers `None` when the connection dropped: listen again on a new one.
        while let Some(Ok(Some(notice))) = stop.run_until_cancelled(listener.try_recv()).await {
            if let Some(change) = Change::parse(notice.payload()) {
                let _ = sender.send(change);
            }
        }
        if stop.is_cancelled() {
            return;
        }
        if !pool.is_closed() {
            tracing::warn!("the change listener lost its database connection; reconnecting");
            if stop.run_until_cancelled(tokio::time::sleep(RECONNECT)).await.is_none() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_what_changed() {
        let id = ExecutionId::new();
        assert_eq!(Change::parse(&format!("execution:{id}")), Some(Change::Execution(id)));
        assert_eq!(Change::parse("execution:nope"), None);
        assert_eq!(Change::parse(&format!("alien:{id}")), None);
        assert_eq!(Change::parse("execution"), None);
        assert_eq!(Change::parse("outbox"), Some(Change::Outbox));
    }
}
