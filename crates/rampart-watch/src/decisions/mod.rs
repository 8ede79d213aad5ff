//! Decisions as a service: made by analysts, imports, policies and feeds, refused when the
//! allowlist covers them, audited and published in the change's transaction; and served to
//! bouncers from the server's copy ([`snapshot`]), which a pull reads without the database.

mod bouncers;
mod policies;
pub mod snapshot;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rampart_core::identity::{Acting, AuditAction};
use rampart_core::outbox::{NewOutboxRecord, Topic};
use rampart_core::watch::decisions::{
    AllowEntry, Bouncer, Decision, DecisionInput, DecisionOrigin, IMPORT_MAX, NewAllowEntry, NewDecision,
};
use rampart_core::{AllowEntryId, BouncerId, DecisionId, OrgId, ValidationErrors};
use rampart_store::{Change, DecisionFilter, Effects, Seek, Store, StoreError, StoreResult, Task};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::WatchError;
pub use bouncers::{BOUNCER_KEY_PREFIX, PullFrom, Pulled};
use snapshot::Replica;
pub use snapshot::{Delta, ENDED_KEPT, Lookup, Selection};

/// How often the copy reads the store again when no notice came, and pulls are recorded.
const EVERY: Duration = Duration::from_secs(5);
/// How long a decision is kept after its end: policies count repeats within their window (at most
/// a year), and analysts read the history.
pub const DECISIONS_KEPT: chrono::Duration = chrono::Duration::days(400);
/// Rounds of the follower between two prunings of decisions ended long ago (an hour).
const PRUNE_ROUNDS: u64 = 720;
/// The most ids one outbox record names; the counts say the rest.
const IDS_PER_RECORD: usize = 100;

/// Decisions, the allowlist and bouncers of every organisation, and this server's copy of them.
#[derive(Clone)]
pub struct Decisions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    copy: RwLock<Replica>,
    /// Only one reading of the store at a time applies versions to the copy.
    refreshing: tokio::sync::Mutex<()>,
    bouncers: bouncers::Bouncers,
}

impl Decisions {
    /// Reads every organisation's live decisions and bouncers' keys; answers the service and the
    /// task that keeps its copy current (notices, a read every few seconds, pulls recorded).
    pub async fn load(store: Arc<dyn Store>) -> StoreResult<(Self, Task)> {
        let now = store.clock().now();
        let (version, live) = store.decisions().live(now, now - ENDED_KEPT).await?;
        let mut copy = Replica::default();
        copy.apply(version, live, now);
        let decisions = Self {
            inner: Arc::new(Inner {
                store: store.clone(),
                copy: RwLock::new(copy),
                refreshing: tokio::sync::Mutex::new(()),
                bouncers: bouncers::Bouncers::default(),
            }),
        };
        decisions.reload_keys().await?;
        let task = decisions.clone().follower();
        Ok((decisions, task))
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The time now, as the store's clock says.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.store.clock().now()
    }

    /// Makes decisions, all or none: every input is checked (each error named under
    /// `decisions[i]` when there are several), and none may cover the allowlist.
    pub async fn make(
        &self,
        acting: &Acting,
        inputs: &[DecisionInput],
        origin: DecisionOrigin,
    ) -> Result<Vec<Decision>, WatchError> {
        if inputs.len() > IMPORT_MAX {
            return Err(ValidationErrors::single("decisions", format!("at most {IMPORT_MAX} at once")).into());
        }
        let now = self.now();
        let many = inputs.len() != 1 || origin == DecisionOrigin::Import;
        let mut errors = ValidationErrors::new();
        let new: Vec<NewDecision> = inputs
            .iter()
            .enumerate()
            .filter_map(|(at, input)| {
                let path = if many { format!("decisions[{at}]") } else { String::new() };
                NewDecision::parse(input, origin, now, &path, &mut errors)
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors.into());
        }
        self.insert(acting, &new, many).await
    }

