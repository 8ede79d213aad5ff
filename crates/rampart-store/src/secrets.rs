//! Server-wide secrets such as the token-signing key: generated once and shared by every server
//! on the same database. Values are never logged and never leave the process through the API.

use async_trait::async_trait;

use crate::db::on_pool;
use crate::{SqlStore, StoreResult};

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret stored under `name`, storing `candidate` first if there is none. When several
    /// servers start at once, all of them get the value of whichever wrote first.
    async fn get_or_insert(&self, name: &str, candidate: &str) -> StoreResult<String>;
}

const INSERT: &str =
    "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING";
const SELECT: &str = "SELECT value FROM server_secrets WHERE name = $1";

#[async_trait]
impl SecretStore for SqlStore {
    async fn get_or_insert(&self, name: &str, candidate: &str) -> StoreResult<String> {
        let now = self.now();
        on_pool!(&self.db, |pool| {
            sqlx::query(INSERT).bind(name).bind(candidate).bind(now).execute(pool).await.map(drop)
        })?;
        let value: (String,) = on_pool!(&self.db, |pool| sqlx::query_as(SELECT).bind(name).fetch_one(pool).await)?;
        Ok(value.0)
    }
}
