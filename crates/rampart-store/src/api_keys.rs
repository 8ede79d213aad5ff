//! API keys, stored as a public prefix (to find the key) and a SHA-256 hash of the secret part.
//! Authentication reads a key together with its creator's current standing in the organisation,
//! in one query, so that a key never acts beyond what its creator may do now.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::identity::{ApiKey, NewApiKey, Role};
use rampart_core::{ApiKeyId, OrgId, UserId};
use uuid::Uuid;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::users::parse_role;
use crate::{Effects, EffectsOf, SqlStore, StoreError, StoreResult};

/// A key as authentication needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyForAuth {
    pub key: ApiKey,
    pub key_hash: String,
    /// The creator's current role in the key's organisation; `None` when the creator was deleted,
    /// is deactivated or is no longer a member.
    pub creator_role: Option<Role>,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn insert(
        &self,
        org: OrgId,
        new: &NewApiKey,
        prefix: &str,
        key_hash: &str,
        created_by: Option<UserId>,
        then: EffectsOf<'_, ApiKey>,
    ) -> StoreResult<ApiKey>;
    async fn list(&self, org: OrgId) -> StoreResult<Vec<ApiKey>>;
    async fn get(&self, org: OrgId, id: ApiKeyId) -> StoreResult<ApiKey>;
    /// Deleting a key revokes it at once.
    async fn delete(&self, org: OrgId, id: ApiKeyId, effects: &Effects) -> StoreResult<()>;
    /// The key with this prefix, whatever its organisation: authentication starts here.
    async fn find_for_auth(&self, prefix: &str) -> StoreResult<Option<KeyForAuth>>;
    /// The key by id, for a token obtained with it (`client_credentials`).
    async fn get_for_auth(&self, org: OrgId, id: ApiKeyId) -> StoreResult<Option<KeyForAuth>>;
    /// Records a use, at most once a minute per key so that a busy key does not write on every request.
    async fn touch(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()>;
}

const COLUMNS: &str = "id, org_id, name, prefix, role, created_by, created_at, last_used_at, expires_at";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    prefix: String,
    role: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl KeyRow {
    fn into_key(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            name: self.name,
            prefix: self.prefix,
            role: parse_role(&self.role)?,
            created_by: self.created_by.map(UserId::from_uuid),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    #[sqlx(flatten)]
    key: KeyRow,
    key_hash: String,
    creator_active: Option<bool>,
    creator_role: Option<String>,
}

impl AuthRow {
    fn into_auth(self) -> StoreResult<KeyForAuth> {
        let creator_role = match (self.creator_active, self.creator_role) {
            (Some(true), Some(role)) => Some(parse_role(&role)?),
            _ => None,
        };
        Ok(KeyForAuth { key: self.key.into_key()?, key_hash: self.key_hash, creator_role })
    }
}

/// A key with its hash and its creator's standing; the caller adds the `WHERE`.
fn auth_query() -> String {
    let columns = COLUMNS.split(", ").map(|c| format!("k.{c}")).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT {columns}, k.key_hash, u.is_active AS creator_active, m.role AS creator_role FROM api_keys k \
         LEFT JOIN users u ON u.id = k.created_by \
         LEFT JOIN memberships m ON m.user_id = k.created_by AND m.org_id = k.org_id"
    )
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn insert(
        &self,
        org: OrgId,
        new: &NewApiKey,
        prefix: &str,
        key_hash: &str,
        created_by: Option<UserId>,
        then: EffectsOf<'_, ApiKey>,
    ) -> StoreResult<ApiKey> {
        let sql = format!(
            "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role, created_by, created_at, last_used_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9) RETURNING {COLUMNS}"
        );
        let now = self.now();
        let value = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, KeyRow>(&sql)
                .bind(ApiKeyId::new().as_uuid())
                .bind(org.as_uuid())
                .bind(&new.name)
                .bind(prefix)
                .bind(key_hash)
                .bind(new.role.as_str())
                .bind(created_by.map(|id| id.as_uuid()))
                .bind(now)
                .bind(new.expires_at)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::conflict_on("prefix"))?
                .into_key()?,
            then
        );

        Ok(value)
    }

    async fn list(&self, org: OrgId) -> StoreResult<Vec<ApiKey>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY id");
        let rows =
            on_pool!(&self.db, |pool| sqlx::query_as::<_, KeyRow>(&sql).bind(org.as_uuid()).fetch_all(pool).await)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn get(&self, org: OrgId, id: ApiKeyId) -> StoreResult<ApiKey> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, KeyRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_key()
    }

    async fn delete(&self, org: OrgId, id: ApiKeyId, effects: &Effects) -> StoreResult<()> {
        self.delete_owned("api_keys", org, id.as_uuid(), effects).await
    }

    async fn find_for_auth(&self, prefix: &str) -> StoreResult<Option<KeyForAuth>> {
        let sql = format!("{} WHERE k.prefix = $1", auth_query());
        let row =
            on_pool!(&self.db, |pool| sqlx::query_as::<_, AuthRow>(&sql).bind(prefix).fetch_optional(pool).await)?;
        row.map(AuthRow::into_auth).transpose()
    }

    async fn get_for_auth(&self, org: OrgId, id: ApiKeyId) -> StoreResult<Option<KeyForAuth>> {
        let sql = format!("{} WHERE k.org_id = $1 AND k.id = $2", auth_query());
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AuthRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_optional(pool).await
        })?;
        row.map(AuthRow::into_auth).transpose()
    }

    async fn touch(&self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        let stale = now - chrono::Duration::minutes(1);
        on_pool!(&self.db, |pool| {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(id.as_uuid())
            .bind(now)
            .bind(stale)
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(())
    }
}
