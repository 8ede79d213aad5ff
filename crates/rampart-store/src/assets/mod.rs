//! An organisation's inventory: the assets its runs have seen, listed with filters; a run's finish
//! keeps it (see [`track`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::assets::{Asset, AssetKey, AssetKind};
use rampart_core::output::Artifact;
use rampart_core::{AssetId, ExecutionId, OrgId};
use sqlx::types::Json;
use uuid::Uuid;

pub(crate) mod track;

use crate::db::on_pool;
use crate::{Seek, SqlStore, StoreError, StoreResult};

/// Which assets; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct AssetFilter {
    pub kind: Option<AssetKind>,
    /// Standing on this host (a host, its services, the URLs and certificates on it).
    pub host: Option<String>,
    /// In its value, whatever the case.
    pub text: Option<String>,
    /// Gone (a closed port) or not.
    pub gone: Option<bool>,
    /// Seen since.
    pub since: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AssetStore: Send + Sync {
    /// Oldest first, after `from` when given.
    async fn list(&self, org: OrgId, filter: &AssetFilter, seek: Seek<AssetId>) -> StoreResult<Vec<Asset>>;
    async fn get(&self, org: OrgId, id: AssetId) -> StoreResult<Asset>;
}

const COLUMNS: &str = "id, kind, value, host, data, gone, first_seen, last_seen, last_execution_id";

#[derive(sqlx::FromRow)]
struct AssetRow {
    id: Uuid,
    kind: String,
    value: String,
    host: String,
    data: Json<Artifact>,
    gone: bool,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    last_execution_id: Option<Uuid>,
}

impl AssetRow {
    fn into_asset(self) -> StoreResult<Asset> {
        Ok(Asset {
            id: AssetId::from_uuid(self.id),
            key: AssetKey {
                kind: self.kind.parse().map_err(|_| StoreError::Internal("a stored asset is invalid".into()))?,
                value: self.value,
                host: self.host,
            },
            data: self.data.0,
            gone: self.gone,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            last_execution: self.last_execution_id.map(ExecutionId::from_uuid),
        })
    }
}

#[async_trait]
impl AssetStore for SqlStore {
    async fn list(&self, org: OrgId, filter: &AssetFilter, seek: Seek<AssetId>) -> StoreResult<Vec<Asset>> {
        let rows = on_pool!(&self.db, |pool| {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM assets WHERE org_id = "));
            query.push_bind(org.as_uuid());
            if let Some(kind) = filter.kind {
                query.push(" AND kind = ").push_bind(kind.as_str());
            }
            if let Some(host) = &filter.host {
                query.push(" AND host = ").push_bind(host.trim().to_lowercase());
            }
            if let Some(text) = &filter.text {
                let escaped: String = text
                    .to_lowercase()
                    .chars()
                    .flat_map(|c| if matches!(c, '\\' | '%' | '_') { vec!['\\', c] } else { vec![c] })
                    .collect();
                query.push(" AND lower(value) LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
            }
            if let Some(gone) = filter.gone {
                query.push(" AND gone = ").push_bind(gone);
            }
            if let Some(since) = filter.since {
                query.push(" AND last_seen >= ").push_bind(since);
            }
            if let Some(from) = seek.from {
                query.push(" AND id > ").push_bind(from.as_uuid());
            }
            query.push(" ORDER BY id LIMIT ").push_bind(i64::from(seek.limit));
            query.build_query_as::<AssetRow>().fetch_all(pool).await
        })?;
        rows.into_iter().map(AssetRow::into_asset).collect()
    }

    async fn get(&self, org: OrgId, id: AssetId) -> StoreResult<Asset> {
        let sql = format!("SELECT {COLUMNS} FROM assets WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AssetRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_optional(pool).await
        })?;
        row.ok_or(StoreError::NotFound)?.into_asset()
    }
}
