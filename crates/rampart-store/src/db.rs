//! Connecting to SQLite or PostgreSQL, migrating, and the one [`SqlStore`] that implements every
//! domain store on either backend.
//!
//! Portable SQL is written once and run on whichever pool is open through [`on_pool!`]; statements
//! that differ between backends match on [`Db`] explicitly, next to each other.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::time::{self, Clock};
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::log::LevelFilter;

use crate::changes::{Change, Changes};
use crate::{
    ApiKeyStore, AuditStore, ExecutionStore, InvitationStore, MemberStore, NodeStore, OrgStore, OutboxStore,
    SecretStore, SessionStore, SettingStore, Store, StoreError, StoreResult, TargetStore, Task, UserStore, WatchStore,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the database is and how the pool behaves.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub location: Location,
    pub max_connections: u32,
    /// How long a caller waits for a connection before the store reports itself unavailable.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the file lock held by another writer.
    pub busy_timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file, created with its directory when missing.
    Sqlite(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

impl Location {
    /// Reads a `postgres://`, `postgresql://` or `sqlite://` URL.
    pub fn from_url(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgConnectOptions::from_str(url).map_err(|_| "is not a valid PostgreSQL URL".to_owned())?;
            Ok(Location::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("names no SQLite file".into());
            }
            Ok(Location::Sqlite(PathBuf::from(path)))
        } else {
            Err("must start with postgres:// or sqlite://".into())
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Location::Sqlite(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression on whichever pool is open. The body is compiled once per backend,
/// so it must be portable SQL; anything else matches on [`Db`] by hand.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Opens a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a transaction that read first and writes later would fail with "busy"
/// when another connection wrote in between, where waiting its turn succeeds.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;

    fn begin_write(&self) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;

    fn begin_write(&self) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;

    fn begin_write(&self) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send {
        self.begin()
    }
}

/// The store over SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) db: Db,
    max_connections: u32,
    changes: Changes,
    /// Where every time the store writes or compares comes from.
    clock: Arc<dyn Clock>,
}

impl SqlStore {
    /// Opens a pool. Nothing is migrated: call [`Store::migrate`].
    pub async fn connect(options: &ConnectOptions) -> StoreResult<Self> {
        let db = match &options.location {
            Location::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|_| StoreError::Internal("cannot create the database directory".into()))?;
                }
                let connect = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(options.busy_timeout)
                    // Checkpoints run beside the writers (see `checkpoint`), not inside a commit.
                    .pragma("wal_autocheckpoint", "0")
                    // Index pages stay in memory rather than being read back through the kernel
                    // (32 MiB of cache per connection, and the file mapped for reading); statement
                    // journals stay in memory.
                    .pragma("cache_size", "-32768")
                    .pragma("mmap_size", "268435456")
                    .pragma("temp_store", "memory")
                    .log_statements(LevelFilter::Off)
                    .log_slow_statements(LevelFilter::Off, Duration::MAX);
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?;
                Db::Sqlite(pool)
            }
            Location::Postgres(url) => {
                let connect = PgConnectOptions::from_str(url)
                    .map_err(|_| StoreError::Internal("invalid PostgreSQL URL".into()))?
                    .application_name("rampart")
                    // Rampart's transactions last milliseconds; one left open by a process that
                    // froze (stopped, swapped out) would hold its row locks for ever. PostgreSQL
                    // ends such a session, so its locks are freed and its work can be reaped.
                    .options([("idle_in_transaction_session_timeout", "30s")])
                    .log_statements(LevelFilter::Off)
                    .log_slow_statements(LevelFilter::Off, Duration::MAX);
                // Lazy, so a server can start while PostgreSQL is briefly down and report it as not ready.
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_lazy_with(connect);
                Db::Postgres(pool)
            }
        };
        Ok(Self { db, max_connections: options.max_connections, changes: Changes::new(), clock: time::system() })
    }

    /// The same store, taking the time from `clock` (the system's unless given).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The time now, as the store's clock says.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl SqlStore {
    /// Tells this process's followers about a change just committed. On PostgreSQL the triggers
    /// tell every process, this one included, so there is nothing to do here.
    pub(crate) fn changed(&self, change: Change) {
        if let Db::Sqlite(_) = self.db {
            self.changes.publish(change);
        }
    }
}

