//! Nodes: the sensors that report to an organisation, each with its own key (`nk_…`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::validation::ValidationErrors;
use crate::words::words;
use crate::{NodeId, OrgId};

pub const NAME_MAX: usize = 100;
/// The most bytes of metadata a node may carry, as JSON.
pub const METADATA_MAX: usize = 4096;

words!(
    /// What a node is.
    NodeKind { Honeypot => "honeypot", Agent => "agent", Network => "network" }
);

words!(
    /// An inactive node's key is refused: its events are not taken.
    NodeStatus { Active => "active", Inactive => "inactive" }
);

/// A stored node. Its key is shown once, at creation or rotation, and kept only as a hash.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: NodeId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: NodeKind,
    pub status: NodeStatus,
    /// The public part of the key (`nk_<prefix>_…`), used to find it; for a key imported from
    /// the replaced system, derived from the key (see `opaque::node_key_lookup`).
    pub key_prefix: String,
    /// Its id in the replaced system (`node-` and 16 hex digits), when it was imported with it.
    pub legacy_id: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A decoy a node reported touched: one per node and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoy {
    pub node_id: NodeId,
    pub name: String,
    pub decoy_type: String,
    pub accesses: u64,
    pub first_access: DateTime<Utc>,
    pub last_access: DateTime<Utc>,
}

/// A validated request for a node.
#[derive(Clone, Debug, PartialEq)]
pub struct NewNode {
    pub name: String,
    pub kind: NodeKind,
    pub metadata: Value,
    /// Its id in the replaced system, kept so that its deployed sensors keep working.
    pub legacy_id: Option<String>,
}

/// The length of a legacy id's hex part.
const LEGACY_ID_HEX: usize = 16;
/// What a node key starts with, in the replaced system as here.
const KEY_START: &str = "nk_";
/// The fewest characters after `nk_` an imported key may have: 22 URL-safe base64 characters
/// carry 128 bits (the replaced system's keys carry 256, 43 characters).
pub const IMPORTED_KEY_MIN: usize = 22;
/// The most characters after `nk_` an imported key may have.
pub const IMPORTED_KEY_MAX: usize = 256;

/// A node id of the replaced system: `node-` and 16 lowercase hex digits.
pub fn parse_legacy_id(text: &str) -> Result<String, String> {
    let valid = text.strip_prefix("node-").is_some_and(|hex| {
        hex.len() == LEGACY_ID_HEX && hex.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    });
    if valid { Ok(text.to_owned()) } else { Err("must be `node-` and 16 lowercase hex digits".to_owned()) }
}

/// Whether `key` is shaped as a node key of the replaced system (`nk_` and URL-safe base64),
/// which Rampart's own keys (`nk_<prefix>_<secret>`) also are.
pub fn is_imported_key(key: &str) -> bool {
    key.strip_prefix(KEY_START).is_some_and(|rest| {
        (IMPORTED_KEY_MIN..=IMPORTED_KEY_MAX).contains(&rest.len())
            && rest.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'))
    })
}

/// A node key of the replaced system, to be imported: `nk_` and 22 to 256 URL-safe base64
/// characters.
pub fn parse_imported_key(key: &str) -> Result<String, String> {
    if is_imported_key(key) {
        Ok(key.to_owned())
    } else {
        Err(format!(
            "must be a node key: `nk_` and {IMPORTED_KEY_MIN} to {IMPORTED_KEY_MAX} URL-safe base64 characters"
        ))
    }
}

/// A node's name: 1 to 100 printable characters, trimmed.
pub fn parse_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        Err(format!("must be 1 to {NAME_MAX} printable characters"))
    } else {
        Ok(name.to_owned())
    }
}

