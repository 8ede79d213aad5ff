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
    /// The public part of the key (`nk_<prefix>_…`), used to find it.
    pub key_prefix: String,
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
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", parse_name(name));
        let kind = errors.check("kind", kind.parse::<NodeKind>());
        let metadata = without_nul(metadata.unwrap_or_else(|| Value::Object(serde_json::Map::new())));
        if !metadata.is_object() {
            errors.add("metadata", "must be a JSON object");
        } else if metadata.to_string().len() > METADATA_MAX {
            errors.add("metadata", format!("must be at most {METADATA_MAX} bytes of JSON"));
        }
        match (name, kind) {
            (Some(name), Some(kind)) if errors.is_empty() => Ok(Self { name, kind, metadata }),
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
}
