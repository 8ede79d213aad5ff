//! Bouncers: keys shown once and stored hashed, checked from memory on every pull (refusals
//! audited, then limited per address); each bouncer's last pull kept in memory and recorded in
//! batches; and the two reads of the bouncer protocol, the stream and the lookup.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use rampart_core::BouncerId;
use rampart_core::ValidationErrors;
use rampart_core::identity::{Acting, Actor, AuditAction, NewAuditEvent, Outcome, RequestContext};
use rampart_core::watch::decisions::{Bouncer, Decision, parse_bouncer_name};
use rampart_identity::RateLimits;
use rampart_identity::opaque;
use rampart_store::{Effects, Pull, StoreResult};

use super::Decisions;
use super::snapshot::{Delta, Lookup, Selection};
use crate::WatchError;

/// What a bouncer's key starts with.
pub const BOUNCER_KEY_PREFIX: &str = "bk_";
/// Refused bouncer keys a client address may send per minute before it is told to wait.
const REFUSALS_PER_MINUTE: u32 = 60;

/// Where a pull came from, recorded as the bouncer's last.
#[derive(Clone, Debug, Default)]
pub struct PullFrom {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// A bouncer's pull: what it is told, as of the copy's `tick` and `now`.
#[derive(Clone, Debug)]
pub struct Pulled {
    pub delta: Delta,
    pub tick: u64,
    pub now: DateTime<Utc>,
}

/// Keys and cursors.
pub(super) struct Bouncers {
    /// Every bouncer by the hash of its key.
    keys: RwLock<HashMap<String, Arc<Bouncer>>>,
    /// Each bouncer's last pull on this server: the copy's tick and the time then.
    cursors: Mutex<HashMap<BouncerId, Cursor>>,
    refusals: RateLimits,
}

impl Default for Bouncers {
    fn default() -> Self {
        Self { keys: RwLock::default(), cursors: Mutex::default(), refusals: RateLimits::new(REFUSALS_PER_MINUTE) }
    }
}

struct Cursor {
    tick: u64,
    at: DateTime<Utc>,
    /// The pull not yet recorded in the store.
    unrecorded: Option<Pull>,
}

impl Decisions {
    /// Makes a bouncer; answers it with its key, which is never shown again.
    pub async fn create_bouncer(&self, acting: &Acting, name: &str) -> Result<(Bouncer, String), WatchError> {
        let name = parse_bouncer_name(name).map_err(|message| ValidationErrors::single("name", message))?;
        let (key, lookup, hash) = opaque::new_key(BOUNCER_KEY_PREFIX);
        let audit = |bouncer: &Bouncer| {
            Effects::audit(
                acting
                    .event(AuditAction::BouncerCreate)
                    .target(format!("bouncer:{}", bouncer.id))
                    .detail(&bouncer.name),
            )
        };
        let prefix = format!("{BOUNCER_KEY_PREFIX}{lookup}");
        let bouncer = self.store().bouncers().insert(acting.org, &name, &prefix, &hash, acting.user(), &audit).await?;
        self.reload_keys().await?;
        Ok((bouncer, key))
    }

    /// Deletes a bouncer: its key stops working here at once, on other servers within a notice.
    pub async fn delete_bouncer(&self, acting: &Acting, id: BouncerId) -> Result<(), WatchError> {
        let event = acting.event(AuditAction::BouncerDelete).target(format!("bouncer:{id}"));
        self.store().bouncers().delete(acting.org, id, &Effects::audit(event)).await?;
        self.reload_keys().await?;
        Ok(())
    }

    /// Reads every bouncer's key hash again; cursors of bouncers gone are dropped.
    pub(super) async fn reload_keys(&self) -> StoreResult<()> {
        let keys: HashMap<String, Arc<Bouncer>> = self
            .store()
            .bouncers()
            .keys()
            .await?
            .into_iter()
            .map(|(bouncer, hash)| (hash, Arc::new(bouncer)))
            .collect();
        let bouncers = &self.inner.bouncers;
        bouncers
            .cursors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| keys.values().any(|bouncer| bouncer.id == *id));
        *bouncers.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
        Ok(())
    }

