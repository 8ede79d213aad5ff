//! Alerts: raised when an event's score reaches the organisation's threshold, and grouped by
//! (organisation, source address, attack type) within a window, so a repeat raises the count,
//! the last-seen time and the highest score of the open alert instead of a new one.

use std::collections::HashMap;
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

/// An alert's group: the events of one organisation, source address and attack type go to the
/// same open alert while they keep coming within the window.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlertGroup {
    pub org_id: OrgId,
    pub source_ip: Option<IpAddr>,
    pub attack_type: String,
}

/// An event whose score reached its organisation's threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertCandidate {
    pub group: AlertGroup,
    pub node_id: NodeId,
    pub occurred_at: DateTime<Utc>,
    pub score: f64,
    /// How long after its group's previous event this one still joins the open alert.
    pub window: Duration,
}

/// An open alert of a group, as stored before the events at hand: its id and its last event.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenAlert {
    pub group: AlertGroup,
    pub id: AlertId,
    pub last_seen: DateTime<Utc>,
}

/// An alert the events at hand raise (`new`) or grow: how many they add, their highest score
/// and their time span.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertChange {
    pub id: AlertId,
    pub group: AlertGroup,
    pub new: bool,
    /// The node of the first of these events.
    pub node_id: NodeId,
    pub events: u64,
    pub max_score: f64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// What grouping decided for the events at hand.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grouping {
    /// For each candidate, in the order given, the alert it joins and whether it raised it.
    pub alerts: Vec<Option<(AlertId, bool)>>,
    /// Every alert raised or grown, each once.
    pub changes: Vec<AlertChange>,
}

/// Whether an event at `at` joins an open alert whose last event was at `last_seen`: when it
/// comes no later than `window` after it (an event older than the last one always joins).
pub fn joins(last_seen: DateTime<Utc>, at: DateTime<Utc>, window: Duration) -> bool {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(1));
    last_seen.checked_add_signed(window).is_none_or(|end| at <= end)
}

