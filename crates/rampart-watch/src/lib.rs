//! Watch: sensors report events with their node key; every event is scored (the built-in,
//! explainable scorer, or an external model with a time limit and a circuit breaker that falls
//! back to it), and committed in groups together with the alerts, attacker profiles and counters
//! it changes.
#![forbid(unsafe_code)]

pub mod dashboard;
pub mod decisions;
pub mod ml;
mod nodes;
mod pipeline;
mod settings;
mod signals;

use std::sync::Arc;

use futures_util::{StreamExt, stream};
use rampart_core::identity::Acting;
use rampart_core::outbox::{NewOutboxRecord, Topic};
use rampart_core::watch::{Alert, AlertStatus, EventInput, NewEvent, Node, Score, ScoringRules};
use rampart_core::{AlertId, EventId, ValidationErrors};
use rampart_store::{Committed, Effects, ScoredEvent, Store, StoreError, Task};
use serde::{Deserialize, Serialize};

pub use ml::{Fallback, ModelConfig, ModelScorer};
pub use nodes::NodeRefusal;
pub use pipeline::Busy;
pub use settings::{ALERT_SETTINGS, AlertRules, AlertSetting, AlertSettingInfo, THRESHOLD_KEY, WINDOW_KEY};

use crate::pipeline::Pipeline;
use crate::settings::SettingsCache;
use crate::signals::Tracker;

/// Most events in one request.
pub const BATCH_MAX: usize = rampart_core::watch::BATCH_MAX;
/// Events of one request scored at once (the model's calls overlap).
const MODEL_CONCURRENCY: usize = 32;

/// How the watch runs: the `watch` section of the configuration, declared here once with its
/// defaults and checks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchConfig {
    /// Events waiting to be committed at most; past it, requests are refused with [`Busy`]. One
    /// organisation may hold at most half of it, and an equal part when others have events waiting.
    pub queue_events: usize,
    /// Events committed in one transaction at most.
    pub group_max: usize,
    /// The built-in scorer's points and word lists.
    pub scoring: ScoringRules,
    /// An external model that scores events instead (`url`, `timeout`, `failures_to_open`,
    /// `open_for`); the built-in scorer answers whenever it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelConfig>,
    /// Sources remembered for the multi-node and burst rules; when full, the quietest source of
    /// the organisation that has the most is forgotten. Not a configuration key.
    #[serde(skip)]
    pub sources_tracked: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            queue_events: 50_000,
            group_max: 5_000,
            scoring: ScoringRules::default(),
            model: None,
            sources_tracked: 100_000,
        }
    }
}

