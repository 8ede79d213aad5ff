//! Sensor nodes, their keys (a public prefix and a SHA-256 hash, as API keys), and the decoys
//! they reported touched.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::watch::{Decoy, NewNode, Node, NodeKind, NodeStatus};
use rampart_core::{NodeId, OrgId};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, EffectsOf, Seek, SqlStore, StoreError, StoreResult};

/// Which nodes to list; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct NodeFilter {
    pub kind: Option<NodeKind>,
    pub status: Option<NodeStatus>,
}

/// A change to a node; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct NodePatch {
    pub name: Option<String>,
    pub status: Option<NodeStatus>,
}

#[async_trait]
pub trait NodeStore: Send + Sync {
    async fn insert(
        &self,
        org: OrgId,
        new: &NewNode,
        key_prefix: &str,
        key_hash: &str,
        then: EffectsOf<'_, Node>,
    ) -> StoreResult<Node>;
    /// Oldest first, after `after` when given.
    async fn list(&self, org: OrgId, filter: &NodeFilter, seek: Seek<NodeId>) -> StoreResult<Vec<Node>>;
    async fn get(&self, org: OrgId, id: NodeId) -> StoreResult<Node>;
    async fn update(&self, org: OrgId, id: NodeId, patch: &NodePatch, effects: &Effects) -> StoreResult<Node>;
    /// Its events stay, without their node; its decoys go.
    async fn delete(&self, org: OrgId, id: NodeId, effects: &Effects) -> StoreResult<()>;
    /// Replaces the key: the old one stops working at once.
    async fn rotate_key(
        &self,
        org: OrgId,
        id: NodeId,
        key_prefix: &str,
        key_hash: &str,
        effects: &Effects,
    ) -> StoreResult<Node>;
    /// The node with this key prefix and its key hash, whatever its organisation: a sensor's
    /// authentication starts here.
    async fn find_by_key(&self, key_prefix: &str) -> StoreResult<Option<(Node, String)>>;
    /// The decoys the node reported touched, most recent first.
    async fn decoys(&self, org: OrgId, id: NodeId) -> StoreResult<Vec<Decoy>>;
}

const COLUMNS: &str =
    "id, org_id, name, kind, status, key_prefix, legacy_id, metadata, created_at, updated_at, last_seen_at";

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    kind: String,
    status: String,
    key_prefix: String,
    legacy_id: Option<String>,
    metadata: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
}

/// A new node's conflict, by what it shares with another: its name (in its organisation), its
/// legacy id (likewise), or its key (imported twice, or already another node's).
fn conflict(error: sqlx::Error) -> StoreError {
    let what = match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // PostgreSQL names the constraint; SQLite names the columns in its message.
            let names = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            if names.contains("legacy_id") {
                "legacy_id"
            } else if names.contains("key_prefix") {
                "key"
            } else {
                "name"
            }
        }
        _ => return StoreError::from(error),
    };
    StoreError::Conflict { what }
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("a stored node is invalid".into())
}

impl NodeRow {
    fn into_node(self) -> StoreResult<Node> {
        Ok(Node {
            id: NodeId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            name: self.name,
            kind: self.kind.parse().map_err(invalid)?,
            status: self.status.parse().map_err(invalid)?,
            key_prefix: self.key_prefix,
            legacy_id: self.legacy_id,
            metadata: self.metadata.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_seen_at: self.last_seen_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    #[sqlx(flatten)]
    node: NodeRow,
    key_hash: String,
}

#[async_trait]
impl NodeStore for SqlStore {
    async fn insert(
        &self,
        org: OrgId,
        new: &NewNode,
        key_prefix: &str,
        key_hash: &str,
        then: EffectsOf<'_, Node>,
    ) -> StoreResult<Node> {
        let sql = format!(
            "INSERT INTO nodes (id, org_id, name, kind, status, key_prefix, key_hash, legacy_id, metadata, created_at, updated_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $9, NULL) RETURNING {COLUMNS}"
        );
        let now = self.now();
        let value = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, NodeRow>(&sql)
                .bind(NodeId::new().as_uuid())
                .bind(org.as_uuid())
                .bind(&new.name)
                .bind(new.kind.as_str())
                .bind(key_prefix)
                .bind(key_hash)
                .bind(new.legacy_id.as_deref())
                .bind(Json(&new.metadata))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(conflict)?
                .into_node()?,
            then
        );

        Ok(value)
    }

    async fn list(&self, org: OrgId, filter: &NodeFilter, seek: Seek<NodeId>) -> StoreResult<Vec<Node>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM nodes WHERE org_id = $1 AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR id > $4) ORDER BY id LIMIT $5"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, NodeRow>(&sql)
                .bind(org.as_uuid())
                .bind(filter.kind.map(NodeKind::as_str))
                .bind(filter.status.map(NodeStatus::as_str))
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(NodeRow::into_node).collect()
    }

    async fn get(&self, org: OrgId, id: NodeId) -> StoreResult<Node> {
        let sql = format!("SELECT {COLUMNS} FROM nodes WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, NodeRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_node()
    }

    async fn update(&self, org: OrgId, id: NodeId, patch: &NodePatch, effects: &Effects) -> StoreResult<Node> {
        let sql = format!(
            "UPDATE nodes SET name = COALESCE($3, name), status = COALESCE($4, status), updated_at = $5 \
             WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let now = self.now();
        let value = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, NodeRow>(&sql)
                .bind(org.as_uuid())
                .bind(id.as_uuid())
                .bind(patch.name.as_deref())
                .bind(patch.status.map(NodeStatus::as_str))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::conflict_on("name"))?
                .into_node()?,
            |_: &Node| effects.clone()
        );

        Ok(value)
    }

    async fn delete(&self, org: OrgId, id: NodeId, effects: &Effects) -> StoreResult<()> {
        self.delete_owned("nodes", org, id.as_uuid(), effects).await
    }

    async fn rotate_key(
        &self,
        org: OrgId,
        id: NodeId,
        key_prefix: &str,
        key_hash: &str,
        effects: &Effects,
    ) -> StoreResult<Node> {
        let sql = format!(
            "UPDATE nodes SET key_prefix = $3, key_hash = $4, updated_at = $5 WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let now = self.now();
        let value = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, NodeRow>(&sql)
                .bind(org.as_uuid())
                .bind(id.as_uuid())
                .bind(key_prefix)
                .bind(key_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::conflict_on("key"))?
                .into_node()?,
            |_: &Node| effects.clone()
        );

        Ok(value)
    }

    async fn find_by_key(&self, key_prefix: &str) -> StoreResult<Option<(Node, String)>> {
        let sql = format!("SELECT {COLUMNS}, key_hash FROM nodes WHERE key_prefix = $1");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AuthRow>(&sql).bind(key_prefix).fetch_optional(pool).await
        })?;
        row.map(|row| Ok((row.node.into_node()?, row.key_hash))).transpose()
    }

    async fn decoys(&self, org: OrgId, id: NodeId) -> StoreResult<Vec<Decoy>> {
        self.get(org, id).await?;
        let rows: Vec<(Uuid, String, String, i64, DateTime<Utc>, DateTime<Utc>)> = on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT node_id, name, decoy_type, accesses, first_access, last_access FROM decoys \
                 WHERE org_id = $1 AND node_id = $2 ORDER BY last_access DESC, name",
            )
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(node_id, name, decoy_type, accesses, first_access, last_access)| Decoy {
                node_id: NodeId::from_uuid(node_id),
                name,
                decoy_type,
                accesses: u64::try_from(accesses).unwrap_or(0),
                first_access,
                last_access,
            })
            .collect())
    }
}
