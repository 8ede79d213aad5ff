//! Wire types of targets and scope checks.

use chrono::{DateTime, Utc};
use rampart_scope::BULK_MAX;
use rampart_scope::{BulkImport, CheckResult};
use rampart_store::StoredTarget;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Most entries in one scope check.
pub const CHECK_MAX: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"value": "10.0.0.0/16", "ports": "22,80,443,8000-8100", "exclude": false, "note": "office network", "tags": ["office"]}))]
pub struct NewTargetBody {
    /// An IPv4 or IPv6 address, a network (`10.0.0.0/16`), a host name, or `*.example.com`.
    pub value: String,
    /// Ports and ranges such as `80,443,8000-8100` (at most 1,000 characters); every port when absent.
    #[serde(default)]
    pub ports: Option<String>,
    /// Carves this target out of what other targets include.
    #[serde(default)]
    pub exclude: bool,
    #[serde(default)]
    #[schema(schema_with = crate::schemas::note)]
    pub note: String,
    #[serde(default)]
    #[schema(schema_with = crate::schemas::tags)]
    pub tags: Vec<String>,
}

/// `ports` absent keeps them, `null` clears them (every port), a string sets them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ports": "443", "note": "web only", "tags": ["web"]}))]
pub struct TargetPatchBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub ports: Option<Option<String>>,
    pub exclude: Option<bool>,
    #[schema(schema_with = crate::schemas::note_or_null)]
    pub note: Option<String>,
    #[schema(schema_with = crate::schemas::tags_or_null)]
    pub tags: Option<Vec<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "kind": "cidr", "value": "10.0.0.0/16", "ports": "22,80,443", "exclude": false,
    "note": "office network", "tags": ["office"], "created_by": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13",
    "created_at": "2026-11-24T20:00:00Z", "updated_at": "2026-11-24T20:00:00Z"
}))]
pub struct TargetView {
    pub id: Uuid,
    /// `ip`, `cidr`, `host` or `wildcard`.
    pub kind: &'static str,
    /// Normalised: lowercase punycode names, networks with host bits cleared.
    pub value: String,
    pub ports: Option<String>,
    pub exclude: bool,
    pub note: String,
    pub tags: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredTarget> for TargetView {
    fn from(stored: StoredTarget) -> Self {
        Self {
            id: stored.id.as_uuid(),
            kind: stored.target.value.kind().as_str(),
            value: stored.target.value.to_string(),
            ports: stored.target.ports.map(|ports| ports.to_string()),
            exclude: stored.target.exclude,
            note: stored.target.note,
            tags: stored.target.tags,
            created_by: stored.created_by.map(|id| id.as_uuid()),
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetQuery {
    /// `ip`, `cidr`, `host` or `wildcard`.
    #[param(schema_with = crate::schemas::target_kinds)]
    pub kind: Option<String>,
    pub exclude: Option<bool>,
    /// Targets with this tag.
    #[param(schema_with = crate::schemas::filter_text)]
    pub tag: Option<String>,
    /// Targets whose value contains this text.
    #[param(schema_with = crate::schemas::filter_text)]
    pub q: Option<String>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BulkQuery {
    /// Ports for every imported target, such as `80,443` (at most 1,000 characters).
    pub ports: Option<String>,
    /// Import as exclusions.
    pub exclude: Option<bool>,
    /// Comma-separated tags for every imported target.
    pub tags: Option<String>,
}

/// A list of strings from a client, at most `MAX` of them kept while reading and the rest only
/// counted, so that a body of a million empty strings is refused without a million made first.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Capped<const MAX: usize> {
    pub kept: Vec<String>,
    /// Every entry sent, kept or not.
    pub total: usize,
}

/// The lines of a bulk import.
pub type BulkLines = Capped<BULK_MAX>;

impl<const MAX: usize> Capped<MAX> {
    /// The lines of a text, one entry a line.
    pub fn of_text(text: &str) -> Self {
        let mut lines = text.lines();
        let kept: Vec<String> = lines.by_ref().take(MAX).map(str::to_owned).collect();
        let total = kept.len() + lines.count();
        Self { kept, total }
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Capped<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<const MAX: usize>;
        impl<'de, const MAX: usize> Visitor<'de> for Entries<MAX> {
            type Value = Capped<MAX>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of strings")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Capped<MAX>, A::Error> {
                let mut capped = Capped::default();
                while capped.kept.len() < MAX {
                    match seq.next_element::<String>()? {
                        Some(entry) => capped.kept.push(entry),
                        None => break,
                    }
                }
                capped.total = capped.kept.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    capped.total += 1;
                }
                Ok(capped)
            }
        }
        deserializer.deserialize_seq(Entries::<MAX>)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    /// The line number, from 1.
    pub line: usize,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineErrorView {
    pub line: usize,
    pub value: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "created": 3, "ids": ["0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12"],
    "duplicates": [{"line": 4, "value": "db.example.com"}],
    "errors": [{"line": 5, "value": "10.0.0.0/33", "message": "the prefix length must be at most 32"}]
}))]
pub struct BulkReport {
    pub created: usize,
    /// The ids of the created targets, in line order.
    pub ids: Vec<Uuid>,
    pub duplicates: Vec<LineView>,
    pub errors: Vec<LineErrorView>,
}

impl From<BulkImport> for BulkReport {
    fn from(report: BulkImport) -> Self {
        Self {
            created: report.created.len(),
            ids: report.created.iter().map(|target| target.id.as_uuid()).collect(),
            duplicates: report.duplicates.into_iter().map(|(line, value)| LineView { line, value }).collect(),
            errors: report
                .errors
                .into_iter()
                .map(|(line, value, message)| LineErrorView { line, value, message })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"targets": ["10.0.4.2:22", "10.0.5.9", "www.example.com:443", "example.com", "169.254.169.254:80"]}))]
