//! Bouncers: firewalls pulling decisions with a key, stored as its SHA-256. Servers keep every
//! key in memory (a pull reads no database); their last pulls are written here in batches.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::watch::decisions::Bouncer;
use rampart_core::{BouncerId, OrgId, UserId};
use uuid::Uuid;

use crate::changes::Change;
use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, EffectsOf, Seek, SqlStore, StoreError, StoreResult};

/// The most bouncers an organisation has.
pub const BOUNCERS_MAX: i64 = 1_000;

/// A bouncer's pull, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Pull {
    pub bouncer: BouncerId,
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[async_trait]
pub trait BouncerStore: Send + Sync {
    async fn insert(
        &self,
        org: OrgId,
        name: &str,
        key_prefix: &str,
        key_hash: &str,
        by: Option<UserId>,
        then: EffectsOf<'_, Bouncer>,
    ) -> StoreResult<Bouncer>;
    /// By id (oldest first), after `seek.from` when given.
    async fn list(&self, org: OrgId, seek: Seek<BouncerId>) -> StoreResult<Vec<Bouncer>>;
    async fn get(&self, org: OrgId, id: BouncerId) -> StoreResult<Bouncer>;
    /// Its key stops working on every server within a notice.
    async fn delete(&self, org: OrgId, id: BouncerId, effects: &Effects) -> StoreResult<()>;
    /// Every organisation's bouncers with their key hashes: what a server authenticates pulls with.
    async fn keys(&self) -> StoreResult<Vec<(Bouncer, String)>>;
    /// Records pulls, the latest of each bouncer kept.
    async fn record_pulls(&self, pulls: &[Pull]) -> StoreResult<()>;
}

const COLUMNS: &str = "id, org_id, name, key_prefix, created_by, created_at, last_pull_at, last_ip, user_agent";

#[derive(sqlx::FromRow)]
struct BouncerRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    key_prefix: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_pull_at: Option<DateTime<Utc>>,
    last_ip: Option<String>,
    user_agent: Option<String>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    #[sqlx(flatten)]
    bouncer: BouncerRow,
    key_hash: String,
}

impl BouncerRow {
    fn into_bouncer(self) -> Bouncer {
        Bouncer {
            id: BouncerId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            name: self.name,
            key_prefix: self.key_prefix,
            created_by: self.created_by.map(UserId::from_uuid),
            created_at: self.created_at,
            last_pull_at: self.last_pull_at,
            last_ip: self.last_ip,
            user_agent: self.user_agent,
        }
    }
}

#[async_trait]
impl BouncerStore for SqlStore {
    async fn insert(
        &self,
        org: OrgId,
        name: &str,
        key_prefix: &str,
        key_hash: &str,
        by: Option<UserId>,
        then: EffectsOf<'_, Bouncer>,
    ) -> StoreResult<Bouncer> {
        let sql = format!(
            "INSERT INTO bouncers (id, org_id, name, key_prefix, key_hash, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let now = self.now();
        let bouncer = unit_of_work!(
            self,
            |tx| {
                let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bouncers WHERE org_id = $1")
                    .bind(org.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                if held >= BOUNCERS_MAX {
                    return Err(StoreError::Refused("the organisation has 1,000 bouncers already"));
                }
                sqlx::query_as::<_, BouncerRow>(&sql)
                    .bind(BouncerId::new().as_uuid())
                    .bind(org.as_uuid())
                    .bind(name)
                    .bind(key_prefix)
                    .bind(key_hash)
                    .bind(by.map(|user| user.as_uuid()))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::conflict_on("name"))?
                    .into_bouncer()
            },
            then
        );
        self.changed(Change::Bouncers);
        Ok(bouncer)
    }

    async fn list(&self, org: OrgId, seek: Seek<BouncerId>) -> StoreResult<Vec<Bouncer>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM bouncers WHERE org_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, BouncerRow>(&sql)
                .bind(org.as_uuid())
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(BouncerRow::into_bouncer).collect())
    }

    async fn get(&self, org: OrgId, id: BouncerId) -> StoreResult<Bouncer> {
        let sql = format!("SELECT {COLUMNS} FROM bouncers WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, BouncerRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        Ok(row.into_bouncer())
    }

    async fn delete(&self, org: OrgId, id: BouncerId, effects: &Effects) -> StoreResult<()> {
        self.delete_owned("bouncers", org, id.as_uuid(), effects).await?;
        self.changed(Change::Bouncers);
        Ok(())
    }

    async fn keys(&self) -> StoreResult<Vec<(Bouncer, String)>> {
        let sql = format!("SELECT {COLUMNS}, key_hash FROM bouncers");
        let rows = on_pool!(&self.db, |pool| sqlx::query_as::<_, KeyRow>(&sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|row| (row.bouncer.into_bouncer(), row.key_hash)).collect())
    }

    async fn record_pulls(&self, pulls: &[Pull]) -> StoreResult<()> {
        if pulls.is_empty() {
            return Ok(());
        }
        on_pool!(&self.db, |pool| {
            let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
            for pull in pulls {
                sqlx::query(
                    "UPDATE bouncers SET last_pull_at = $2, last_ip = $3, user_agent = $4 \
                     WHERE id = $1 AND (last_pull_at IS NULL OR last_pull_at < $2)",
                )
                .bind(pull.bouncer.as_uuid())
                .bind(pull.at)
                .bind(pull.ip.as_deref())
                .bind(pull.user_agent.as_deref())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
