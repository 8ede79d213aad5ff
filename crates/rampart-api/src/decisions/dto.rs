//! What the decisions, allowlist and bouncer routes read and write.

use chrono::{DateTime, Utc};
use rampart_core::watch::decisions::{AllowEntry, Bouncer, Decision, DecisionInput, go_duration};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A decision as an analyst writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": "203.0.113.7", "kind": "ban", "duration": "4h", "scenario": "ssh-bruteforce"}))]
pub struct NewDecisionBody {
    /// An address, or a network no wider than a /8 (IPv4) or a /32 (IPv6).
    #[schema(schema_with = crate::schemas::decision_value)]
    pub value: String,
    /// `ban` (the default), `captcha` or `throttle`.
    #[schema(schema_with = crate::schemas::decision_kinds_or_null)]
    pub kind: Option<String>,
    /// How long from now, as Go writes durations and days (`4h`, `1h30m`, `7d`); or `until`;
    /// neither is 4 hours.
    #[schema(schema_with = crate::schemas::duration_or_null)]
    pub duration: Option<String>,
    /// When it ends, within ten years.
    pub until: Option<DateTime<Utc>>,
    /// What caused it, as bouncers show it (`ssh-bruteforce`); `rampart/<origin>` by default.
    #[schema(schema_with = crate::schemas::scenario_or_null)]
    pub scenario: Option<String>,
    /// Why, in words.
    #[schema(schema_with = crate::schemas::decision_note_or_null)]
    pub reason: Option<String>,
}

impl From<NewDecisionBody> for DecisionInput {
    fn from(body: NewDecisionBody) -> Self {
        Self {
            value: body.value,
            kind: body.kind,
            duration: body.duration,
            until: body.until,
            scenario: body.scenario,
            reason: body.reason,
        }
    }
}

/// Decisions imported at once, all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    #[schema(min_items = 1, max_items = 10000)]
    pub decisions: Vec<NewDecisionBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// How many decisions were made.
    pub created: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// How many decisions were ended.
    pub deleted: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "seq": 42, "kind": "ban", "scope": "ip", "value": "203.0.113.7",
    "origin": "manual", "scenario": "ssh-bruteforce", "reason": null, "alert_id": null, "created_by": null,
    "created_at": "2026-12-03T10:00:00Z", "until": "2026-12-03T14:00:00Z", "deleted_at": null, "active": true
}))]
pub struct DecisionView {
    pub id: Uuid,
    /// The number bouncers know it by.
    pub seq: i64,
    pub kind: &'static str,
    /// `ip` or `range`.
    pub scope: &'static str,
    pub value: String,
    /// `manual`, `policy`, `feed` or `import`.
    pub origin: &'static str,
    pub scenario: String,
    pub reason: Option<String>,
    /// The alert that caused it, when a policy decided.
    pub alert_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// When it was deleted before its end.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Whether firewalls apply it now.
    pub active: bool,
}

impl DecisionView {
    pub fn of(decision: Decision, now: DateTime<Utc>) -> Self {
        Self {
            id: decision.id.as_uuid(),
            seq: decision.seq,
            kind: decision.kind.as_str(),
            scope: decision.value.scope().as_str(),
            value: decision.value.to_string(),
            origin: decision.origin.as_str(),
            active: decision.is_active(now),
            scenario: decision.scenario,
            reason: decision.reason,
            alert_id: decision.alert_id.map(|id| id.as_uuid()),
            created_by: decision.created_by.map(|id| id.as_uuid()),
            created_at: decision.created_at,
            until: decision.until,
            deleted_at: decision.deleted_at,
        }
    }
}

/// Which decisions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionQuery {
    /// Exactly this address or network.
    #[param(schema_with = crate::schemas::decision_value)]
    pub value: Option<String>,
    #[param(schema_with = crate::schemas::decision_kinds)]
    pub kind: Option<String>,
    /// `ip` or `range`.
    #[param(schema_with = crate::schemas::decision_scopes)]
    pub scope: Option<String>,
    #[param(schema_with = crate::schemas::decision_origins)]
    pub origin: Option<String>,
    #[param(schema_with = crate::schemas::filter_text)]
    pub scenario: Option<String>,
    pub alert_id: Option<Uuid>,
    /// Only those that apply now (`true`) or only those that ended (`false`).
    pub active: Option<bool>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// Which decisions to end: at least one of the filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Exactly this address or network.
    #[param(schema_with = crate::schemas::decision_value)]
    pub value: Option<String>,
    #[param(schema_with = crate::schemas::decision_kinds)]
    pub kind: Option<String>,
    #[param(schema_with = crate::schemas::decision_scopes)]
    pub scope: Option<String>,
    #[param(schema_with = crate::schemas::decision_origins)]
    pub origin: Option<String>,
    #[param(schema_with = crate::schemas::filter_text)]
    pub scenario: Option<String>,
    pub alert_id: Option<Uuid>,
}