/// How often SQLite's write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies SQLite's write-ahead log into the database file, once a second, until `stop` is
/// cancelled or the pool closes.
/// SQLite would otherwise do it inside the commit that fills the log, making that commit wait for
/// the copy and its fsync; done here, from a connection of its own, it blocks no writer (a passive
/// checkpoint copies what no reader still needs, and the next one the rest).
async fn checkpoint(pool: SqlitePool, stop: CancellationToken) {
    while !pool.is_closed() {
        if stop.run_until_cancelled(tokio::time::sleep(CHECKPOINT_EVERY)).await.is_none() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await
            && !pool.is_closed()
        {
            tracing::warn!(error = %StoreError::from(error), "cannot checkpoint the SQLite log");
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    async fn migrate(&self) -> StoreResult<()> {
        let result = match &self.db {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(error) => StoreError::from(error),
            sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::Internal(format!(
                "the database was migrated to version {version} by a newer Rampart; upgrade this binary"
            )),
            _ => StoreError::Internal("migration failed".into()),
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        on_pool!(&self.db, |pool| sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        let (size, idle) = on_pool!(&self.db, |pool| (pool.size(), pool.num_idle()));
        PoolStats { size, idle: u32::try_from(idle).unwrap_or(u32::MAX), max: self.max_connections }
    }

    async fn subscribe(&self) -> broadcast::Receiver<Change> {
        let receiver = self.changes.subscribe();
        if let Db::Postgres(_) = &self.db {
            self.changes.listening().await;
        }
        receiver
    }

    fn listener(&self) -> Option<Task> {
        match &self.db {
            Db::Postgres(pool) => Some(self.changes.listener(pool)),
            Db::Sqlite(_) => None,
        }
    }

    fn tasks(&self) -> Vec<Task> {
        match &self.db {
            Db::Sqlite(pool) => {
                let pool = pool.clone();
                vec![Task::new("sqlite-checkpoint", move |stop| checkpoint(pool, stop))]
            }
            Db::Postgres(_) => Vec::new(),
        }
    }

    async fn close(&self) {
        on_pool!(&self.db, |pool| pool.close().await)
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn orgs(&self) -> &dyn OrgStore {
        self
    }

    fn settings(&self) -> &dyn SettingStore {
        self
    }

    fn secrets(&self) -> &dyn SecretStore {
        self
    }

    fn users(&self) -> &dyn UserStore {
        self
    }

    fn members(&self) -> &dyn MemberStore {
        self
    }

    fn sessions(&self) -> &dyn SessionStore {
        self
    }

    fn api_keys(&self) -> &dyn ApiKeyStore {
        self
    }

    fn invitations(&self) -> &dyn InvitationStore {
        self
    }

    fn audit(&self) -> &dyn AuditStore {
        self
    }

    fn targets(&self) -> &dyn TargetStore {
        self
    }

    fn executions(&self) -> &dyn ExecutionStore {
        self
    }

    fn findings(&self) -> &dyn crate::FindingStore {
        self
    }

    fn change_events(&self) -> &dyn crate::ChangeEventStore {
        self
    }

    fn assets(&self) -> &dyn crate::AssetStore {
        self
    }

    fn nodes(&self) -> &dyn NodeStore {
        self
    }

    fn watch(&self) -> &dyn WatchStore {
        self
    }

    fn decisions(&self) -> &dyn crate::DecisionStore {
        self
    }

    fn allowlist(&self) -> &dyn crate::AllowlistStore {
        self
    }

    fn bouncers(&self) -> &dyn crate::BouncerStore {
        self
    }

    fn policies(&self) -> &dyn crate::PolicyStore {
        self
    }

    fn outbox(&self) -> &dyn OutboxStore {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            Location::from_url("postgres://rampart@db.internal/rampart").map(|l| l.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            Location::from_url("sqlite:///var/lib/rampart/r.db"),
            Ok(Location::Sqlite("/var/lib/rampart/r.db".into()))
        );
        assert!(Location::from_url("mysql://x").is_err());
        assert!(Location::from_url("sqlite://").is_err());
    }
}
