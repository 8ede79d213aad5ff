//! The scope check: is this host (and port) authorised, and why. An index built once per scope
//! answers in logarithmic time: addresses by binary search over disjoint segments of the address
//! space (each naming the targets that cover it), names by hash lookups of the name and of each
//! parent domain.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::targets::{Host, PortRanges, TargetValue};

/// One target as the scope sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeTarget {
    pub value: TargetValue,
    pub ports: Option<PortRanges>,
    pub exclude: bool,
}

impl ScopeTarget {
    fn covers_port(&self, port: Option<u16>) -> bool {
        match (&self.ports, port) {
            (None, _) => true,
            (Some(ports), Some(port)) => ports.contains(port),
            // Without a port, a target limited to ports covers the host only partly: not enough.
            (Some(_), None) => false,
        }
    }
}

/// The answer for one host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Covered by this target and excluded by none.
    In { by: TargetValue },
    /// Covered, but carved out by this exclusion.
    Excluded { by: TargetValue },
    /// A target covers the host, but not this port.
    PortNotCovered { by: TargetValue, ports: PortRanges },
    /// No target covers it.
    NotCovered,
}

impl Verdict {
    pub fn is_in(&self) -> bool {
        matches!(self, Verdict::In { .. })
    }

    /// A sentence for people.
    pub fn reason(&self) -> String {
        match self {
            Verdict::In { by } => format!("in scope: covered by target {by}"),
            Verdict::Excluded { by } => format!("out of scope: excluded by target {by}"),
            Verdict::PortNotCovered { by, ports } => format!("out of scope: target {by} covers only ports {ports}"),
            Verdict::NotCovered => "out of scope: no target covers it".into(),
        }
    }
}

/// A segment of one address family: from `start` up to the next segment's start.
#[derive(Clone, Debug)]
struct Segment {
    start: u128,
    targets: Vec<u32>,
}

#[derive(Clone, Debug, Default)]
struct Family {
    segments: Vec<Segment>,
}

impl Family {
    /// Builds disjoint segments from inclusive ranges, each naming the targets covering it.
    fn build(ranges: Vec<(u128, u128, u32)>) -> Self {
        let mut events: Vec<(u128, bool, u32)> = Vec::with_capacity(ranges.len() * 2);
        for (start, end, target) in ranges {
            events.push((start, true, target));
            if let Some(after) = end.checked_add(1) {
                events.push((after, false, target));
            }
        }
        events.sort_unstable();
        let mut active: Vec<u32> = Vec::new();
        let mut segments: Vec<Segment> = Vec::new();
        let mut i = 0;
        while i < events.len() {
            let at = events[i].0;
            while i < events.len() && events[i].0 == at {
                let (_, opens, target) = events[i];
                if opens {
                    active.push(target);
                } else if let Some(position) = active.iter().position(|t| *t == target) {
                    active.swap_remove(position);
                }
                i += 1;
            }
            let mut targets = active.clone();
            targets.sort_unstable();
            match segments.last() {
                Some(last) if last.targets == targets => {}
                _ => segments.push(Segment { start: at, targets }),
            }
        }
        Self { segments }
    }

    /// The segments that overlap `start..=end`, each with the targets covering it.
    fn overlapping(&self, start: u128, end: u128) -> impl Iterator<Item = &[u32]> {
        let first = self.segments.partition_point(|segment| segment.start <= start).saturating_sub(1);
        let before_start = self.segments.first().is_none_or(|segment| segment.start > start);
        // A range that starts before every segment begins outside all targets.
        let gap: Option<&[u32]> = before_start.then_some(&[]);
        gap.into_iter().chain(
            self.segments[first..]
                .iter()
                .take_while(move |segment| segment.start <= end)
                .map(|segment| segment.targets.as_slice()),
        )
    }

    fn covering(&self, key: u128) -> &[u32] {
        let index = self.segments.partition_point(|segment| segment.start <= key);
        match index {
            0 => &[],
            index => &self.segments[index - 1].targets,
        }
    }
}

/// An organisation's targets, indexed for checks.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    targets: Vec<ScopeTarget>,
    v4: Family,
    v6: Family,
    names: HashMap<String, Vec<u32>>,
    wildcards: HashMap<String, Vec<u32>>,
}

fn v4_key(address: std::net::Ipv4Addr) -> u128 {
    u128::from(u32::from(address))
}