/// Groups events into alerts. The candidates are taken in the order they occurred (ties in the
/// order given); each joins the open alert of its group — the one stored in `open` with the
/// latest last event, or one raised by an earlier candidate — when it [`joins`] it, and
/// raises a new alert, named by `new_id`, otherwise. A `None` candidate raises nothing.
pub fn group_alerts(
    open: impl IntoIterator<Item = OpenAlert>,
    candidates: &[Option<AlertCandidate>],
    mut new_id: impl FnMut() -> AlertId,
) -> Grouping {
    // (alert, last seen, index in `changes` once it changes)
    let mut current: HashMap<AlertGroup, (AlertId, DateTime<Utc>, Option<usize>)> = HashMap::new();
    for alert in open {
        if current.get(&alert.group).is_none_or(|(_, seen, _)| *seen < alert.last_seen) {
            current.insert(alert.group, (alert.id, alert.last_seen, None));
        }
    }
    let mut order: Vec<usize> = (0..candidates.len()).filter(|&i| candidates[i].is_some()).collect();
    order.sort_by_key(|&i| candidates[i].as_ref().map(|candidate| candidate.occurred_at));
    let mut changes: Vec<AlertChange> = Vec::new();
    let mut alerts = vec![None; candidates.len()];
    for index in order {
        let Some(candidate) = &candidates[index] else { continue };
        let (at, score) = (candidate.occurred_at, candidate.score);
        let change = |id, new| AlertChange {
            id,
            group: candidate.group.clone(),
            new,
            node_id: candidate.node_id,
            events: 0,
            max_score: score,
            first_seen: at,
            last_seen: at,
        };
        let slot = match current.get_mut(&candidate.group) {
            Some((id, last_seen, slot)) if joins(*last_seen, at, candidate.window) => {
                *last_seen = (*last_seen).max(at);
                *slot.get_or_insert_with(|| {
                    changes.push(change(*id, false));
                    changes.len() - 1
                })
            }
            _ => {
                let id = new_id();
                changes.push(change(id, true));
                current.insert(candidate.group.clone(), (id, at, Some(changes.len() - 1)));
                changes.len() - 1
            }
        };
        let change = &mut changes[slot];
        let raised = change.new && change.events == 0;
        change.events += 1;
        change.max_score = change.max_score.max(score);
        change.first_seen = change.first_seen.min(at);
        change.last_seen = change.last_seen.max(at);
        alerts[index] = Some((change.id, raised));
    }
    Grouping { alerts, changes }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(600);

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a valid time")
    }

    fn group(org: OrgId, ip: &str, attack_type: &str) -> AlertGroup {
        AlertGroup { org_id: org, source_ip: Some(ip.parse().expect("an address")), attack_type: attack_type.into() }
    }

    fn candidate(group: &AlertGroup, seconds: i64, score: f64) -> Option<AlertCandidate> {
        Some(AlertCandidate {
            group: group.clone(),
            node_id: NodeId::from_uuid(uuid::Uuid::nil()),
            occurred_at: at(seconds),
            score,
            window: WINDOW,
        })
    }

    #[test]
    fn an_event_joins_within_the_window_and_raises_a_new_alert_past_it() {
        let last = at(0);
        assert!(joins(last, at(600), WINDOW), "at the end of the window");
        assert!(joins(last, at(-3600), WINDOW), "an older event");
        assert!(!joins(last, at(600) + chrono::Duration::microseconds(1), WINDOW), "just past it");
    }

    #[test]
    fn a_stored_open_alert_is_joined_within_its_window_and_the_latest_wins() {
        let org = OrgId::new();
        let ssh = group(org, "203.0.113.7", "ssh_bruteforce");
        let (older, newer) = (AlertId::new(), AlertId::new());
        let open = [
            OpenAlert { group: ssh.clone(), id: newer, last_seen: at(100) },
            OpenAlert { group: ssh.clone(), id: older, last_seen: at(0) },
        ];
        let grouping = group_alerts(open, &[candidate(&ssh, 700, 8.0)], || panic!("no alert is raised"));
        assert_eq!(grouping.alerts, vec![Some((newer, false))]);
        assert_eq!(grouping.changes.len(), 1);
        let change = &grouping.changes[0];
        assert_eq!((change.id, change.new, change.events, change.first_seen), (newer, false, 1, at(700)));
    }

    #[test]
    fn events_are_taken_in_the_order_they_occurred_and_a_gap_raises_a_new_alert() {
        let org = OrgId::new();
        let ssh = group(org, "203.0.113.7", "ssh_bruteforce");
        let web = group(org, "203.0.113.7", "web_scan");
        let mut ids = vec![AlertId::new(), AlertId::new(), AlertId::new()];
        let (first, second, third) = (ids[0], ids[1], ids[2]);
        ids.reverse();
        // Given out of order: 0 s, 500 s and 1 200 s of one group (the last past the window), one
        // event of another group, and one that reached no threshold.
        let candidates = [
            candidate(&ssh, 500, 9.0),
            candidate(&ssh, 1200, 7.5),
            None,
            candidate(&ssh, 0, 8.0),
            candidate(&web, 0, 7.0),
        ];
        let grouping = group_alerts([], &candidates, || ids.pop().expect("an id"));
        assert_eq!(
            grouping.alerts,
            vec![Some((first, false)), Some((third, true)), None, Some((first, true)), Some((second, true))]
        );
        let sums: Vec<_> = grouping
            .changes
            .iter()
            .map(|change| (change.id, change.new, change.events, change.max_score, change.first_seen, change.last_seen))
            .collect();
        assert_eq!(
            sums,
            vec![
                (first, true, 2, 9.0, at(0), at(500)),
                (second, true, 1, 7.0, at(0), at(0)),
                (third, true, 1, 7.5, at(1200), at(1200)),
            ]
        );
    }

    #[test]
    fn nothing_to_group_changes_nothing() {
        let grouping = group_alerts([], &[None, None], || panic!("no alert is raised"));
        assert_eq!(grouping, Grouping { alerts: vec![None, None], changes: Vec::new() });
    }
}