pub struct ScopeCheckBody {
    /// `host`, `host:port`, `address:port` or `[ipv6]:port`; up to 1,000.
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 1000)]
    pub targets: Capped<CHECK_MAX>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeCheckView {
    pub input: String,
    /// The host as checked: normalised, or absent when it could not be read.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub in_scope: bool,
    pub reason: String,
}

impl From<CheckResult> for ScopeCheckView {
    fn from(result: CheckResult) -> Self {
        Self {
            input: result.input,
            host: result.host.map(|host| host.to_string()),
            port: result.port,
            in_scope: result.in_scope,
            reason: result.reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"results": [
    {"input": "10.0.4.2:22", "host": "10.0.4.2", "port": 22, "in_scope": true, "reason": "in scope: covered by target 10.0.0.0/16"},
    {"input": "169.254.169.254:80", "host": "169.254.169.254", "port": 80, "in_scope": false,
     "reason": "out of scope: denied by the server's policy"}
]}))]
pub struct ScopeCheckResponse {
    pub results: Vec<ScopeCheckView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_import_keeps_at_most_its_bound_of_lines_and_counts_them_all() {
        let many: Vec<String> = (0..BULK_MAX + 5).map(|i| i.to_string()).collect();
        let json: BulkLines = serde_json::from_value(serde_json::json!(many)).expect("an array of strings");
        assert_eq!((json.kept.len(), json.total), (BULK_MAX, BULK_MAX + 5));
        assert_eq!(json.kept[0], "0");
        let text = BulkLines::of_text(&"\n".repeat(BULK_MAX * 3));
        assert_eq!((text.kept.len(), text.total), (BULK_MAX, BULK_MAX * 3));
        assert_eq!(BulkLines::of_text("a\nb"), BulkLines { kept: vec!["a".into(), "b".into()], total: 2 });
        assert!(serde_json::from_value::<BulkLines>(serde_json::json!(["a", 1])).is_err());

        let check: ScopeCheckBody =
            serde_json::from_value(serde_json::json!({ "targets": vec![""; CHECK_MAX * 100] })).expect("a body");
        assert_eq!((check.targets.kept.len(), check.targets.total), (CHECK_MAX, CHECK_MAX * 100));
    }
}
