//! Wire types of nodes, events, ingestion and alerts.

use chrono::{DateTime, Utc};
use rampart_core::watch::{Alert, Attacker, Decoy, Node, Reason};
use rampart_watch::Accepted;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::FieldErrorView;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "ssh-trap-1", "kind": "honeypot", "metadata": {"site": "lab"}}))]
pub struct NewNodeBody {
    #[schema(schema_with = crate::schemas::node_name)]
    pub name: String,
    /// `honeypot`, `agent` or `network`.
    #[schema(schema_with = crate::schemas::node_kinds)]
    pub kind: String,
    /// Free JSON object, at most 4 KB.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Moving from the replaced system: the node's id there (`node-` and 16 hex digits), which
    /// its deployed sensors name in their bodies. Unique in the organisation.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::legacy_node_id_or_null)]
    pub legacy_id: Option<String>,
    /// Moving from the replaced system: the node's key there (`nk_…`), kept so that deployed
    /// sensors keep working unchanged. Hashed as it arrives, never stored; without it a new key
    /// is made.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::imported_node_key_or_null)]
    pub key: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "inactive"}))]
pub struct NodePatchBody {
    #[schema(schema_with = crate::schemas::node_name_or_null)]
    pub name: Option<String>,
    /// `active` or `inactive`; an inactive node's events are refused.
    #[schema(schema_with = crate::schemas::node_statuses_or_null)]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NodeQuery {
    /// `honeypot`, `agent` or `network`.
    #[param(schema_with = crate::schemas::node_kinds)]
    pub kind: Option<String>,
    /// `active` or `inactive`.
    #[param(schema_with = crate::schemas::node_statuses)]
    pub status: Option<String>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "name": "ssh-trap-1", "kind": "honeypot", "status": "active",
    "key_prefix": "nk_Ab3dEf6hIj9k", "legacy_id": null, "metadata": {"site": "lab"}, "created_at": "2026-11-24T20:00:00Z",
    "updated_at": "2026-11-24T20:00:00Z", "last_seen_at": "2026-11-24T20:05:00Z"
}))]
pub struct NodeView {
    pub id: Uuid,
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    /// The public start of its key, to tell keys apart; the key itself is shown once. An
    /// imported key's is derived from it.
    pub key_prefix: String,
    /// Its id in the replaced system, when it was imported with one.
    pub legacy_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it last sent an event.
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl From<Node> for NodeView {
    fn from(node: Node) -> Self {
        Self {
            id: node.id.as_uuid(),
            name: node.name,
            kind: node.kind.as_str(),
            status: node.status.as_str(),
            key_prefix: format!("{}{}", rampart_identity::opaque::NODE_KEY_PREFIX, node.key_prefix),
            legacy_id: node.legacy_id,
            metadata: node.metadata,
            created_at: node.created_at,
            updated_at: node.updated_at,
            last_seen_at: node.last_seen_at,
        }
    }
}

/// A node with its key: shown here once, stored only as a hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeWithKey {
    #[serde(flatten)]
    pub node: NodeView,
    /// Send as `X-Node-Key`. It cannot be shown again: rotate it if lost.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecoyView {
    pub name: String,
    #[serde(rename = "type")]
    pub decoy_type: String,
    pub accesses: u64,
    pub first_access: DateTime<Utc>,
    pub last_access: DateTime<Utc>,
}

impl From<Decoy> for DecoyView {
    fn from(decoy: Decoy) -> Self {
        Self {
            name: decoy.name,
            decoy_type: decoy.decoy_type,
            accesses: decoy.accesses,
            first_access: decoy.first_access,
            last_access: decoy.last_access,
        }
    }
}

/// One rule of the score.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonView {
    pub rule: String,
    pub points: f64,
    pub detail: String,
}

impl From<Reason> for ReasonView {
    fn from(reason: Reason) -> Self {
        Self { rule: reason.rule, points: reason.points, detail: reason.detail }
    }
}

