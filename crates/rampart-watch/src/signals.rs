//! What this process has recently seen of each source: the nodes it touched and its events in the
//! last minute, for the scorer's multi-node and burst rules. Memory is bounded, and shared fairly
//! between organisations: when the table is full, the quietest source of the organisation that
//! holds the most is forgotten, so one tenant flooding from many addresses forgets its own sources,
//! never another's smaller set.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rampart_core::watch::Signals;
use rampart_core::{NodeId, OrgId};

/// The span of the burst rule.
const RECENT: Duration = Duration::from_secs(60);
/// Nodes remembered per source: enough to say "several".
const NODES_KEPT: usize = 16;
/// Event times remembered per source: enough to count any burst threshold up to it.
const TIMES_KEPT: usize = 10_000;

struct Seen {
    nodes: Vec<NodeId>,
    times: VecDeque<Instant>,
    last: Instant,
}

/// One organisation's sources, with their order of last activity (the quietest first).
#[derive(Default)]
struct Sources {
    seen: HashMap<IpAddr, Seen>,
    quietest: BTreeSet<(Instant, IpAddr)>,
}

impl Sources {
    fn forget_quietest(&mut self) {
        if let Some((_, ip)) = self.quietest.pop_first() {
            self.seen.remove(&ip);
        }
    }
}

#[derive(Default)]
struct Table {
    orgs: HashMap<OrgId, Sources>,
    total: usize,
}

impl Table {
    /// Forgets one source to make room for a new one of `org`: the quietest of the organisation
    /// holding the most (`org` itself when it holds as many).
    fn make_room(&mut self, org: OrgId) {
        let own = self.orgs.get(&org).map_or(0, |sources| sources.seen.len());
        let largest = self
            .orgs
            .iter()
            .filter(|(_, sources)| sources.seen.len() > own)
            .max_by_key(|(_, sources)| sources.seen.len())
            .map_or(org, |(id, _)| *id);
        if let Some(sources) = self.orgs.get_mut(&largest) {
            sources.forget_quietest();
            self.total -= 1;
            if sources.seen.is_empty() {
                self.orgs.remove(&largest);
            }
        }
    }
}

pub struct Tracker {
    table: Mutex<Table>,
    capacity: usize,
}

impl Tracker {
    pub fn new(capacity: usize) -> Self {
        Self { table: Mutex::new(Table::default()), capacity: capacity.max(1) }
    }

    /// Records an event of `ip` on `node` now, and answers what is known of the source.
    pub fn observe(&self, org: OrgId, ip: IpAddr, node: NodeId) -> Signals {
        self.observe_at(org, ip, node, Instant::now())
    }

    fn observe_at(&self, org: OrgId, ip: IpAddr, node: NodeId, now: Instant) -> Signals {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let known = table.orgs.get(&org).is_some_and(|sources| sources.seen.contains_key(&ip));
        if !known {
            if table.total >= self.capacity {
                table.make_room(org);
            }
            table.total += 1;
        }
        let sources = table.orgs.entry(org).or_default();
        let seen =
            sources.seen.entry(ip).or_insert_with(|| Seen { nodes: Vec::new(), times: VecDeque::new(), last: now });
        sources.quietest.remove(&(seen.last, ip));
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
        // Times are not always met in order (concurrent requests): the latest one counts.
        seen.last = seen.last.max(now);
        sources.quietest.insert((seen.last, ip));
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
        tracker.observe_at(org, ip(1), node, start + Duration::from_secs(2));
        tracker.observe_at(org, ip(3), node, start + Duration::from_secs(3));
        let table = tracker.table.lock().expect("lock");
        assert_eq!(table.total, 2);
        let sources = &table.orgs[&org];
        assert!(sources.seen.contains_key(&ip(1)) && !sources.seen.contains_key(&ip(2)), "2 was the quietest");
        assert_eq!(sources.quietest.len(), 2);
    }

    #[test]
    fn a_flooding_organisation_forgets_its_own_sources_not_another_s() {
        let tracker = Tracker::new(100);
        let (flooder, other) = (OrgId::new(), OrgId::new());
        let node = NodeId::new();
        let start = Instant::now();
        let watched = IpAddr::from([198, 51, 100, 1]);
        for second in 0..5 {
            tracker.observe_at(other, watched, node, start + Duration::from_secs(second));
        }
        // Ten thousand addresses later, each newer than the other organisation's source...
        for n in 0..10_000u32 {
            let ip = IpAddr::from((0xCB00_0000u32 + n).to_be_bytes());
            tracker.observe_at(flooder, ip, node, start + Duration::from_secs(10));
        }
        // ...its count goes on.
        let signals = tracker.observe_at(other, watched, node, start + Duration::from_secs(11));
        assert_eq!(signals.recent_events, 6);
        let table = tracker.table.lock().expect("lock");
        assert_eq!((table.total, table.orgs[&flooder].seen.len()), (100, 99));
    }
}
