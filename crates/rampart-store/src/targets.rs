//! An organisation's targets. Bulk imports run in one transaction; a value already present is
//! reported as a duplicate, not stored twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::targets::{NewTarget, PortRanges, ScopeTarget, TargetKind, TargetValue};
use rampart_core::{OrgId, TargetId, UserId};
use uuid::Uuid;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, EffectsOf, Seek, SqlStore, StoreError, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTarget {
    pub id: TargetId,
    pub org_id: OrgId,
    pub target: NewTarget,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which targets to list; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct TargetFilter {
    pub kind: Option<TargetKind>,
    pub exclude: Option<bool>,
    pub tag: Option<String>,
    /// A part of the value, such as `example.com` or `10.0.`.
    pub search: Option<String>,
}

/// Changes to a target; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TargetPatch {
    /// `Some(None)` clears the ports: every port.
    pub ports: Option<Option<PortRanges>>,
    pub exclude: Option<bool>,
    pub note: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[async_trait]
pub trait TargetStore: Send + Sync {
    /// Conflict on `value` when the organisation has it already (as an inclusion or exclusion alike).
    async fn insert(
        &self,
        org: OrgId,
        target: &NewTarget,
        created_by: Option<UserId>,
        then: EffectsOf<'_, StoredTarget>,
    ) -> StoreResult<StoredTarget>;
    /// Inserts what is new, in one transaction; `None` in the answer marks a duplicate.
    async fn insert_many(
        &self,
        org: OrgId,
        targets: &[NewTarget],
        created_by: Option<UserId>,
        then: EffectsOf<'_, Vec<Option<StoredTarget>>>,
    ) -> StoreResult<Vec<Option<StoredTarget>>>;
    async fn get(&self, org: OrgId, id: TargetId) -> StoreResult<StoredTarget>;
    async fn list(&self, org: OrgId, filter: &TargetFilter, seek: Seek<TargetId>) -> StoreResult<Vec<StoredTarget>>;
    async fn update(
        &self,
        org: OrgId,
        id: TargetId,
        patch: &TargetPatch,
        then: EffectsOf<'_, StoredTarget>,
    ) -> StoreResult<StoredTarget>;
    async fn delete(&self, org: OrgId, id: TargetId, effects: &Effects) -> StoreResult<()>;
    /// Every target of the organisation, to build its scope.
    async fn scope(&self, org: OrgId) -> StoreResult<Vec<ScopeTarget>>;
}

/// Binds the ten values of an inserted target, in column order (a macro: the query type differs per backend).
macro_rules! bind_target {
    ($query:expr, $org:expr, $target:expr, $created_by:expr, $now:expr) => {
        $query
            .bind(TargetId::new().as_uuid())
            .bind($org.as_uuid())
            .bind($target.value.kind().as_str())
            .bind($target.value.to_string())
            .bind($target.ports.as_ref().map(PortRanges::to_string))
            .bind($target.exclude)
            .bind($target.note.as_str())
            .bind(join_tags(&$target.tags))
            .bind($created_by.map(|id: UserId| id.as_uuid()))
            .bind($now)
    };
}

const COLUMNS: &str = "id, org_id, kind, value, ports, exclude, note, tags, created_by, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: Uuid,
    org_id: Uuid,
    value: String,
    ports: Option<String>,
    exclude: bool,
    note: String,
    tags: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("a stored target is invalid".into())
}