    /// Stores validated decisions with their audit event and outbox record.
    async fn insert(&self, acting: &Acting, new: &[NewDecision], many: bool) -> Result<Vec<Decision>, WatchError> {
        let effects = |made: &Vec<Decision>| {
            let event = match made.as_slice() {
                [one] if !many => acting
                    .event(AuditAction::DecisionCreate)
                    .target(format!("decision:{}", one.id))
                    .detail(format!("{} {} until {}", one.kind, one.value, one.until.to_rfc3339())),
                _ => acting.event(AuditAction::DecisionImport).detail(format!("{} decisions", made.len())),
            };
            Effects::audit(event).record(changed(acting.org, made, &[]))
        };
        let made = self.store().decisions().insert(acting.org, new, acting.user(), &[], &effects).await?;
        let made = made.map_err(|refused| {
            let field = if many { format!("decisions[{}].value", refused.index) } else { "value".into() };
            ValidationErrors::single(field, allowlisted(&refused.entry))
        })?;
        self.refreshed().await;
        Ok(made)
    }

    pub async fn list(
        &self,
        org: OrgId,
        filter: &DecisionFilter,
        seek: Seek<DecisionId>,
    ) -> Result<Vec<Decision>, WatchError> {
        Ok(self.store().decisions().list(org, filter, seek).await?)
    }

    pub async fn get(&self, org: OrgId, id: DecisionId) -> Result<Decision, WatchError> {
        Ok(self.store().decisions().get(org, id).await?)
    }

    /// Ends one decision before its end; `NotFound` when the organisation has none that applies
    /// with this id.
    pub async fn delete(&self, acting: &Acting, id: DecisionId) -> Result<Decision, WatchError> {
        let ended = self.end(acting, &DecisionFilter::default(), Some(&[id]), 1).await?;
        ended.into_iter().next().ok_or(WatchError::Store(StoreError::NotFound))
    }

    /// Ends every decision that applies and matches `filter`, at most [`IMPORT_MAX`]; answers them.
    pub async fn delete_matching(&self, acting: &Acting, filter: &DecisionFilter) -> Result<Vec<Decision>, WatchError> {
        self.end(acting, filter, None, IMPORT_MAX as u32).await
    }

    async fn end(
        &self,
        acting: &Acting,
        filter: &DecisionFilter,
        ids: Option<&[DecisionId]>,
        limit: u32,
    ) -> Result<Vec<Decision>, WatchError> {
        let effects = |ended: &Vec<Decision>| {
            let event = match ended.as_slice() {
                [one] => acting
                    .event(AuditAction::DecisionDelete)
                    .target(format!("decision:{}", one.id))
                    .detail(format!("{} {}", one.kind, one.value)),
                _ => acting.event(AuditAction::DecisionDelete).detail(format!("{} decisions", ended.len())),
            };
            if ended.is_empty() {
                Effects::none()
            } else {
                Effects::audit(event).record(changed(acting.org, &[], ended))
            }
        };
        let ended = self.store().decisions().delete(acting.org, filter, ids, limit, &effects).await?;
        self.refreshed().await;
        Ok(ended)
    }

    /// Adds an allowlist entry; every decision covering it ends with it. Answers the entry and
    /// the decisions ended.
    pub async fn allow(&self, acting: &Acting, new: &NewAllowEntry) -> Result<(AllowEntry, Vec<Decision>), WatchError> {
        let effects = |(entry, ended): &(AllowEntry, Vec<Decision>)| {
            let event = acting
                .event(AuditAction::AllowlistAdd)
                .target(format!("allowlist:{}", entry.id))
                .detail(format!("{}; {} decisions ended", entry.value, ended.len()));
            let effects = Effects::audit(event);
            if ended.is_empty() { effects } else { effects.record(changed(acting.org, &[], ended)) }
        };
        let made = self.store().allowlist().insert(acting.org, new, acting.user(), &effects).await?;
        self.refreshed().await;
        Ok(made)
    }

    pub async fn allowlist(&self, org: OrgId, seek: Seek<AllowEntryId>) -> Result<Vec<AllowEntry>, WatchError> {
        Ok(self.store().allowlist().list(org, seek).await?)
    }

    pub async fn disallow(&self, acting: &Acting, id: AllowEntryId) -> Result<(), WatchError> {
        let event = acting.event(AuditAction::AllowlistRemove).target(format!("allowlist:{id}"));
        Ok(self.store().allowlist().delete(acting.org, id, &Effects::audit(event)).await?)
    }

    pub async fn bouncers(&self, org: OrgId, seek: Seek<BouncerId>) -> Result<Vec<Bouncer>, WatchError> {
        Ok(self.store().bouncers().list(org, seek).await?)
    }

