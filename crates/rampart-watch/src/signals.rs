//! What this process has recently seen of each source: the nodes it touched and its events in the
//! last minute, for the scorer's multi-node and burst rules. Memory is bounded: sources quiet for
//! ten minutes are forgotten when the table is full.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rampart_core::watch::Signals;
use rampart_core::{NodeId, OrgId};

/// The span of the burst rule.
const RECENT: Duration = Duration::from_secs(60);
/// How long a quiet source is kept once the table is full.
const QUIET: Duration = Duration::from_secs(600);
/// Nodes remembered per source: enough to say "several".
const NODES_KEPT: usize = 16;
/// Event times remembered per source: enough to count any burst threshold up to it.
const TIMES_KEPT: usize = 10_000;

struct Seen {
    nodes: Vec<NodeId>,
    times: VecDeque<Instant>,
    last: Instant,
}

pub struct Tracker {
    sources: Mutex<HashMap<(OrgId, IpAddr), Seen>>,
    capacity: usize,
}

impl Tracker {
    pub fn new(capacity: usize) -> Self {
        Self { sources: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// Records an event of `ip` on `node` now, and answers what is known of the source.
    pub fn observe(&self, org: OrgId, ip: IpAddr, node: NodeId) -> Signals {
        self.observe_at(org, ip, node, Instant::now())
    }

    fn observe_at(&self, org: OrgId, ip: IpAddr, node: NodeId, now: Instant) -> Signals {
        let mut sources = self.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if sources.len() >= self.capacity && !sources.contains_key(&(org, ip)) {
            sources.retain(|_, seen| now.duration_since(seen.last) < QUIET);
            if sources.len() >= self.capacity {
                // Still full of busy sources: forget the quietest.
                if let Some(key) = sources.iter().min_by_key(|(_, seen)| seen.last).map(|(key, _)| *key) {
                    sources.remove(&key);
                }
            }
        }
        let seen =
            sources.entry((org, ip)).or_insert_with(|| Seen { nodes: Vec::new(), times: VecDeque::new(), last: now });
        if !seen.nodes.contains(&node) && seen.nodes.len() < NODES_KEPT {
            seen.nodes.push(node);
        }
        while seen.times.front().is_some_and(|at| now.duration_since(*at) >= RECENT) {
            seen.times.pop_front();
        }
        if seen.times.len() == TIMES_KEPT {
            seen.times.pop_front();
        }
        seen.times.push_back(now);
        seen.last = now;
        Signals {
            nodes_seen: u32::try_from(seen.nodes.len()).unwrap_or(u32::MAX),
            recent_events: u32::try_from(seen.times.len()).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_the_last_minute_are_counted_per_source() {
        let tracker = Tracker::new(100);
        let (org, ip) = (OrgId::new(), "203.0.113.1".parse().expect("ip"));
        let (one, two) = (NodeId::new(), NodeId::new());
        let start = Instant::now();
        assert_eq!(tracker.observe_at(org, ip, one, start), Signals { nodes_seen: 1, recent_events: 1 });
        assert_eq!(tracker.observe_at(org, ip, one, start), Signals { nodes_seen: 1, recent_events: 2 });
        assert_eq!(tracker.observe_at(org, ip, two, start), Signals { nodes_seen: 2, recent_events: 3 });
        let later = start + RECENT + Duration::from_secs(1);
        assert_eq!(tracker.observe_at(org, ip, one, later), Signals { nodes_seen: 2, recent_events: 1 });
        let other_org = OrgId::new();
        assert_eq!(tracker.observe_at(other_org, ip, one, later).nodes_seen, 1, "organisations are apart");
    }

    #[test]
    fn a_full_table_forgets_the_quietest_source() {
        let tracker = Tracker::new(2);
        let org = OrgId::new();
        let node = NodeId::new();
        let start = Instant::now();
        let ip = |n: u8| IpAddr::from([203, 0, 113, n]);
        tracker.observe_at(org, ip(1), node, start);
        tracker.observe_at(org, ip(2), node, start + Duration::from_secs(1));
        tracker.observe_at(org, ip(3), node, start + Duration::from_secs(2));
        let sources = tracker.sources.lock().expect("lock");
        assert_eq!(sources.len(), 2);
        assert!(!sources.contains_key(&(org, ip(1))));
    }
}