impl TargetRow {
    fn into_target(self) -> StoreResult<StoredTarget> {
        let ports = self.ports.as_deref().map(PortRanges::parse).transpose().map_err(invalid)?;
        Ok(StoredTarget {
            id: TargetId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            target: NewTarget {
                value: TargetValue::parse(&self.value).map_err(invalid)?,
                ports,
                exclude: self.exclude,
                note: self.note,
                tags: split_tags(&self.tags),
            },
            created_by: self.created_by.map(UserId::from_uuid),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn join_tags(tags: &[String]) -> String {
    if tags.is_empty() { String::new() } else { format!(",{},", tags.join(",")) }
}

fn split_tags(text: &str) -> Vec<String> {
    text.split(',').filter(|tag| !tag.is_empty()).map(str::to_owned).collect()
}

#[async_trait]
impl TargetStore for SqlStore {
    async fn insert(
        &self,
        org: OrgId,
        target: &NewTarget,
        created_by: Option<UserId>,
        then: EffectsOf<'_, StoredTarget>,
    ) -> StoreResult<StoredTarget> {
        let sql = format!(
            "INSERT INTO targets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {COLUMNS}"
        );
        let now = self.now();
        Ok(unit_of_work!(
            self,
            |tx| bind_target!(sqlx::query_as::<_, TargetRow>(&sql), org, target, created_by, now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                    _ => StoreError::conflict_on("value")(error),
                })?
                .into_target()?,
            then
        ))
    }

    async fn insert_many(
        &self,
        org: OrgId,
        targets: &[NewTarget],
        created_by: Option<UserId>,
        then: EffectsOf<'_, Vec<Option<StoredTarget>>>,
    ) -> StoreResult<Vec<Option<StoredTarget>>> {
        let sql = format!(
            "INSERT INTO targets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (org_id, value, exclude) DO NOTHING RETURNING {COLUMNS}"
        );
        let now = self.now();
        Ok(unit_of_work!(
            self,
            |tx| {
                let mut stored = Vec::with_capacity(targets.len());
                for target in targets {
                    let row = bind_target!(sqlx::query_as::<_, TargetRow>(&sql), org, target, created_by, now)
                        .fetch_optional(&mut *tx)
                        .await?;
                    stored.push(row.map(TargetRow::into_target).transpose()?);
                }
                stored
            },
            then
        ))
    }

    async fn get(&self, org: OrgId, id: TargetId) -> StoreResult<StoredTarget> {
        let sql = format!("SELECT {COLUMNS} FROM targets WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, TargetRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_target()
    }

    async fn list(&self, org: OrgId, filter: &TargetFilter, seek: Seek<TargetId>) -> StoreResult<Vec<StoredTarget>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM targets WHERE org_id = $1 AND id > $2 AND ($3 IS NULL OR kind = $3) \
             AND ($4 IS NULL OR exclude = $4) AND ($5 IS NULL OR tags LIKE $5 ESCAPE '\\') \
             AND ($6 IS NULL OR value LIKE $6 ESCAPE '\\') \
             ORDER BY id LIMIT $7"
        );
        // The filter is literal text: LIKE's own characters are escaped.
        let like = |text: &str| {
            let escaped: String = text
                .chars()
                .flat_map(|c| if matches!(c, '\\' | '%' | '_') { vec!['\\', c] } else { vec![c] })
                .collect();
            format!("%{escaped}%")
        };
        let tag = filter.tag.as_deref().map(|tag| like(&format!(",{},", tag.trim().to_lowercase())));
        let search = filter.search.as_deref().map(|text| like(&text.trim().to_lowercase()));
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, TargetRow>(&sql)
                .bind(org.as_uuid())
                .bind(seek.from.map(|id| id.as_uuid()).unwrap_or(Uuid::nil()))
                .bind(filter.kind.map(TargetKind::as_str))
                .bind(filter.exclude)
                .bind(tag.as_deref())
                .bind(search.as_deref())
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(TargetRow::into_target).collect()
    }

    async fn update(
        &self,
        org: OrgId,
        id: TargetId,
        patch: &TargetPatch,
        then: EffectsOf<'_, StoredTarget>,
    ) -> StoreResult<StoredTarget> {
        let current = self.get(org, id).await?;
        let mut target = current.target;
        if let Some(ports) = &patch.ports {
            target.ports = ports.clone();
        }
        if let Some(exclude) = patch.exclude {
            target.exclude = exclude;
        }
        if let Some(note) = &patch.note {
            target.note = note.clone();
        }
        if let Some(tags) = &patch.tags {
            target.tags = tags.clone();
        }
        let sql = format!(
            "UPDATE targets SET ports = $3, exclude = $4, note = $5, tags = $6, updated_at = $7 \
             WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let now = self.now();
        Ok(unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, TargetRow>(&sql)
                .bind(org.as_uuid())
                .bind(id.as_uuid())
                .bind(target.ports.as_ref().map(PortRanges::to_string))
                .bind(target.exclude)
                .bind(&target.note)
                .bind(join_tags(&target.tags))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::conflict_on("value"))?
                .into_target()?,
            then
        ))
    }

    async fn delete(&self, org: OrgId, id: TargetId, effects: &Effects) -> StoreResult<()> {
        self.delete_owned("targets", org, id.as_uuid(), effects).await
    }

    async fn scope(&self, org: OrgId) -> StoreResult<Vec<ScopeTarget>> {
        let sql = format!("SELECT {COLUMNS} FROM targets WHERE org_id = $1");
        let rows =
            on_pool!(&self.db, |pool| sqlx::query_as::<_, TargetRow>(&sql).bind(org.as_uuid()).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|row| {
                let stored = row.into_target()?;
                Ok(ScopeTarget {
                    value: stored.target.value,
                    ports: stored.target.ports,
                    exclude: stored.target.exclude,
                })
            })
            .collect()
    }
}
