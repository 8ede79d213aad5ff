//! A server's copy of every organisation's decisions, current within a change notice: a pull
//! reads memory only. The copy applies each version the store committed after the last it read
//! (versions are taken in commit order, so none is skipped), counts its own changes with a local
//! tick, and keeps for each organisation the log of which values changed at which tick — a
//! bouncer's delta is the values changed after its last tick, and those whose decisions reached
//! their end since its last pull.
//!
//! One value (and kind) may have several decisions; firewalls are told the one that lasts longest
//! among those a bouncer asked for, and that a value is lifted only when none of them applies.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use rampart_core::OrgId;
use rampart_core::watch::decisions::{Addresses, Decision, DecisionKind, DecisionScope};

/// How long an ended decision is kept: a bouncer starting up is told the values lifted within it,
/// and a bouncer whose last pull is older is answered as one starting up.
pub const ENDED_KEPT: Duration = Duration::hours(24);

/// What firewalls hold one entry for: a value and what to do with it.
type Key = (IpNet, DecisionKind);

/// Which decisions a bouncer asked for (CrowdSec's `scopes`, `origins`, `scenarios_containing`
/// and `scenarios_not_containing`); each part left out takes all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selection {
    pub scopes: Option<Vec<DecisionScope>>,
    /// Origins as written, compared without regard to case.
    pub origins: Option<Vec<String>>,
    pub kinds: Option<Vec<DecisionKind>>,
    /// Lowercase; a scenario must contain one of them.
    pub scenarios_containing: Vec<String>,
    /// Lowercase; a scenario must contain none of them.
    pub scenarios_not_containing: Vec<String>,
}

impl Selection {
    fn takes(&self, decision: &Decision) -> bool {
        if let Some(scopes) = &self.scopes
            && !scopes.contains(&decision.value.scope())
        {
            return false;
        }
        if let Some(kinds) = &self.kinds
            && !kinds.contains(&decision.kind)
        {
            return false;
        }
        if let Some(origins) = &self.origins
            && !origins.iter().any(|origin| origin.eq_ignore_ascii_case(decision.origin.as_str()))
        {
            return false;
        }
        if self.scenarios_containing.is_empty() && self.scenarios_not_containing.is_empty() {
            return true;
        }
        let scenario = decision.scenario.to_lowercase();
        (self.scenarios_containing.is_empty() || self.scenarios_containing.iter().any(|part| scenario.contains(part)))
            && !self.scenarios_not_containing.iter().any(|part| scenario.contains(part))
    }
}

/// What a bouncer is told: decisions to apply, and decisions whose values to lift.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delta {
    pub new: Vec<Arc<Decision>>,
    pub deleted: Vec<Arc<Decision>>,
}

/// Which decisions a lookup asks for (CrowdSec's `/v1/decisions` query); each part left out
/// takes all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lookup {
    /// Decisions covering this address or network (`contains`), or lying inside it.
    pub value: Option<Addresses>,
    pub contains: bool,
    pub scopes: Option<Vec<DecisionScope>>,
    pub kinds: Option<Vec<DecisionKind>>,
}

/// One organisation's decisions.
#[derive(Debug, Default)]
pub(crate) struct Held {
    decisions: HashMap<i64, Arc<Decision>>,
    by_key: HashMap<Key, Vec<i64>>,
    /// How many keys have each (family, prefix length): the lengths a lookup of an address tries.
    prefixes: HashMap<(bool, u8), usize>,
    /// Ticks at which keys changed, oldest first, with the time they were applied.
    log: VecDeque<(u64, DateTime<Utc>, Key)>,
    /// The tick of the latest entry trimmed from the log: a cursor before it cannot be answered
    /// from the log.
    trimmed: u64,
    /// The ends of decisions not deleted, for those reaching their end between two pulls.
    ends: BTreeSet<(DateTime<Utc>, i64)>,
}

fn key_of(decision: &Decision) -> Key {
    (decision.value.net(), decision.kind)
}

impl Held {
    /// Takes a decision as read from the store at local `tick`: new, or ended since.
    pub(crate) fn apply(&mut self, decision: Decision, tick: u64, now: DateTime<Utc>) {
        let key = key_of(&decision);
        if let Some(before) = self.decisions.get(&decision.seq) {
            self.ends.remove(&(before.until, before.seq));
        } else {
            let seqs = self.by_key.entry(key).or_default();
            if seqs.is_empty() {
                *self.prefixes.entry((key.0.addr().is_ipv4(), key.0.prefix_len())).or_default() += 1;
            }
            seqs.push(decision.seq);
        }
        if decision.deleted_at.is_none() {
            self.ends.insert((decision.until, decision.seq));
        }
        self.decisions.insert(decision.seq, Arc::new(decision));
        self.log.push_back((tick, now, key));
    }

