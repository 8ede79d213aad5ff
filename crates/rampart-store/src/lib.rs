//! Rampart's storage. This crate alone speaks SQL.
//!
//! Domain crates see the [`Store`] trait and its per-domain stores; one implementation, [`SqlStore`],
//! serves both embedded SQLite and PostgreSQL. Every tenant-owned call takes the organisation first,
//! so an unscoped query cannot be written. Errors say what a caller can act on and never carry SQL.
#![forbid(unsafe_code)]

pub mod api_keys;
pub mod assets;
pub mod audit;
pub mod change_events;
pub mod changes;
mod db;
pub mod decisions;
pub mod effects;
mod error;
pub mod executions;
pub mod findings;
pub mod invitations;
pub mod nodes;
pub mod orgs;
pub mod outbox;
pub mod secrets;
mod seek;
pub mod sessions;
pub mod settings;
pub mod targets;
pub mod task;
pub mod users;
pub mod watch;

use async_trait::async_trait;

pub use api_keys::{ApiKeyStore, KeyForAuth};
pub use assets::{AssetFilter, AssetStore};
pub use audit::{AuditFilter, AuditStore};
pub use change_events::{ChangeEventStore, ChangeFilter};
pub use changes::Change;
pub use db::{Backend, ConnectOptions, Location, PoolStats, SqlStore};
pub use decisions::{
    AllowlistStore, Allowlisted, BouncerStore, DecisionFilter, DecisionStore, PolicyStore, Pull, Versioned,
};
pub use effects::{Effects, EffectsOf};
pub use error::{StoreError, StoreResult};
pub use executions::{ExecutionFilter, ExecutionStore};
pub use findings::{FindingFilter, FindingSort, FindingStore, FindingSummary};
pub use invitations::InvitationStore;
pub use nodes::{NodeFilter, NodePatch, NodeStore};
pub use orgs::OrgStore;
pub use outbox::{Claimed, Consumer, DeliveryError, DispatchConfig, Dispatcher, OutboxStore, pruner as outbox_pruner};
pub use secrets::SecretStore;
pub use seek::Seek;
pub use sessions::{AccessState, Rotation, SessionStore};
pub use settings::{SettingStore, StoredSetting};
pub use targets::{StoredTarget, TargetFilter, TargetPatch, TargetStore};
pub use task::Task;
pub use users::{Member, MemberStore, UserStore};
pub use watch::{AlertFilter, Committed, EventFilter, HourCount, ScoredEvent, WatchStore, WatchTotals};

/// Everything Rampart keeps, behind one object the application holds as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync {
    fn backend(&self) -> Backend;

    /// Applies the migrations embedded in the binary that the database has not seen yet.
    async fn migrate(&self) -> StoreResult<()>;

    /// One round trip to the database, for health checks.
    async fn ping(&self) -> StoreResult<()>;

    fn pool_stats(&self) -> PoolStats;

    /// Notices of changes committed from now on, by any process sharing the database. A notice
    /// says what to read again; a subscriber that lags is told so and should read everything again.
    async fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change>;

    /// PostgreSQL: the task that feeds [`Store::subscribe`] with the database's notices over one
    /// `LISTEN` connection. A process that follows changes starts it once; without it, a
    /// subscriber hears only this process's own writes on SQLite and nothing on PostgreSQL.
    fn listener(&self) -> Option<Task> {
        None
    }

    /// The upkeep the store needs while it is open (SQLite: copying its write-ahead log into the
    /// database file); every process that writes starts them.
    fn tasks(&self) -> Vec<Task> {
        Vec::new()
    }

    /// Closes every connection; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);

    /// The clock the store takes the time from; services sharing the store take theirs from it
    /// too, so a test sets one clock for all of them.
    fn clock(&self) -> std::sync::Arc<dyn rampart_core::time::Clock>;

    fn orgs(&self) -> &dyn OrgStore;
    fn settings(&self) -> &dyn SettingStore;
    fn secrets(&self) -> &dyn SecretStore;
    fn users(&self) -> &dyn UserStore;
    fn members(&self) -> &dyn MemberStore;
    fn invitations(&self) -> &dyn InvitationStore;
    fn sessions(&self) -> &dyn SessionStore;
    fn api_keys(&self) -> &dyn ApiKeyStore;
    fn audit(&self) -> &dyn AuditStore;
    fn targets(&self) -> &dyn TargetStore;
    fn executions(&self) -> &dyn ExecutionStore;
    fn findings(&self) -> &dyn FindingStore;
    fn assets(&self) -> &dyn AssetStore;
    fn change_events(&self) -> &dyn ChangeEventStore;
    fn nodes(&self) -> &dyn NodeStore;
    fn watch(&self) -> &dyn WatchStore;
    fn decisions(&self) -> &dyn DecisionStore;
    fn allowlist(&self) -> &dyn AllowlistStore;
    /// Scoped but for `keys`, which every server reads to authenticate pulls.
    fn bouncers(&self) -> &dyn BouncerStore;
    fn policies(&self) -> &dyn PolicyStore;
    /// Unscoped: the server's own queue of facts for its dispatchers (see [`outbox`]).
    fn outbox(&self) -> &dyn OutboxStore;
}
