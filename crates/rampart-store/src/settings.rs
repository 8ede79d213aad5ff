//! Per-organisation settings: a JSON value under a validated key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::OrgId;
use rampart_core::settings::SettingKey;
use serde_json::Value;
use sqlx::types::Json;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, SqlStore, StoreError, StoreResult};

#[derive(Clone, Debug, PartialEq)]
pub struct StoredSetting {
    pub key: SettingKey,
    pub value: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait SettingStore: Send + Sync {
    /// Creates or replaces the value; the creation time of an existing setting is kept.
    async fn put(&self, org: OrgId, key: &SettingKey, value: &Value, effects: &Effects) -> StoreResult<StoredSetting>;
    async fn find(&self, org: OrgId, key: &SettingKey) -> StoreResult<Option<StoredSetting>>;
    /// Every setting of the organisation, by key.
    async fn list(&self, org: OrgId) -> StoreResult<Vec<StoredSetting>>;
    /// Fails with `NotFound` when the organisation has no such setting.
    async fn delete(&self, org: OrgId, key: &SettingKey, effects: &Effects) -> StoreResult<()>;
}

#[derive(sqlx::FromRow)]
struct SettingRow {
    key: String,
    value: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl SettingRow {
    fn into_setting(self) -> StoreResult<StoredSetting> {
        let key =
            SettingKey::parse(&self.key).map_err(|_| StoreError::Internal("stored setting key is invalid".into()))?;
        Ok(StoredSetting { key, value: self.value.0, created_at: self.created_at, updated_at: self.updated_at })
    }
}

// Upserts are portable here: SQLite (3.24+) and PostgreSQL share the ON CONFLICT form.
const PUT: &str = "INSERT INTO settings (org_id, key, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (org_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at \
     RETURNING key, value, created_at, updated_at";
const FIND: &str = "SELECT key, value, created_at, updated_at FROM settings WHERE org_id = $1 AND key = $2";
const LIST: &str = "SELECT key, value, created_at, updated_at FROM settings WHERE org_id = $1 ORDER BY key";
const DELETE: &str = "DELETE FROM settings WHERE org_id = $1 AND key = $2";

#[async_trait]
impl SettingStore for SqlStore {
    async fn put(&self, org: OrgId, key: &SettingKey, value: &Value, effects: &Effects) -> StoreResult<StoredSetting> {
        let now = self.now();
        Ok(unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, SettingRow>(PUT)
                .bind(org.as_uuid())
                .bind(key.as_str())
                .bind(Json(value))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|error| match &error {
                    // The only foreign key is the organisation: writing under an unknown one is a missing tenant.
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                    _ => StoreError::from(error),
                })?
                .into_setting()?,
            |_: &StoredSetting| effects.clone()
        ))
    }

    async fn find(&self, org: OrgId, key: &SettingKey) -> StoreResult<Option<StoredSetting>> {
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, SettingRow>(FIND).bind(org.as_uuid()).bind(key.as_str()).fetch_optional(pool).await
        })?;
        row.map(SettingRow::into_setting).transpose()
    }

    async fn list(&self, org: OrgId) -> StoreResult<Vec<StoredSetting>> {
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, SettingRow>(LIST).bind(org.as_uuid()).fetch_all(pool).await
        })?;
        rows.into_iter().map(SettingRow::into_setting).collect()
    }

    async fn delete(&self, org: OrgId, key: &SettingKey, effects: &Effects) -> StoreResult<()> {
        unit_of_work!(
            self,
            |tx| {
                let done =
                    sqlx::query(DELETE).bind(org.as_uuid()).bind(key.as_str()).execute(&mut *tx).await?.rows_affected();
                if done == 0 {
                    return Err(StoreError::NotFound);
                }
            },
            |_: &()| effects.clone()
        );
        Ok(())
    }
}
