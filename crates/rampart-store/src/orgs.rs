//! Organisations: the tenants themselves.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::OrgId;
use rampart_core::orgs::{NewOrganisation, Organisation, Slug};
use uuid::Uuid;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, SqlStore, StoreError, StoreResult};

#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Fails with a conflict on `slug` when another organisation has it.
    async fn insert(&self, new: &NewOrganisation) -> StoreResult<Organisation>;
    async fn get(&self, id: OrgId) -> StoreResult<Organisation>;
    async fn find_by_slug(&self, slug: &Slug) -> StoreResult<Option<Organisation>>;
    /// Renames; conflict on `slug` when another organisation has the new one.
    async fn update(&self, id: OrgId, changes: &NewOrganisation, effects: &Effects) -> StoreResult<Organisation>;
}

const COLUMNS: &str = "id, name, slug, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: Uuid,
    name: String,
    slug: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl OrgRow {
    fn into_org(self) -> StoreResult<Organisation> {
        let slug = Slug::parse(&self.slug).map_err(|_| StoreError::Internal("stored slug is invalid".into()))?;
        Ok(Organisation {
            id: OrgId::from_uuid(self.id),
            name: self.name,
            slug,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[async_trait]
impl OrgStore for SqlStore {
    async fn insert(&self, new: &NewOrganisation) -> StoreResult<Organisation> {
        let sql = format!("INSERT INTO organisations ({COLUMNS}) VALUES ($1, $2, $3, $4, $4) RETURNING {COLUMNS}");
        let now = self.now();
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, OrgRow>(&sql)
                .bind(OrgId::new().as_uuid())
                .bind(&new.name)
                .bind(new.slug.as_str())
                .bind(now)
                .fetch_one(pool)
                .await
        })
        .map_err(StoreError::conflict_on("slug"))?;
        row.into_org()
    }

    async fn get(&self, id: OrgId) -> StoreResult<Organisation> {
        let sql = format!("SELECT {COLUMNS} FROM organisations WHERE id = $1");
        let row =
            on_pool!(&self.db, |pool| { sqlx::query_as::<_, OrgRow>(&sql).bind(id.as_uuid()).fetch_one(pool).await })?;
        row.into_org()
    }

    async fn update(&self, id: OrgId, changes: &NewOrganisation, effects: &Effects) -> StoreResult<Organisation> {
        let sql =
            format!("UPDATE organisations SET name = $2, slug = $3, updated_at = $4 WHERE id = $1 RETURNING {COLUMNS}");
        let now = self.now();
        let value = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, OrgRow>(&sql)
                .bind(id.as_uuid())
                .bind(&changes.name)
                .bind(changes.slug.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::conflict_on("slug"))?
                .into_org()?,
            |_: &Organisation| effects.clone()
        );

        Ok(value)
    }

    async fn find_by_slug(&self, slug: &Slug) -> StoreResult<Option<Organisation>> {
        let sql = format!("SELECT {COLUMNS} FROM organisations WHERE slug = $1");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, OrgRow>(&sql).bind(slug.as_str()).fetch_optional(pool).await
        })?;
        row.map(OrgRow::into_org).transpose()
    }
}