/// How to write the decisions that apply.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `nftables` (a ruleset for `nft -f`), `iptables` or `ip6tables` (input of
    /// `iptables-restore`), `ipset` (input of `ipset restore`) or `plain` (a value a line, the default).
    #[param(schema_with = crate::schemas::export_formats)]
    pub format: Option<String>,
    /// Only decisions of this kind (`ban` by default: what a firewall drops).
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = crate::schemas::decision_kinds)]
    pub kind: Option<String>,
}

/// An allowlist entry as an admin writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": "198.51.100.0/24", "note": "the office"}))]
pub struct NewAllowBody {
    /// An address or a network.
    #[schema(schema_with = crate::schemas::decision_value)]
    pub value: String,
    #[schema(schema_with = crate::schemas::decision_note_or_null)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllowView {
    pub id: Uuid,
    pub value: String,
    pub note: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<AllowEntry> for AllowView {
    fn from(entry: AllowEntry) -> Self {
        Self {
            id: entry.id.as_uuid(),
            value: entry.value.to_string(),
            note: entry.note,
            created_by: entry.created_by.map(|id| id.as_uuid()),
            created_at: entry.created_at,
        }
    }
}

/// An entry added, and the decisions it ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllowAdded {
    #[serde(flatten)]
    pub entry: AllowView,
    /// How many decisions that covered it were ended.
    pub ended: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBouncerBody {
    /// ASCII letters, digits, inner spaces and `. - _ @ :`.
    #[schema(schema_with = crate::schemas::bouncer_name)]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "name": "edge-fw", "key_prefix": "bk_Ab3dEf6hIj9k",
    "created_at": "2026-12-03T10:00:00Z", "last_pull_at": "2026-12-03T10:05:00Z", "last_ip": "192.0.2.1",
    "user_agent": "crowdsec-firewall-bouncer/v0.0.28", "version": "v0.0.28"
}))]
pub struct BouncerView {
    pub id: Uuid,
    pub name: String,
    /// The public start of its key; the key itself is shown once.
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    /// Its last pull as recorded (every few seconds), the address and the client it came from.
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Its version, read from its user agent.
    pub version: Option<String>,
}

impl From<Bouncer> for BouncerView {
    fn from(bouncer: Bouncer) -> Self {
        Self {
            version: bouncer.version().map(str::to_owned),
            id: bouncer.id.as_uuid(),
            name: bouncer.name,
            key_prefix: bouncer.key_prefix,
            created_at: bouncer.created_at,
            last_pull_at: bouncer.last_pull_at,
            last_ip: bouncer.last_ip,
            user_agent: bouncer.user_agent,
        }
    }
}

/// A bouncer with its key: shown here once, stored only as a hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct BouncerWithKey {
    #[serde(flatten)]
    pub bouncer: BouncerView,
    /// The bouncer's `api_key` (sent as `X-Api-Key`). It cannot be shown again.
    pub key: String,
}

/// A decision as the CrowdSec bouncer protocol carries it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WireDecision {
    /// Go-style, whole seconds, never zero nor negative (`3h59m58s`).
    pub duration: String,
    pub id: i64,
    pub origin: &'static str,
    pub scenario: String,
    /// `Ip` or `Range`.
    pub scope: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

impl WireDecision {
    pub fn of(decision: &Decision, now: DateTime<Utc>) -> Self {
        Self {
            duration: go_duration(decision.until - now),
            id: decision.seq,
            origin: decision.origin.as_str(),
            scenario: decision.scenario.clone(),
            scope: decision.value.scope().crowdsec(),
            kind: decision.kind.as_str(),
            value: decision.value.to_string(),
        }
    }
}

/// What a bouncer is told: decisions to apply and decisions whose values to lift (each list
/// `[]` when empty).
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamView {
    pub deleted: Vec<WireDecision>,
    pub new: Vec<WireDecision>,
}

/// The stream's filters, as CrowdSec's bouncers send them.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Everything that applies, and what was lifted lately (`true`); else what changed since
    /// this bouncer's last pull.
    pub startup: Option<bool>,
    /// Comma-separated scopes (`ip,range` by default), without regard to case.
    #[param(schema_with = crate::schemas::filter_text)]
    pub scopes: Option<String>,
    /// Comma-separated origins (`manual`, `policy`, `feed`, `import`).
    #[param(schema_with = crate::schemas::filter_text)]
    pub origins: Option<String>,
    /// Comma-separated; a scenario must contain one of them (without regard to case).
    #[param(schema_with = crate::schemas::filter_text)]
    pub scenarios_containing: Option<String>,
    /// Comma-separated; a scenario must contain none of them.
    #[param(schema_with = crate::schemas::filter_text)]
    pub scenarios_not_containing: Option<String>,
    /// Only decisions of this kind (`ban`, `captcha`, `throttle`).
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = crate::schemas::filter_text)]
    pub kind: Option<String>,
}

