//! Policies as a service: admins keep them; the `decision-policies` consumer of the outbox reads
//! every alert raised or grown and lets each enabled policy of its organisation decide once on it
//! — a decision for the source, as long as its repeats within the window say, refused like any
//! other when the allowlist covers the source; or, in dry run, only the record of what it would
//! have made.

use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::identity::{Acting, Actor, AuditAction, NewAuditEvent, Outcome, RequestContext};
use rampart_core::outbox::{OutboxRecord, Topic};
use rampart_core::watch::decisions::{Addresses, Decision, DecisionOrigin, NewDecision, go_duration};
use rampart_core::watch::policies::{HitOutcome, Policy, PolicyHit, PolicyRule};
use rampart_core::{AlertId, OrgId, PolicyId};
use rampart_store::{Consumer, DeliveryError, DispatchConfig, Dispatcher, Effects, Seek, StoreError, Task};

use super::{Decisions, changed};
use crate::WatchError;

/// The outbox consumer's name: its progress is kept under it.
pub const CONSUMER: &str = "decision-policies";

impl Decisions {
    pub async fn create_policy(&self, acting: &Acting, rule: &PolicyRule) -> Result<Policy, WatchError> {
        let audit = |policy: &Policy| Effects::audit(policy_event(acting, AuditAction::PolicyCreate, policy));
        Ok(self.store().policies().insert(acting.org, rule, &audit).await?)
    }

    pub async fn update_policy(&self, acting: &Acting, id: PolicyId, rule: &PolicyRule) -> Result<Policy, WatchError> {
        let event = acting.event(AuditAction::PolicyUpdate).target(format!("policy:{id}")).detail(format!(
            "{}{}",
            rule.name,
            if rule.dry_run { " (dry run)" } else { "" }
        ));
        Ok(self.store().policies().update(acting.org, id, rule, &Effects::audit(event)).await?)
    }

    pub async fn delete_policy(&self, acting: &Acting, id: PolicyId) -> Result<(), WatchError> {
        let event = acting.event(AuditAction::PolicyDelete).target(format!("policy:{id}"));
        Ok(self.store().policies().delete(acting.org, id, &Effects::audit(event)).await?)
    }

    pub async fn policies(&self, org: OrgId, seek: Seek<PolicyId>) -> Result<Vec<Policy>, WatchError> {
        Ok(self.store().policies().list(org, seek).await?)
    }

    pub async fn policy(&self, org: OrgId, id: PolicyId) -> Result<Policy, WatchError> {
        Ok(self.store().policies().get(org, id).await?)
    }

    /// What a policy did lately, newest first, at most `limit` (it must be the organisation's).
    pub async fn hits(&self, org: OrgId, id: PolicyId, limit: u32) -> Result<Vec<PolicyHit>, WatchError> {
        self.store().policies().get(org, id).await?;
        Ok(self.store().policies().hits(org, id, limit).await?)
    }

    /// Lets every enabled policy of `org` decide once on the alert.
    pub async fn apply_policies(&self, org: OrgId, alert: AlertId) -> Result<(), WatchError> {
        let policies = self.store().policies().enabled(org).await?;
        if policies.is_empty() {
            return Ok(());
        }
        let alert = match self.store().watch().alert(org, alert).await {
            Ok(alert) => alert,
            Err(StoreError::NotFound) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        // A source firewalls cannot block (loopback, unspecified) is left alone.
        let Some(value) = alert.source_ip.and_then(|ip| Addresses::parse_decision(&ip.to_string()).ok()) else {
            return Ok(());
        };
        for policy in policies.iter().filter(|policy| policy.rule.takes(&alert)) {
            if self.store().policies().hit(org, policy.id, alert.id).await? {
                continue;
            }
            let now = self.now();
            let outcome = if policy.rule.dry_run { HitOutcome::DryRun } else { HitOutcome::Decided };
            let since = now - policy.rule.repeat_window;
            let prior = self.store().policies().hits_on(org, policy.id, &value.to_string(), outcome, since).await?;
            let duration = policy.rule.duration_for(prior);
            let mut hit = PolicyHit {
                policy_id: policy.id,
                org_id: org,
                alert_id: alert.id,
                value: value.to_string(),
                outcome,
                duration,
                decision_id: None,
                at: now,
            };
            if !policy.rule.dry_run {
                let new = NewDecision {
                    kind: policy.rule.kind,
                    value,
                    origin: DecisionOrigin::Policy,
                    scenario: policy.rule.scenario(),
                    reason: Some(format!(
                        "{}: {} events, highest score {:.1}, repeat {}",
                        alert.attack_type,
                        alert.events,
                        alert.max_score,
                        prior + 1
                    )),
                    until: now + duration,
                    alert: Some(alert.id),
                };
                let effects = |made: &Vec<Decision>| {
                    let mut event = NewAuditEvent::new(
                        Some(org),
                        Actor::System,
                        AuditAction::DecisionCreate,
                        Outcome::Success,
                        &RequestContext::default(),
                    )
                    .detail(format!(
                        "policy {}: {value} for {} after alert {}",
                        policy.rule.name,
                        go_duration(duration),
                        alert.id
                    ));
                    if let Some(decision) = made.first() {
                        event = event.target(format!("decision:{}", decision.id));
                    }
                    Effects::audit(event).record(changed(org, made, &[]))
                };
                match self.store().decisions().insert(org, std::slice::from_ref(&new), None, &[], &effects).await? {
                    Ok(made) => hit.decision_id = made.first().map(|decision| decision.id),
                    Err(_) => hit.outcome = HitOutcome::Allowlisted,
                }
                self.refreshed().await;
            }
            self.store().policies().record_hit(&hit).await?;
        }
        Ok(())
    }

    /// The dispatcher that feeds alerts to the policies.
    pub fn policy_dispatcher(&self) -> Task {
        let consumer = Arc::new(PolicyConsumer { decisions: self.clone() });
        let dispatcher = Dispatcher::new(self.inner.store.clone(), CONSUMER, consumer, DispatchConfig::default());
        Task::new(CONSUMER, move |stop| dispatcher.run(stop))
    }
}

fn policy_event(acting: &Acting, action: AuditAction, policy: &Policy) -> NewAuditEvent {
    acting.event(action).target(format!("policy:{}", policy.id)).detail(format!(
        "{}{}",
        policy.rule.name,
        if policy.rule.dry_run { " (dry run)" } else { "" }
    ))
}

/// Hands each alert raised or grown to the policies of its organisation.
struct PolicyConsumer {
    decisions: Decisions,
}

#[async_trait]
impl Consumer for PolicyConsumer {
    async fn deliver(&self, record: &OutboxRecord) -> Result<(), DeliveryError> {
        if !matches!(record.record.topic, Topic::AlertRaised | Topic::AlertChanged) {
            return Ok(());
        }
        let Some(org) = record.record.org else { return Ok(()) };
        let alert = record.record.payload["alert"].as_str().and_then(|id| id.parse::<uuid::Uuid>().ok());
        let Some(alert) = alert else { return Ok(()) };
        self.decisions
            .apply_policies(org, AlertId::from_uuid(alert))
            .await
            .map_err(|error| DeliveryError(error.to_string()))
    }
}
