//! A dispatcher delivers one consumer's records: it claims a batch with a lease, hands each record
//! to the [`Consumer`] in order, acknowledges what was delivered, and waits for a change notice
//! (or a while) when there is nothing to do. Errors back off, doubling up to a bound.
//!
//! Any number of dispatchers of one consumer may run, in one process or many: the lease lets one
//! deliver at a time, and the fence refuses the acknowledgement of one that lost its lease.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::outbox::OutboxRecord;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{Change, Store, StoreError};

/// Why a consumer could not act on a record; the record is delivered again after a back-off.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

/// Acts on records. The same record may come again (a dispatcher died between acting and
/// acknowledging, or lost its lease), so an effect is keyed by the record's id.
#[async_trait]
pub trait Consumer: Send + Sync {
    async fn deliver(&self, record: &OutboxRecord) -> Result<(), DeliveryError>;
}

/// How a dispatcher paces itself.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    /// Records claimed at once.
    pub batch: u32,
    /// How long a claim is held: a dispatcher dead for longer hands its batch to another.
    pub lease: Duration,
    /// How long an idle dispatcher waits for a notice before it reads again anyway.
    pub idle: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            batch: 100,
            lease: Duration::from_secs(60),
            idle: Duration::from_secs(30),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// Why a step stopped short.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("delivery of outbox record {id} failed: {error}")]
    Delivery { id: i64, error: DeliveryError },
}

/// Delivers the records of one consumer.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    consumer: String,
    holder: String,
    target: Arc<dyn Consumer>,
    config: DispatchConfig,
}

impl Dispatcher {
    /// A dispatcher for the consumer named `consumer` (its progress is kept under that name).
    pub fn new(store: Arc<dyn Store>, consumer: &str, target: Arc<dyn Consumer>, config: DispatchConfig) -> Self {
        let holder = format!("{consumer}/{}", uuid::Uuid::now_v7());
        Self { store, consumer: consumer.to_owned(), holder, target, config }
    }

    /// Claims one batch, delivers it and acknowledges it; answers how many records were delivered
    /// (0: nothing to do, or another dispatcher holds the lease). On a failed delivery the records
    /// before it are acknowledged and the rest are left for the next claim.
    pub async fn step(&self) -> Result<usize, DispatchError> {
        let outbox = self.store.outbox();
        let Some(claimed) = outbox.claim(&self.consumer, &self.holder, self.config.lease, self.config.batch).await?
        else {
            return Ok(0);
        };
        let mut through = claimed.after;
        for record in &claimed.records {
            if let Err(error) = self.target.deliver(record).await {
                outbox.acknowledge(&self.consumer, claimed.fence, through).await?;
                return Err(DispatchError::Delivery { id: record.id, error });
            }
            through = record.id;
        }
        outbox.acknowledge(&self.consumer, claimed.fence, through).await?;
        Ok(claimed.records.len())
    }

    /// Delivers until `cancel` fires; a batch under way is finished first.
    pub async fn run(self, cancel: CancellationToken) {
        let mut changes = self.store.subscribe().await;
        let mut backoff = self.config.backoff_min;
        while !cancel.is_cancelled() {
            match self.step().await {
                Ok(0) => {
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        _ = tokio::time::timeout(self.config.idle, next_outbox_notice(&mut changes)) => {}
                    }
                }
                Ok(_) => backoff = self.config.backoff_min,
                Err(error) => {
                    tracing::warn!(consumer = %self.consumer, %error, "cannot deliver outbox records; backing off");
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
    }
}

/// Waits for a notice of new records; a lagging or closed channel counts as one (read again).
async fn next_outbox_notice(changes: &mut broadcast::Receiver<Change>) {
    loop {
        match changes.recv().await {
            Ok(Change::Outbox) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Ok(_) => {}
            // The store is gone: the idle timeout reads again, and fails.
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}