/// PostgreSQL cannot store a NUL in JSON: one in a key or a string of a node's metadata is kept
/// as U+FFFD, as the audit log keeps one. (Parsed JSON is at most 128 levels deep, so the
/// recursion is bounded.)
fn without_nul(value: Value) -> Value {
    let clean = |text: String| if text.contains('\0') { text.replace('\0', "\u{fffd}") } else { text };
    match value {
        Value::String(text) => Value::String(clean(text)),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(key, value)| (clean(key), without_nul(value))).collect())
        }
        other => other,
    }
}

impl NewNode {
    pub fn parse(name: &str, kind: &str, metadata: Option<Value>) -> Result<Self, ValidationErrors> {
        Self::parse_imported(name, kind, metadata, None, None).map(|(node, _)| node)
    }

    /// A node, and what it keeps of the replaced system: its id there (`legacy_id`) and its key
    /// (answered back, to be hashed as it arrives), each checked, every bad field named.
    pub fn parse_imported(
        name: &str,
        kind: &str,
        metadata: Option<Value>,
        legacy_id: Option<&str>,
        key: Option<&str>,
    ) -> Result<(Self, Option<String>), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", parse_name(name));
        let kind = errors.check("kind", kind.parse::<NodeKind>());
        let metadata = without_nul(metadata.unwrap_or_else(|| Value::Object(serde_json::Map::new())));
        if !metadata.is_object() {
            errors.add("metadata", "must be a JSON object");
        } else if metadata.to_string().len() > METADATA_MAX {
            errors.add("metadata", format!("must be at most {METADATA_MAX} bytes of JSON"));
        }
        let legacy_id = legacy_id.and_then(|id| errors.check("legacy_id", parse_legacy_id(id)));
        let key = key.and_then(|key| errors.check("key", parse_imported_key(key)));
        match (name, kind) {
            (Some(name), Some(kind)) if errors.is_empty() => Ok((Self { name, kind, metadata, legacy_id }, key)),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_node_needs_a_name_a_kind_and_object_metadata() {
        let node = NewNode::parse(" ssh-trap ", "honeypot", Some(json!({"site": "lab"}))).expect("valid");
        assert_eq!((node.name.as_str(), node.kind), ("ssh-trap", NodeKind::Honeypot));
        assert_eq!(NewNode::parse("n", "agent", None).expect("valid").metadata, json!({}));

        let errors = NewNode::parse("", "toaster", Some(json!([1]))).expect_err("three bad fields");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "kind", "metadata"]);
        let big = json!({"x": "y".repeat(METADATA_MAX)});
        assert!(NewNode::parse("n", "network", Some(big)).is_err());
    }

    #[test]
    fn an_imported_node_keeps_its_legacy_id_and_key_when_they_are_well_formed() {
        let key = format!("nk_{}", "Ab-_9".repeat(9));
        let (node, kept) =
            NewNode::parse_imported("n", "honeypot", None, Some("node-0123456789abcdef"), Some(&key)).expect("valid");
        assert_eq!((node.legacy_id.as_deref(), kept.as_deref()), (Some("node-0123456789abcdef"), Some(key.as_str())));

        for bad_id in [
            "node-0123456789ABCDEF",
            "node-0123",
            "0123456789abcdef",
            "node-0123456789abcdeg",
            "node-0123456789abcdef0",
        ] {
            let errors = NewNode::parse_imported("n", "agent", None, Some(bad_id), None).expect_err(bad_id);
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["legacy_id"], "{bad_id}");
        }
        let long = format!("nk_{}", "a".repeat(IMPORTED_KEY_MAX + 1));
        for bad_key in [
            "nk_short",
            "rk_abcdefghijklmnopqrstuvwxyz",
            "nk_abcdefghijklmnopqrstuv+/",
            "nk_abcdefghijklmnopqrstu\u{0}",
            long.as_str(),
        ] {
            let errors = NewNode::parse_imported("n", "agent", None, None, Some(bad_key)).expect_err(bad_key);
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["key"], "{bad_key}");
        }
        let errors = NewNode::parse_imported("", "agent", None, Some("x"), Some("y")).expect_err("three");
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["name", "legacy_id", "key"]);
    }
}
