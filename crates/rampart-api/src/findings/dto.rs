//! What `/api/v1/findings` reads and answers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rampart_core::findings::{HistoryEntry, TrackedFinding};
use rampart_store::FindingSummary;
use rampart_store::findings::SeenIn;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "fingerprint": "9f2c…", "severity": "high", "status": "open",
    "regression": false, "check_id": "tcp_scan.exposed_redis", "title": "Redis exposed", "asset": "10.0.0.5",
    "location": "tcp/6379", "detail": "TCP port 6379 answers", "tools": ["tcp_scan"],
    "first_seen": "2026-11-24T20:00:00Z", "last_seen": "2026-11-25T20:00:00Z", "occurrences": 2,
    "due_at": "2026-12-24T20:00:00Z", "overdue": false, "assignee": null, "accepted_until": null,
    "last_execution": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "updated_at": "2026-11-25T20:00:00Z"
}))]
pub struct FindingView {
    pub id: Uuid,
    /// SHA-256 of check id, asset and location: the same issue from any run or tool.
    pub fingerprint: String,
    #[schema(schema_with = crate::schemas::severities)]
    pub severity: &'static str,
    #[schema(schema_with = crate::schemas::finding_statuses)]
    pub status: &'static str,
    /// Resolved once, then seen again.
    pub regression: bool,
    pub check_id: String,
    pub title: String,
    pub asset: String,
    pub location: String,
    pub detail: String,
    /// The tools that saw it, in the order they first did.
    pub tools: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Runs that saw it.
    pub occurrences: u64,
    /// When it is due by its severity's service level (critical 7 days, high 30, medium 90, low
    /// 120); none for informational findings.
    pub due_at: Option<DateTime<Utc>>,
    /// Still open past its due date.
    pub overdue: bool,
    pub assignee: Option<Uuid>,
    /// Until when an accepted risk stays accepted.
    pub accepted_until: Option<DateTime<Utc>>,
    /// The last run that saw it.
    pub last_execution: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

impl FindingView {
    /// The finding as it stands at `now`.
    pub fn at(finding: TrackedFinding, now: DateTime<Utc>) -> Self {
        Self {
            id: finding.id.as_uuid(),
            due_at: finding.due(),
            overdue: finding.is_overdue(now),
            fingerprint: finding.fingerprint,
            severity: finding.severity.as_str(),
            status: finding.status.as_str(),
            regression: finding.regression,
            check_id: finding.check_id,
            title: finding.title,
            asset: finding.asset,
            location: finding.location,
            detail: finding.detail,
            tools: finding.tools,
            first_seen: finding.first_seen,
            last_seen: finding.last_seen,
            occurrences: finding.occurrences,
            assignee: finding.assignee.map(|id| id.as_uuid()),
            accepted_until: finding.accepted_until,
            last_execution: finding.last_execution.map(|id| id.as_uuid()),
            updated_at: finding.updated_at,
        }
    }
}

/// One change to a finding: who, when, what and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub at: DateTime<Utc>,
    /// `user`, `api_key` or `system` (a run, or an acceptance running out).
    pub actor_kind: &'static str,
    pub actor_id: Option<Uuid>,
    /// The status it took, when it changed.
    #[schema(schema_with = crate::schemas::finding_statuses)]
    pub status: Option<&'static str>,
    /// Whether the assignee changed, and to whom (`null` with `assigned: true`: unassigned).
    pub assigned: bool,
    pub assignee: Option<Uuid>,
    pub note: String,
}

impl From<HistoryEntry> for HistoryView {
    fn from(entry: HistoryEntry) -> Self {
        Self {
            at: entry.at,
            actor_kind: entry.actor.kind().as_str(),
            actor_id: entry.actor.stored_id(),
            status: entry.status.map(|status| status.as_str()),
            assigned: entry.assignee.is_some(),
            assignee: entry.assignee.flatten().map(|id| id.as_uuid()),
            note: entry.note,
        }
    }
}

/// A run that saw a finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub execution: Uuid,
    pub tool: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingDetail {
    #[serde(flatten)]
    pub finding: FindingView,
    /// Who changed it and why, oldest first (at most 100 entries).
    pub history: Vec<HistoryView>,
    /// The runs that saw it, newest first (at most 100).
    pub runs: Vec<RunView>,
}

impl FindingDetail {
    pub fn new(finding: TrackedFinding, history: Vec<HistoryEntry>, runs: Vec<SeenIn>, now: DateTime<Utc>) -> Self {
        Self {
            finding: FindingView::at(finding, now),
            history: history.into_iter().map(HistoryView::from).collect(),
            runs: runs
                .into_iter()
                .map(|run| RunView { execution: run.execution.as_uuid(), tool: run.tool, at: run.at })
                .collect(),
        }
    }
}

/// A change to findings; what is left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "accepted", "accepted_until": "2027-03-01T00:00:00Z", "note": "behind the VPN until the migration"}))]
pub struct FindingPatchBody {
    /// `open`, `acknowledged`, `resolved`, `false_positive` or `accepted`. Closing a finding
    /// (resolved, false positive, accepted) needs a note saying why.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::finding_statuses)]
    pub status: Option<String>,
    /// With `accepted` only, and then required: until when the risk is accepted (within a year);
    /// the finding is open again after it.
    #[serde(default)]
    pub accepted_until: Option<DateTime<Utc>>,
    /// A member of the organisation, or `null` to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee: Option<Option<Uuid>>,
    /// Why (at most 2,000 characters); kept in the finding's history and the audit log.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::finding_note)]
    pub note: Option<String>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<Uuid>>, D::Error> {
    Option::<Uuid>::deserialize(deserializer).map(Some)
}

/// The same change to many findings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ids": ["0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12"], "status": "false_positive", "note": "our honeypot"}))]
pub struct FindingBulkBody {
    /// 1 to 1,000 findings of the organisation (one named twice is changed once).
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<Uuid>,
    /// As in a change to one finding.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::finding_statuses)]
    pub status: Option<String>,
    #[serde(default)]
    pub accepted_until: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee: Option<Option<Uuid>>,
    #[serde(default)]
    #[schema(schema_with = crate::schemas::finding_note)]
    pub note: Option<String>,
}

impl FindingBulkBody {
    /// The change it asks of each finding.
    pub fn patch(self) -> FindingPatchBody {
        FindingPatchBody {
            status: self.status,
            accepted_until: self.accepted_until,
            assignee: self.assignee,
            note: self.note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "total": 3, "by_severity": {"high": 2, "low": 1}, "by_status": {"open": 3}, "by_tool": {"tcp_scan": 3},
    "by_asset": [{"asset": "10.0.0.5", "count": 2}], "overdue": 0
}))]
pub struct FindingSummaryView {
    pub total: u64,
    pub by_severity: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_tool: BTreeMap<String, u64>,
    /// The assets with the most findings, most first (at most 20).
    pub by_asset: Vec<AssetCount>,
    /// Still open past their due date.
    pub overdue: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssetCount {
    pub asset: String,
    pub count: u64,
}

impl From<FindingSummary> for FindingSummaryView {
    fn from(summary: FindingSummary) -> Self {
        Self {
            total: summary.total,
            by_severity: summary.by_severity,
            by_status: summary.by_status,
            by_tool: summary.by_tool,
            by_asset: summary.by_asset.into_iter().map(|(asset, count)| AssetCount { asset, count }).collect(),
            overdue: summary.overdue,
        }
    }
}