impl WatchConfig {
    /// Every bad setting, named by its key in the section.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.queue_events < BATCH_MAX {
            errors.add("queue_events", format!("must be at least {BATCH_MAX} (one full batch)"));
        }
        if self.group_max < 1 {
            errors.add("group_max", "must be at least 1");
        }
        if let Some(model) = &self.model {
            errors.check("model", model.validate());
        }
        errors.into_result(|| ())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("invalid input")]
    Invalid(ValidationErrors),
    #[error("the ingestion pipeline is full")]
    Busy,
    #[error(transparent)]
    Refused(#[from] NodeRefusal),
    /// A bouncer's key is unknown (403, as CrowdSec answers).
    #[error("unknown bouncer key")]
    BouncerRefused,
    /// Too many refused keys from this address: wait this long.
    #[error("too many refused keys from this address")]
    RateLimited { retry_after: std::time::Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for WatchError {
    fn from(errors: ValidationErrors) -> Self {
        WatchError::Invalid(errors)
    }
}

/// The setting of alerts named `key`, or `NotFound`.
fn alert_setting(key: &str) -> Result<(AlertSettingInfo, rampart_core::settings::SettingKey), WatchError> {
    let info = ALERT_SETTINGS.into_iter().find(|info| info.key == key).ok_or(StoreError::NotFound)?;
    let setting_key = rampart_core::settings::SettingKey::parse(key).map_err(StoreError::Internal)?;
    Ok((info, setting_key))
}

/// One event taken.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// Its place in the request, from 0.
    pub index: usize,
    pub id: EventId,
    pub score: Score,
    /// `builtin` or `model`.
    pub scorer: &'static str,
    /// The alert it joined, and whether it raised it.
    pub alert: Option<(AlertId, bool)>,
}

/// What became of a request's events: the good ones are committed, the bad ones are named.
#[derive(Clone, Debug, Default)]
pub struct Ingested {
    pub accepted: Vec<Accepted>,
    pub rejected: Vec<(usize, ValidationErrors)>,
}

#[derive(Clone)]
pub struct Watch {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    rules: ScoringRules,
    model: Option<ModelScorer>,
    tracker: Tracker,
    /// Refused node keys per client address: past the limit, a refusal is answered "wait" and
    /// no longer audited one by one.
    refusals: rampart_identity::RateLimits,
    pipeline: Pipeline,
    settings: SettingsCache,
}

impl Watch {
    /// The watch and the writer of its ingestion pipeline, a task the process starts (requests
    /// wait for it); `config.model` is checked here, and reached through `outbound`, the server's
    /// outbound gate.
    pub fn new(
        store: Arc<dyn Store>,
        config: WatchConfig,
        outbound: rampart_scope::Gate,
    ) -> Result<(Self, Task), String> {
        let model = config.model.as_ref().map(|model| ModelScorer::new(model, outbound)).transpose()?;
        let (pipeline, writer) = Pipeline::new(store.clone(), config.queue_events, config.group_max);
        let watch = Self {
            inner: Arc::new(Inner {
                settings: SettingsCache::new(store.clone()),
                store,
                rules: config.scoring.normalized(),
                model,
                tracker: Tracker::new(config.sources_tracked),
                refusals: rampart_identity::RateLimits::new(nodes::REFUSALS_PER_MINUTE),
                pipeline,
            }),
        };
        Ok((watch, writer))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The time now, as the store's clock says: events, alerts and dashboards share one clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.store.clock().now()
    }

    /// Events of `org` waiting to be committed (each organisation has its share of the queue).
    pub fn waiting(&self, org: rampart_core::OrgId) -> usize {
        self.inner.pipeline.waiting(org)
    }

    /// The external model, when one is configured (for its counters).
    pub fn model(&self) -> Option<&ModelScorer> {
        self.inner.model.as_ref()
    }

    /// Validates, scores and commits a node's events; answers once the good ones are committed.
    /// Each input is an event or the errors its reading already found.
    pub async fn ingest(
        &self,
        node: &Node,
        inputs: Vec<Result<EventInput, ValidationErrors>>,
    ) -> Result<Ingested, WatchError> {
        let now = self.now();
        let rules = self.inner.settings.alert_rules(node.org_id).await?;
        let default_kind = nodes::default_kind(node.kind);
        let mut ingested = Ingested::default();
        let mut events = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            match input.and_then(|input| input.parse(default_kind, now)) {
                Ok(event) => events.push((index, event)),
                Err(errors) => ingested.rejected.push((index, errors)),
            }
        }
        // Scored in order, several at once: a model's round trips overlap.
        let scored_events: Vec<(usize, NewEvent, Score, &'static str)> = stream::iter(events)
            .map(|(index, event)| async move {
                let (score, scorer) = self.score(node, &event).await;
                (index, event, score, scorer)
            })
            .buffered(MODEL_CONCURRENCY)
            .collect()
            .await;
        let mut scored = Vec::with_capacity(scored_events.len());
        let mut indexes = Vec::with_capacity(scored_events.len());
        for (index, event, score, scorer) in scored_events {
            let alert_window = (score.score >= rules.threshold).then_some(rules.window);
            indexes.push(index);
            scored.push(ScoredEvent {
                id: EventId::new(),
                org_id: node.org_id,
                node_id: node.id,
                received_at: now,
                event,
                score,
                scorer,
                alert_window,
            });
        }
        let summary: Vec<(EventId, Score, &'static str)> =
            scored.iter().map(|event| (event.id, event.score.clone(), event.scorer)).collect();
        let committed: Vec<Committed> =
            self.inner.pipeline.commit(node.org_id, scored).await.map_err(|Busy| WatchError::Busy)??;
        ingested.accepted = indexes
            .into_iter()
            .zip(summary)
            .zip(committed)
            .map(|((index, (id, score, scorer)), done)| Accepted { index, id, score, scorer, alert: done.alert })
            .collect();
        Ok(ingested)
    }

    /// The built-in score, or the model's when one is configured and answers in time.
    async fn score(&self, node: &Node, event: &NewEvent) -> (Score, &'static str) {
        let signals =
            event.source_ip.map(|ip| self.inner.tracker.observe(node.org_id, ip, node.id)).unwrap_or_default();
        let builtin = self.inner.rules.score(event, signals);
        match &self.inner.model {
            Some(model) => match model.score(event, &builtin).await {
                Ok(score) => (score, "model"),
                Err(_) => (builtin, "builtin"),
            },
            None => (builtin, "builtin"),
        }
    }

    /// Moves an alert along `open → acknowledged → resolved` (or back, to reopen); audited.
    pub async fn set_alert_status(
        &self,
        acting: &Acting,
        id: AlertId,
        status: AlertStatus,
        note: &str,
    ) -> Result<Alert, WatchError> {
        let event = acting
            .event(rampart_core::identity::AuditAction::AlertUpdate)
            .target(format!("alert:{id}"))
            .detail(format!("status {status}"));
        let changed = NewOutboxRecord::new(
            Topic::AlertChanged,
            Some(acting.org),
            serde_json::json!({ "alert": id, "status": status.as_str() }),
        );
        let effects = Effects::audit(event).record(changed);
        Ok(self.inner.store.watch().set_alert_status(acting.org, id, status, acting.user(), note, &effects).await?)
    }

    /// The organisation's alert threshold and grouping window.
    pub async fn alert_rules(&self, org: rampart_core::OrgId) -> Result<AlertRules, StoreError> {
        self.inner.settings.alert_rules(org).await
    }

    /// Forgets cached settings of `org`, after they changed.
    pub fn settings_changed(&self, org: rampart_core::OrgId) {
        self.inner.settings.forget(org);
    }

    /// The organisation's settings of alerts, each with the value that applies.
    pub async fn alert_settings(&self, org: rampart_core::OrgId) -> Result<Vec<AlertSetting>, StoreError> {
        let stored = self.inner.store.settings().list(org).await?;
        Ok(ALERT_SETTINGS
            .into_iter()
            .map(|info| {
                let setting = stored.iter().find(|setting| setting.key.as_str() == info.key).cloned();
                AlertSetting::of(info, setting)
            })
            .collect())
    }

    /// Sets a setting of alerts, once [`AlertRules::check`] accepts the value; audited, and in
    /// force for this server's next event (other servers': within seconds). An unknown key is
    /// `NotFound`.
    pub async fn set_alert_setting(
        &self,
        acting: &Acting,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<AlertSetting, WatchError> {
        let (info, setting_key) = alert_setting(key)?;
        AlertRules::check(key, value).map_err(|reason| ValidationErrors::single("value", reason))?;
        let event = acting
            .event(rampart_core::identity::AuditAction::SettingUpdate)
            .target(format!("setting:{key}"))
            .detail(format!("set to {value}"));
        let stored = self.inner.store.settings().put(acting.org, &setting_key, value, &Effects::audit(event)).await?;
        self.settings_changed(acting.org);
        Ok(AlertSetting::of(info, Some(stored)))
    }

    /// Puts a setting of alerts back to its default (whether or not it was set); audited.
    pub async fn reset_alert_setting(&self, acting: &Acting, key: &str) -> Result<AlertSetting, WatchError> {
        let (info, setting_key) = alert_setting(key)?;
        let event = acting
            .event(rampart_core::identity::AuditAction::SettingUpdate)
            .target(format!("setting:{key}"))
            .detail("reset to the default");
        match self.inner.store.settings().delete(acting.org, &setting_key, &Effects::audit(event.clone())).await {
            Ok(()) => {}
            // Nothing was set: the reset changed nothing, and is audited all the same.
            Err(StoreError::NotFound) => {
                self.inner.store.audit().append(&event).await?;
            }
            Err(error) => return Err(error.into()),
        }
        self.settings_changed(acting.org);
        Ok(AlertSetting::of(info, None))
    }
}