/// An event taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedView {
    /// Its place in the request, from 0.
    pub index: usize,
    pub id: Uuid,
    pub score: f64,
    pub attack_type: String,
    /// `builtin` or `model`.
    pub scorer: &'static str,
    pub reasons: Vec<ReasonView>,
    /// The alert it joined or raised.
    pub alert_id: Option<Uuid>,
    pub alert_raised: bool,
}

impl From<Accepted> for AcceptedView {
    fn from(accepted: Accepted) -> Self {
        Self {
            index: accepted.index,
            id: accepted.id.as_uuid(),
            score: accepted.score.score,
            attack_type: accepted.score.attack_type,
            scorer: accepted.scorer,
            reasons: accepted.score.reasons.into_iter().map(ReasonView::from).collect(),
            alert_id: accepted.alert.map(|(id, _)| id.as_uuid()),
            alert_raised: accepted.alert.is_some_and(|(_, raised)| raised),
        }
    }
}

/// An event refused, by its place in the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedView {
    pub index: usize,
    pub errors: Vec<FieldErrorView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "accepted": [{"index": 0, "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "score": 6.0, "attack_type": "credential_attack",
                  "scorer": "builtin", "reasons": [{"rule": "service", "points": 2.0, "detail": "visited ssh"}],
                  "alert_id": null, "alert_raised": false}],
    "rejected": [{"index": 1, "errors": [{"field": "source_ip", "message": "must be an IPv4 or IPv6 address"}]}]
}))]
pub struct IngestView {
    /// Committed before this answer was sent.
    pub accepted: Vec<AcceptedView>,
    pub rejected: Vec<RejectedView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "source_ip": "203.0.113.7", "attack_type": "credential_attack",
    "status": "open", "events": 12, "max_score": 8.0, "node_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13",
    "first_seen": "2026-11-24T20:00:00Z", "last_seen": "2026-11-24T20:40:00Z", "created_at": "2026-11-24T20:00:01Z",
    "updated_at": "2026-11-24T20:40:01Z", "status_by": null, "status_note": ""
}))]
pub struct AlertView {
    pub id: Uuid,
    pub source_ip: Option<String>,
    pub attack_type: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: &'static str,
    /// Events grouped into it.
    pub events: u64,
    pub max_score: f64,
    /// The node of the event that raised it.
    pub node_id: Option<Uuid>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who last changed its status.
    pub status_by: Option<Uuid>,
    pub status_note: String,
}

impl From<Alert> for AlertView {
    fn from(alert: Alert) -> Self {
        Self {
            id: alert.id.as_uuid(),
            source_ip: alert.source_ip.map(|ip| ip.to_string()),
            attack_type: alert.attack_type,
            status: alert.status.as_str(),
            events: alert.events,
            max_score: alert.max_score,
            node_id: alert.node_id.map(|id| id.as_uuid()),
            first_seen: alert.first_seen,
            last_seen: alert.last_seen,
            created_at: alert.created_at,
            updated_at: alert.updated_at,
            status_by: alert.status_by.map(|id| id.as_uuid()),
            status_note: alert.status_note,
        }
    }
}

/// What one source address did to the organisation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "source_ip": "203.0.113.7", "events": 42, "alerts": 3, "avg_score": 5.25, "max_score": 9.0,
    "first_seen": "2026-11-24T20:00:00Z", "last_seen": "2026-11-24T21:10:00Z"
}))]
pub struct AttackerView {
    pub source_ip: String,
    pub events: u64,
    /// Alerts its events raised.
    pub alerts: u64,
    /// The average score of its events, to two decimals.
    pub avg_score: f64,
    pub max_score: f64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl From<Attacker> for AttackerView {
    fn from(attacker: Attacker) -> Self {
        Self {
            source_ip: attacker.source_ip.to_string(),
            events: attacker.events,
            alerts: attacker.alerts,
            avg_score: attacker.avg_score,
            max_score: attacker.max_score,
            first_seen: attacker.first_seen,
            last_seen: attacker.last_seen,
        }
    }
}