    /// Forgets decisions that ended before `before`, and the log up to then.
    pub(crate) fn forget(&mut self, before: DateTime<Utc>) {
        let old: Vec<i64> = self
            .decisions
            .values()
            .filter(|decision| decision.ended_at() < before)
            .map(|decision| decision.seq)
            .collect();
        for seq in old {
            let Some(decision) = self.decisions.remove(&seq) else { continue };
            self.ends.remove(&(decision.until, seq));
            let key = key_of(&decision);
            if let Some(seqs) = self.by_key.get_mut(&key) {
                seqs.retain(|held| *held != seq);
                if seqs.is_empty() {
                    self.by_key.remove(&key);
                    let prefix = (key.0.addr().is_ipv4(), key.0.prefix_len());
                    if let Some(count) = self.prefixes.get_mut(&prefix) {
                        *count -= 1;
                        if *count == 0 {
                            self.prefixes.remove(&prefix);
                        }
                    }
                }
            }
        }
        while let Some(&(tick, at, _)) = self.log.front() {
            if at >= before {
                break;
            }
            self.trimmed = tick;
            self.log.pop_front();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// What firewalls should hold for `key` now: the longest-lasting decision selected that
    /// applies, to apply; else the latest one selected that ended, to lift.
    fn state_of(&self, key: &Key, selection: &Selection, now: DateTime<Utc>) -> Option<(bool, Arc<Decision>)> {
        let mut applies: Option<&Arc<Decision>> = None;
        let mut ended: Option<&Arc<Decision>> = None;
        for decision in self.by_key.get(key)?.iter().filter_map(|seq| self.decisions.get(seq)) {
            if !selection.takes(decision.as_ref()) {
                continue;
            }
            if decision.is_active(now) {
                if applies.is_none_or(|best| decision.until > best.until) {
                    applies = Some(decision);
                }
            } else if ended.is_none_or(|latest| decision.ended_at() > latest.ended_at()) {
                ended = Some(decision);
            }
        }
        applies.map(|decision| (true, decision.clone())).or_else(|| ended.map(|decision| (false, decision.clone())))
    }

    fn answer<'a>(&self, keys: impl Iterator<Item = &'a Key>, selection: &Selection, now: DateTime<Utc>) -> Delta {
        let mut delta = Delta::default();
        for key in keys {
            match self.state_of(key, selection, now) {
                Some((true, decision)) => delta.new.push(decision),
                Some((false, decision)) => delta.deleted.push(decision),
                None => {}
            }
        }
        delta.new.sort_by_key(|decision| decision.seq);
        delta.deleted.sort_by_key(|decision| decision.seq);
        delta
    }

    /// Everything that applies, and what was lifted within [`ENDED_KEPT`].
    pub(crate) fn startup(&self, selection: &Selection, now: DateTime<Utc>) -> Delta {
        self.answer(self.by_key.keys(), selection, now)
    }

    /// What changed after `tick`, and what reached its end after `since`; `None` when the log no
    /// longer reaches back to `tick`.
    pub(crate) fn delta(
        &self,
        tick: u64,
        since: DateTime<Utc>,
        selection: &Selection,
        now: DateTime<Utc>,
    ) -> Option<Delta> {
        if tick < self.trimmed {
            return None;
        }
        let first = self.log.partition_point(|(at, _, _)| *at <= tick);
        let mut keys: HashSet<Key> = self.log.range(first..).map(|(_, _, key)| *key).collect();
        let ended = self.ends.range((since, i64::MAX)..).take_while(|(until, _)| *until <= now);
        keys.extend(ended.filter_map(|(_, seq)| self.decisions.get(seq)).map(|decision| key_of(decision)));
        Some(self.answer(keys.iter(), selection, now))
    }

    /// The decisions that apply and match `lookup`, oldest first.
    pub(crate) fn lookup(&self, lookup: &Lookup, now: DateTime<Utc>) -> Vec<Arc<Decision>> {
        let kinds: &[DecisionKind] = lookup.kinds.as_deref().unwrap_or(&DecisionKind::ALL);
        let scopes: &[DecisionScope] = lookup.scopes.as_deref().unwrap_or(&DecisionScope::ALL);
        let mut keys: Vec<Key> = Vec::new();
        match lookup.value {
            // Every network holding the value: the value cut to each prefix length held.
            Some(value) if lookup.contains => {
                let net = value.net();
                for &(v4, length) in self.prefixes.keys() {
                    if v4 == net.addr().is_ipv4()
                        && length <= net.prefix_len()
                        && let Ok(cut) = IpNet::new(net.addr(), length)
                    {
                        keys.extend(kinds.iter().map(|kind| (cut.trunc(), *kind)));
                    }
                }
            }
            Some(value) if value.scope() == DecisionScope::Ip => {
                keys.extend(kinds.iter().map(|kind| (value.net(), *kind)));
            }
            // Every value inside the network.
            Some(value) => keys.extend(self.by_key.keys().filter(|(net, _)| value.net().contains(net))),
            None => keys.extend(self.by_key.keys()),
        }
        let mut found: Vec<Arc<Decision>> = keys
            .iter()
            .filter(|(_, kind)| kinds.contains(kind))
            .filter_map(|key| self.by_key.get(key))
            .flatten()
            .filter_map(|seq| self.decisions.get(seq))
            .filter(|decision| decision.is_active(now) && scopes.contains(&decision.value.scope()))
            .cloned()
            .collect();
        found.sort_by_key(|decision| decision.seq);
        found
    }
}

/// Every organisation's decisions, with the version read and the local tick.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    pub(crate) version: i64,
    pub(crate) tick: u64,
    pub(crate) orgs: HashMap<OrgId, Held>,
}

impl Replica {
    /// Takes decisions changed at one version, as one tick.
    pub(crate) fn apply(&mut self, version: i64, decisions: Vec<Decision>, now: DateTime<Utc>) {
        self.tick += 1;
        self.version = self.version.max(version);
        for decision in decisions {
            self.orgs.entry(decision.org_id).or_default().apply(decision, self.tick, now);
        }
    }

    pub(crate) fn forget(&mut self, now: DateTime<Utc>) {
        let before = now - ENDED_KEPT;
        for held in self.orgs.values_mut() {
            held.forget(before);
        }
        self.orgs.retain(|_, held| !held.is_empty() || !held.log.is_empty());
    }
}