/// A lookup, as CrowdSec's bouncers send it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// Decisions covering this address (or exactly it, with `contains=false`).
    #[param(schema_with = crate::schemas::filter_text)]
    pub ip: Option<String>,
    /// Decisions covering this network (or inside it, with `contains=false`).
    #[param(schema_with = crate::schemas::filter_text)]
    pub range: Option<String>,
    /// `ip` or `range`, without regard to case.
    #[param(schema_with = crate::schemas::filter_text)]
    pub scope: Option<String>,
    /// Comma-separated scopes, as on the stream.
    #[param(schema_with = crate::schemas::filter_text)]
    pub scopes: Option<String>,
    /// Exactly this value (an address or a network).
    #[param(schema_with = crate::schemas::filter_text)]
    pub value: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = crate::schemas::filter_text)]
    pub kind: Option<String>,
    /// Whether `ip` and `range` match the networks holding them (the default) or only equal values.
    pub contains: Option<bool>,
}

/// A policy as an admin writes it: decisions made on their own from alerts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "ssh brute force", "attack_type": "ssh_bruteforce", "min_score": 8.0, "min_events": 20,
    "durations": ["4h", "24h", "7d"], "repeat_window": "30d", "dry_run": true
}))]
pub struct PolicyBody {
    #[schema(schema_with = crate::schemas::policy_name)]
    pub name: String,
    /// Only alerts of this attack type; every alert when absent.
    #[schema(schema_with = crate::schemas::attack_type_or_null)]
    pub attack_type: Option<String>,
    /// An alert whose highest score reaches this…
    #[schema(minimum = 0, maximum = 10)]
    pub min_score: Option<f64>,
    /// …or whose events reach this count, decides.
    #[schema(minimum = 1, maximum = 1000000)]
    pub min_events: Option<u64>,
    /// `ban` (the default), `captcha` or `throttle`.
    #[schema(schema_with = crate::schemas::decision_kinds_or_null)]
    pub kind: Option<String>,
    /// The first decision on a source lasts the first, each repeat within `repeat_window` the
    /// next, the last repeats (`4h`, `24h`, `7d` by default).
    #[schema(schema_with = crate::schemas::durations_or_null)]
    pub durations: Option<Vec<String>>,
    /// How long an earlier decision counts against a source (`30d` by default, at most `365d`).
    #[schema(schema_with = crate::schemas::duration_or_null)]
    pub repeat_window: Option<String>,
    /// Record what it would do, and do nothing.
    pub dry_run: Option<bool>,
    pub enabled: Option<bool>,
}

impl From<PolicyBody> for rampart_core::watch::policies::PolicyInput {
    fn from(body: PolicyBody) -> Self {
        Self {
            name: body.name,
            attack_type: body.attack_type,
            min_score: body.min_score,
            min_events: body.min_events,
            kind: body.kind,
            durations: body.durations,
            repeat_window: body.repeat_window,
            dry_run: body.dry_run,
            enabled: body.enabled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: Uuid,
    pub name: String,
    pub attack_type: Option<String>,
    pub min_score: Option<f64>,
    pub min_events: Option<u64>,
    pub kind: &'static str,
    /// Go-style, each step of the escalation.
    pub durations: Vec<String>,
    pub repeat_window: String,
    pub dry_run: bool,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<rampart_core::watch::policies::Policy> for PolicyView {
    fn from(policy: rampart_core::watch::policies::Policy) -> Self {
        let rule = policy.rule;
        Self {
            id: policy.id.as_uuid(),
            durations: rule.durations.iter().map(|duration| go_duration(*duration)).collect(),
            repeat_window: go_duration(rule.repeat_window),
            name: rule.name,
            attack_type: rule.attack_type,
            min_score: rule.min_score,
            min_events: rule.min_events,
            kind: rule.kind.as_str(),
            dry_run: rule.dry_run,
            enabled: rule.enabled,
            created_at: policy.created_at,
            updated_at: policy.updated_at,
        }
    }
}

/// What a policy did with one alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyHitView {
    pub alert_id: Uuid,
    pub value: String,
    /// `decided`, `dry_run` (what it would have made) or `allowlisted` (nothing made).
    pub outcome: &'static str,
    pub duration: String,
    pub decision_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

impl From<rampart_core::watch::policies::PolicyHit> for PolicyHitView {
    fn from(hit: rampart_core::watch::policies::PolicyHit) -> Self {
        Self {
            alert_id: hit.alert_id.as_uuid(),
            value: hit.value,
            outcome: hit.outcome.as_str(),
            duration: go_duration(hit.duration),
            decision_id: hit.decision_id.map(|id| id.as_uuid()),
            at: hit.at,
        }
    }
}
