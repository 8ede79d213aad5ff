//! Who may keep a live stream open, and how many: each stream holds a permit counted against the
//! server's cap and its caller's (a user across all their sessions, or one API key), and
//! authenticates its caller again every [`StreamOptions::recheck`] with the credential it was
//! opened with, the same way as any request. It ends as soon as that fails: after logout, removal
//! from the organisation, deactivation, revocation of the key, or when the credential expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt, stream};
use rampart_core::OrgId;
use rampart_core::identity::{Actor, ActorKind, Role};
use rampart_identity::{Identity, IdentityError};
use uuid::Uuid;

use crate::auth::{SentCredential, StreamCaller};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// The limits of live streams, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// How often an open stream authenticates its caller again.
    pub recheck: Duration,
    /// Streams open at once on this server.
    pub max_streams: usize,
    /// Streams open at once per user (all sessions together) or per API key.
    pub max_streams_per_user: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self { recheck: Duration::from_secs(30), max_streams: 1000, max_streams_per_user: 10 }
    }
}

/// How long a refused follower is told to wait: about one re-check, when closed streams are seen.
const RETRY_AFTER: u64 = 5;

/// Whom a stream is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Holder(ActorKind, Option<Uuid>);

impl Holder {
    fn of(actor: Actor) -> Self {
        Holder(actor.kind(), actor.stored_id())
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_holder: HashMap<Holder, usize>,
}

/// The open streams of the server. Cheap to share.
pub(crate) struct Streams {
    options: StreamOptions,
    counts: Mutex<Counts>,
    metrics: Arc<Metrics>,
}

impl Streams {
    pub(crate) fn new(options: StreamOptions, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self { options, counts: Mutex::new(Counts::default()), metrics })
    }

    /// A permit for one more stream of `caller`, or 429 when the caller or the server has as many
    /// as allowed.
    pub(crate) fn open(self: &Arc<Self>, caller: &StreamCaller, identity: &Identity) -> Result<StreamAccess, ApiError> {
        let holder = Holder::of(caller.principal.actor);
        {
            let mut counts = self.counts.lock().expect("the stream counts are never poisoned");
            let held = counts.by_holder.get(&holder).copied().unwrap_or(0);
            if counts.total >= self.options.max_streams || held >= self.options.max_streams_per_user {
                return Err(ApiError::TooManyRequests { retry_after: RETRY_AFTER });
            }
            counts.total += 1;
            *counts.by_holder.entry(holder).or_default() += 1;
            self.metrics.live_streams.set(counts.total as i64);
        }
        Ok(StreamAccess {
            permit: Permit { streams: self.clone(), holder },
            identity: identity.clone(),
            credential: caller.credential.clone(),
            org: caller.principal.org,
            recheck: self.options.recheck,
        })
    }
}

/// One open stream, counted until dropped.
struct Permit {
    streams: Arc<Streams>,
    holder: Holder,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.streams.counts.lock().expect("the stream counts are never poisoned");
        counts.total = counts.total.saturating_sub(1);
        if let Some(held) = counts.by_holder.get_mut(&self.holder) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.by_holder.remove(&self.holder);
            }
        }
        self.streams.metrics.live_streams.set(counts.total as i64);
    }
}

/// What a stream needs to stay allowed: its permit, and the credential to check again.
pub(crate) struct StreamAccess {
    permit: Permit,
    identity: Identity,
    credential: SentCredential,
    org: OrgId,
    recheck: Duration,
}

impl StreamAccess {
    /// Whether the caller may still follow: authenticated again, in the same organisation, at
    /// least a viewer. A database that cannot answer is not a refusal: the next check decides.
    async fn still_allowed(&self) -> bool {
        match self.identity.authenticate(self.credential.as_sent()).await {
            Ok(principal) => principal.org == self.org && principal.require(Role::Viewer).is_ok(),
            Err(IdentityError::Store(_)) => true,
            Err(_) => false,
        }
    }

    /// `updates` for as long as the caller stays allowed: ends at the first failed check.
    pub(crate) fn guard<S>(self, updates: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
        S::Item: Send,
    {
        let start = tokio::time::Instant::now() + self.recheck;
        let mut recheck = tokio::time::interval_at(start, self.recheck);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let updates = Box::pin(updates);
        stream::unfold((updates, self, recheck), |(mut updates, access, mut recheck)| async move {
            loop {
                tokio::select! {
                    // An unfolding stream keeps its read in progress across a tick: nothing is lost.
                    update = updates.next() => return update.map(|update| (update, (updates, access, recheck))),
                    _ = recheck.tick() => {
                        if !access.still_allowed().await {
                            tracing::debug!(holder = access.permit.holder.0.as_str(), "a live stream's caller lost access: closing it");
                            return None;
                        }
                    }
                }
            }
        })
    }
}