impl Scope {
    pub fn new(targets: Vec<ScopeTarget>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let mut names: HashMap<String, Vec<u32>> = HashMap::new();
        let mut wildcards: HashMap<String, Vec<u32>> = HashMap::new();
        for (index, target) in targets.iter().enumerate() {
            let index = u32::try_from(index).expect("fewer than 4 billion targets");
            match &target.value {
                TargetValue::Ip(IpAddr::V4(a)) => v4.push((v4_key(*a), v4_key(*a), index)),
                TargetValue::Ip(IpAddr::V6(a)) => v6.push((u128::from(*a), u128::from(*a), index)),
                TargetValue::Cidr(ipnet::IpNet::V4(net)) => {
                    v4.push((v4_key(net.network()), v4_key(net.broadcast()), index))
                }
                TargetValue::Cidr(ipnet::IpNet::V6(net)) => {
                    v6.push((u128::from(net.network()), u128::from(net.broadcast()), index))
                }
                TargetValue::Host(name) => names.entry(name.clone()).or_default().push(index),
                TargetValue::Wildcard(name) => wildcards.entry(name.clone()).or_default().push(index),
            }
        }
        Self { targets, v4: Family::build(v4), v6: Family::build(v6), names, wildcards }
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The verdict for a host (already normalised by parsing) and an optional port.
    pub fn check(&self, host: &Host, port: Option<u16>) -> Verdict {
        match host {
            Host::Ip(address) => self.verdict(self.covering_address(*address), port),
            Host::Name(name) => {
                let mut covering: Vec<u32> = self.names.get(name).cloned().unwrap_or_default();
                // A wildcard covers every name strictly below its domain.
                let mut rest = name.as_str();
                while let Some((_, parent)) = rest.split_once('.') {
                    if let Some(found) = self.wildcards.get(parent) {
                        covering.extend_from_slice(found);
                    }
                    rest = parent;
                }
                self.verdict(&covering, port)
            }
        }
    }

    /// The verdict for a whole network, ports aside: every address must be covered by some
    /// inclusion and none carved out by an exclusion of every port. Which ports of each address
    /// may be probed is checked probe by probe.
    pub fn check_network(&self, net: ipnet::IpNet) -> Verdict {
        let (family, start, end) = match crate::targets::canonical_net(net) {
            ipnet::IpNet::V4(net) => (&self.v4, v4_key(net.network()), v4_key(net.broadcast())),
            ipnet::IpNet::V6(net) => (&self.v6, u128::from(net.network()), u128::from(net.broadcast())),
        };
        let mut witness = None;
        for covering in family.overlapping(start, end) {
            let targets = covering.iter().map(|index| &self.targets[*index as usize]);
            if let Some(exclusion) = targets.clone().find(|t| t.exclude && t.ports.is_none()) {
                return Verdict::Excluded { by: exclusion.value.clone() };
            }
            match targets.clone().find(|t| !t.exclude) {
                Some(inclusion) => witness = witness.or(Some(inclusion.value.clone())),
                None => return Verdict::NotCovered,
            }
        }
        witness.map_or(Verdict::NotCovered, |by| Verdict::In { by })
    }

    /// True when some inclusion covers the address (for some port) and no exclusion of every
    /// port carves it out: the address may be probed on the ports its targets allow.
    pub fn covers_address(&self, address: IpAddr) -> bool {
        let covering = self.covering_address(address);
        let target = |index: &u32| &self.targets[*index as usize];
        covering.iter().map(target).any(|t| !t.exclude)
            && !covering.iter().map(target).any(|t| t.exclude && t.ports.is_none())
    }

    /// The same for a name: an inclusion covers it and no exclusion of every port removes it.
    pub fn covers_name(&self, name: &str) -> bool {
        let host = Host::Name(name.to_owned());
        match self.check(&host, None) {
            Verdict::In { .. } | Verdict::PortNotCovered { .. } => true,
            Verdict::Excluded { .. } | Verdict::NotCovered => false,
        }
    }

    /// The fast path: true when the address and port are in scope.
    pub fn allows(&self, address: IpAddr, port: Option<u16>) -> bool {
        let covering = self.covering_address(address);
        let target = |index: &u32| &self.targets[*index as usize];
        covering.iter().map(target).any(|t| !t.exclude && t.covers_port(port))
            && !covering.iter().map(target).any(|t| t.exclude && t.covers_port(port))
    }

    fn covering_address(&self, address: IpAddr) -> &[u32] {
        match address {
            IpAddr::V4(v4) => self.v4.covering(v4_key(v4)),
            IpAddr::V6(v6) => match crate::targets::embedded_ipv4(v6) {
                Some(v4) => self.v4.covering(v4_key(v4)),
                None => self.v6.covering(u128::from(v6)),
            },
        }
    }

    fn verdict(&self, covering: &[u32], port: Option<u16>) -> Verdict {
        let targets = covering.iter().map(|index| &self.targets[*index as usize]);
        if let Some(exclusion) = targets.clone().find(|t| t.exclude && t.covers_port(port)) {
            if targets.clone().any(|t| !t.exclude) {
                return Verdict::Excluded { by: exclusion.value.clone() };
            }
            return Verdict::NotCovered;
        }
        if let Some(inclusion) = targets.clone().find(|t| !t.exclude && t.covers_port(port)) {
            return Verdict::In { by: inclusion.value.clone() };
        }
        match targets.clone().find(|t| !t.exclude) {
            Some(partial) => Verdict::PortNotCovered {
                by: partial.value.clone(),
                ports: partial.ports.clone().expect("a target that misses a port has ports"),
            },
            None => Verdict::NotCovered,
        }
    }
}