    /// The bouncer whose key this is. A refusal is audited, until the client's address has been
    /// refused more than 60 times in a minute: then it is told to wait, and nothing is written.
    pub async fn authenticate(&self, key: &str, context: &RequestContext) -> Result<Arc<Bouncer>, WatchError> {
        let found =
            self.inner.bouncers.keys.read().unwrap_or_else(PoisonError::into_inner).get(&opaque::hash(key)).cloned();
        if let Some(bouncer) = found {
            return Ok(bouncer);
        }
        if let Err(retry_after) = self.inner.bouncers.refusals.check(context.ip, None) {
            return Err(WatchError::RateLimited { retry_after });
        }
        let event = NewAuditEvent::new(None, Actor::Anonymous, AuditAction::BouncerRefused, Outcome::Denied, context)
            .detail("unknown bouncer key");
        self.store().audit().append(&event).await?;
        Err(WatchError::BouncerRefused)
    }

    /// What `bouncer` is told: everything that applies and what was lifted lately when it starts
    /// up (or this server has not seen it pull, or its last pull is older than the copy's log),
    /// else what changed since its last pull. A pull that does not `advance` (a `HEAD`) leaves
    /// the bouncer's last pull as it was.
    pub fn stream(
        &self,
        bouncer: &Bouncer,
        startup: bool,
        selection: &Selection,
        from: PullFrom,
        advance: bool,
    ) -> Pulled {
        let now = self.now();
        let last = if startup {
            None
        } else {
            let cursors = self.inner.bouncers.cursors.lock().unwrap_or_else(PoisonError::into_inner);
            cursors.get(&bouncer.id).map(|cursor| (cursor.tick, cursor.at))
        };
        let (tick, delta) = {
            let copy = self.inner.copy.read().unwrap_or_else(PoisonError::into_inner);
            let delta = match (copy.orgs.get(&bouncer.org_id), last) {
                (None, _) => Delta::default(),
                (Some(held), Some((tick, at))) => {
                    held.delta(tick, at, selection, now).unwrap_or_else(|| held.startup(selection, now))
                }
                (Some(held), None) => held.startup(selection, now),
            };
            (copy.tick, delta)
        };
        if advance {
            self.record_pull(bouncer, tick, now, from);
        }
        Pulled { delta, tick, now }
    }

    /// The copy's tick: what it has applied so far.
    pub fn tick(&self) -> u64 {
        self.inner.copy.read().unwrap_or_else(PoisonError::into_inner).tick
    }

    /// Records that `bouncer` was told everything up to `tick` at `now` (a startup answer made
    /// once and sent again within its second records each pull this way).
    pub fn record_pull(&self, bouncer: &Bouncer, tick: u64, now: DateTime<Utc>, from: PullFrom) {
        let pull =
            Pull { bouncer: bouncer.id, at: now, ip: from.ip.map(|ip| ip.to_string()), user_agent: from.user_agent };
        let cursor = Cursor { tick, at: now, unrecorded: Some(pull) };
        self.inner.bouncers.cursors.lock().unwrap_or_else(PoisonError::into_inner).insert(bouncer.id, cursor);
    }

    /// What firewalls of the organisation apply now: per value and kind, the decision selected
    /// that lasts longest.
    pub fn applying(&self, org: rampart_core::OrgId, selection: &Selection) -> Vec<Arc<Decision>> {
        let now = self.now();
        let copy = self.inner.copy.read().unwrap_or_else(PoisonError::into_inner);
        copy.orgs.get(&org).map(|held| held.startup(selection, now).new).unwrap_or_default()
    }

    /// The decisions of `bouncer`'s organisation that apply now and match `lookup`.
    pub fn lookup(&self, bouncer: &Bouncer, lookup: &Lookup) -> Vec<Arc<Decision>> {
        let now = self.now();
        let copy = self.inner.copy.read().unwrap_or_else(PoisonError::into_inner);
        copy.orgs.get(&bouncer.org_id).map(|held| held.lookup(lookup, now)).unwrap_or_default()
    }

    /// Writes the pulls not yet recorded; those that fail are tried again next time.
    pub(super) async fn record_pulls(&self) {
        let pulls: Vec<Pull> = self
            .inner
            .bouncers
            .cursors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values_mut()
            .filter_map(|cursor| cursor.unrecorded.take())
            .collect();
        if let Err(error) = self.store().bouncers().record_pulls(&pulls).await {
            tracing::warn!(%error, pulls = pulls.len(), "cannot record bouncers' pulls");
            let mut cursors = self.inner.bouncers.cursors.lock().unwrap_or_else(PoisonError::into_inner);
            for pull in pulls {
                if let Some(cursor) = cursors.get_mut(&pull.bouncer)
                    && cursor.unrecorded.is_none()
                {
                    cursor.unrecorded = Some(pull);
                }
            }
        }
    }
}
