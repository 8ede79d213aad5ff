//! The outbox: facts a change publishes, written in the change's transaction and delivered to
//! consumers (notifications, workflows, integrations) after it committed, in order, at least once.
//! A consumer absorbs a repeat by the record's id, which makes the delivery exactly once in effect.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::OrgId;
use crate::words::words;

/// The most bytes a record's payload takes as JSON: a record says what happened and names what
/// to read, it never carries the thing itself.
pub const PAYLOAD_MAX: usize = 16 * 1024;

words!(
    /// What a record says happened.
    Topic {
        RunFinished => "run.finished",
        AlertRaised => "alert.raised",
        AlertChanged => "alert.changed",
        ChangesRecorded => "changes.recorded",
        DecisionsChanged => "decisions.changed",
    }
);

/// A record to append with a change.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOutboxRecord {
    pub topic: Topic,
    /// The organisation the fact belongs to; a consumer delivers it within that tenant only.
    pub org: Option<OrgId>,
    pub payload: Value,
}

impl NewOutboxRecord {
    pub fn new(topic: Topic, org: Option<OrgId>, payload: Value) -> Self {
        Self { topic, org, payload }
    }

    /// The payload as stored, or why it cannot be: larger than [`PAYLOAD_MAX`].
    pub fn encoded_payload(&self) -> Result<String, &'static str> {
        let text = self.payload.to_string();
        if text.len() > PAYLOAD_MAX { Err("an outbox payload is larger than its bound") } else { Ok(text) }
    }
}

/// A record as stored. Ids grow in the order the changes committed.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRecord {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub record: NewOutboxRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_dotted_words() {
        assert_eq!("run.finished".parse::<Topic>(), Ok(Topic::RunFinished));
        assert_eq!(Topic::AlertChanged.as_str(), "alert.changed");
        assert!("run.started".parse::<Topic>().is_err());
    }

    #[test]
    fn a_payload_over_its_bound_is_refused() {
        let small = NewOutboxRecord::new(Topic::RunFinished, None, serde_json::json!({ "id": 1 }));
        assert_eq!(small.encoded_payload().as_deref(), Ok("{\"id\":1}"));
        let large = NewOutboxRecord::new(Topic::RunFinished, None, Value::String("x".repeat(PAYLOAD_MAX)));
        assert!(large.encoded_payload().is_err());
    }
}