    pub async fn bouncer(&self, org: OrgId, id: BouncerId) -> Result<Bouncer, WatchError> {
        Ok(self.store().bouncers().get(org, id).await?)
    }

    /// Brings the copy up to what was just committed, so this server serves a change as soon as
    /// it answered it; a failure here is only logged (the change is committed, and the follower
    /// reads it again within seconds).
    async fn refreshed(&self) {
        if let Err(error) = self.refresh().await {
            tracing::warn!(%error, "cannot read the decisions just changed");
        }
    }

    /// Applies every version committed after the last the copy read.
    pub async fn refresh(&self) -> StoreResult<()> {
        let _one = self.inner.refreshing.lock().await;
        loop {
            let after = self.inner.copy.read().unwrap_or_else(PoisonError::into_inner).version;
            let changed = self.store().decisions().changed(after, 100).await?;
            if changed.is_empty() {
                return Ok(());
            }
            let now = self.now();
            let mut by_version: Vec<(i64, Vec<Decision>)> = Vec::new();
            for row in changed {
                match by_version.last_mut() {
                    Some((version, decisions)) if *version == row.version => decisions.push(row.decision),
                    _ => by_version.push((row.version, vec![row.decision])),
                }
            }
            let mut copy = self.inner.copy.write().unwrap_or_else(PoisonError::into_inner);
            for (version, decisions) in by_version {
                copy.apply(version, decisions, now);
            }
        }
    }

    /// The task that keeps the copy current: it reads again on each notice of decisions, and
    /// every few seconds in case one was missed; reads bouncers' keys again on each notice of
    /// bouncers; forgets what ended long ago; and records pulls in batches.
    fn follower(self) -> Task {
        Task::new("decisions", move |stop| async move {
            let mut changes = self.inner.store.subscribe().await;
            let mut every = tokio::time::interval(EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut rounds: u64 = 0;
            loop {
                let (decisions, keys) = tokio::select! {
                    () = stop.cancelled() => break,
                    change = changes.recv() => match change {
                        Ok(Change::Decisions) => (true, false),
                        Ok(Change::Bouncers) => (false, true),
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => (true, true),
                        Err(RecvError::Closed) => {
                            changes = self.inner.store.subscribe().await;
                            (true, true)
                        }
                    },
                    _ = every.tick() => {
                        rounds += 1;
                        self.forget();
                        self.record_pulls().await;
                        if rounds.is_multiple_of(PRUNE_ROUNDS) {
                            self.prune().await;
                        }
                        (true, rounds.is_multiple_of(6))
                    }
                };
                if decisions && let Err(error) = self.refresh().await {
                    tracing::warn!(%error, "cannot read the decisions changed");
                }
                if keys && let Err(error) = self.reload_keys().await {
                    tracing::warn!(%error, "cannot read the bouncers' keys");
                }
            }
            self.record_pulls().await;
        })
    }

    /// Deletes decisions that ended more than [`DECISIONS_KEPT`] ago, a bounded batch at a time.
    async fn prune(&self) {
        let before = self.now() - DECISIONS_KEPT;
        loop {
            match self.store().decisions().prune(before, 1000).await {
                Ok(1000) => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "cannot prune ended decisions");
                    break;
                }
            }
        }
    }

    fn forget(&self) {
        let now = self.now();
        self.inner.copy.write().unwrap_or_else(PoisonError::into_inner).forget(now);
    }
}

/// The outbox record of a change to an organisation's decisions: the ids made and ended (the
/// first hundred of each) and how many.
fn changed(org: OrgId, made: &[Decision], ended: &[Decision]) -> NewOutboxRecord {
    let ids = |decisions: &[Decision]| -> Vec<String> {
        decisions.iter().take(IDS_PER_RECORD).map(|decision| decision.id.to_string()).collect()
    };
    NewOutboxRecord::new(
        Topic::DecisionsChanged,
        Some(org),
        json!({
            "made": ids(made),
            "made_count": made.len(),
            "ended": ids(ended),
            "ended_count": ended.len(),
        }),
    )
}

/// Why a decision is refused: the entry it would cover, named.
fn allowlisted(entry: &AllowEntry) -> String {
    if entry.note.is_empty() {
        format!("covers {}, which the allowlist holds (entry {})", entry.value, entry.id)
    } else {
        format!("covers {}, which the allowlist holds (entry {}: {})", entry.value, entry.id, entry.note)
    }
}
