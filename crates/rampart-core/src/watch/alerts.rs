//! Alerts: raised when an event's score reaches the organisation's threshold, and grouped by
//! (organisation, source address, attack type) within a window, so a repeat raises the count,
//! the last-seen time and the highest score of the open alert instead of a new one.

use std::time::Duration;

use super::words;

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
