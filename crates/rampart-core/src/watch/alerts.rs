//! Alerts: raised when an event's score reaches the organisation's threshold, and grouped by
//! (organisation, source address, attack type) within a window, so a repeat raises the count,
//! the last-seen time and the highest score of the open alert instead of a new one.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::words::words;
use crate::{AlertId, NodeId, OrgId, UserId};

/// The score that raises an alert unless the organisation sets `alerts.threshold`.
pub const DEFAULT_THRESHOLD: f64 = 7.0;
/// How long after its last event an alert still takes repeats, unless the organisation sets
/// `alerts.window_seconds`.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

words!(
    /// `open → acknowledged → resolved`; a resolved alert takes no more events: a repeat opens
    /// a new one.
    AlertStatus { Open => "open", Acknowledged => "acknowledged", Resolved => "resolved" }
);

/// A stored alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub id: AlertId,
    pub org_id: OrgId,
    /// Who, when the events named an address.
    pub source_ip: Option<IpAddr>,
    pub attack_type: String,
    pub status: AlertStatus,
    /// Events grouped into it.
    pub events: u64,
    pub max_score: f64,
    /// The node of the event that raised it.
    pub node_id: Option<NodeId>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who last changed its status, and why.
    pub status_by: Option<UserId>,
    pub status_note: String,
}
