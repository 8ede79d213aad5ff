//! Policies and what they did: each policy decides once per alert (its hit is keyed by the two),
//! and the hits within its repeat window say how long its next decision on a source lasts.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rampart_core::watch::policies::{HitOutcome, Policy, PolicyHit, PolicyRule};
use rampart_core::{AlertId, DecisionId, OrgId, PolicyId};
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, EffectsOf, Seek, SqlStore, StoreError, StoreResult};

/// The most policies an organisation has.
pub const POLICIES_MAX: i64 = 100;

#[async_trait]
pub trait PolicyStore: Send + Sync {
    async fn insert(&self, org: OrgId, rule: &PolicyRule, then: EffectsOf<'_, Policy>) -> StoreResult<Policy>;
    /// By id (oldest first), after `seek.from` when given.
    async fn list(&self, org: OrgId, seek: Seek<PolicyId>) -> StoreResult<Vec<Policy>>;
    async fn get(&self, org: OrgId, id: PolicyId) -> StoreResult<Policy>;
    async fn update(&self, org: OrgId, id: PolicyId, rule: &PolicyRule, effects: &Effects) -> StoreResult<Policy>;
    async fn delete(&self, org: OrgId, id: PolicyId, effects: &Effects) -> StoreResult<()>;
    /// The organisation's enabled policies.
    async fn enabled(&self, org: OrgId) -> StoreResult<Vec<Policy>>;
    /// Whether the policy already decided on the alert.
    async fn hit(&self, org: OrgId, policy: PolicyId, alert: AlertId) -> StoreResult<bool>;
    /// Records a hit; a second one for the same policy and alert is not kept.
    async fn record_hit(&self, hit: &PolicyHit) -> StoreResult<()>;
    /// The hits of a policy on `value` since `since` whose outcome was `outcome`.
    async fn hits_on(
        &self,
        org: OrgId,
        policy: PolicyId,
        value: &str,
        outcome: HitOutcome,
        since: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// A policy's latest hits, newest first, at most `limit`.
    async fn hits(&self, org: OrgId, policy: PolicyId, limit: u32) -> StoreResult<Vec<PolicyHit>>;
}

const COLUMNS: &str = "id, org_id, name, attack_type, min_score, min_events, kind, durations, repeat_window, \
     dry_run, enabled, created_at, updated_at";
const HIT_COLUMNS: &str = "policy_id, org_id, alert_id, value, outcome, duration, decision_id, at";

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    attack_type: Option<String>,
    min_score: Option<f64>,
    min_events: Option<i64>,
    kind: String,
    durations: Json<Vec<i64>>,
    repeat_window: i64,
    dry_run: bool,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("a stored policy is invalid".into())
}

impl PolicyRow {
    fn into_policy(self) -> StoreResult<Policy> {
        Ok(Policy {
            id: PolicyId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            rule: PolicyRule {
                name: self.name,
                attack_type: self.attack_type,
                min_score: self.min_score,
                min_events: self.min_events.map(|events| u64::try_from(events).map_err(invalid)).transpose()?,
                kind: self.kind.parse().map_err(invalid)?,
                durations: self.durations.0.into_iter().map(Duration::seconds).collect(),
                repeat_window: Duration::seconds(self.repeat_window),
                dry_run: self.dry_run,
                enabled: self.enabled,
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct HitRow {
    policy_id: Uuid,
    org_id: Uuid,
    alert_id: Uuid,
    value: String,
    outcome: String,
    duration: i64,
    decision_id: Option<Uuid>,
    at: DateTime<Utc>,
}

impl HitRow {
    fn into_hit(self) -> StoreResult<PolicyHit> {
        Ok(PolicyHit {
            policy_id: PolicyId::from_uuid(self.policy_id),
            org_id: OrgId::from_uuid(self.org_id),
            alert_id: AlertId::from_uuid(self.alert_id),
            value: self.value,
            outcome: self.outcome.parse().map_err(invalid)?,
            duration: Duration::seconds(self.duration),
            decision_id: self.decision_id.map(DecisionId::from_uuid),
            at: self.at,
        })
    }
}

fn seconds(durations: &[Duration]) -> Json<Vec<i64>> {
    Json(durations.iter().map(Duration::num_seconds).collect())
}

#[async_trait]
impl PolicyStore for SqlStore {
    async fn insert(&self, org: OrgId, rule: &PolicyRule, then: EffectsOf<'_, Policy>) -> StoreResult<Policy> {
        let sql = format!(
            "INSERT INTO decision_policies ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
             RETURNING {COLUMNS}"
        );
        let now = self.now();
        let policy = unit_of_work!(
            self,
            |tx| {
                let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM decision_policies WHERE org_id = $1")
                    .bind(org.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                if held >= POLICIES_MAX {
                    return Err(StoreError::Refused("the organisation has 100 policies already"));
                }
                sqlx::query_as::<_, PolicyRow>(&sql)
                    .bind(PolicyId::new().as_uuid())
                    .bind(org.as_uuid())
                    .bind(&rule.name)
                    .bind(rule.attack_type.as_deref())
                    .bind(rule.min_score)
                    .bind(rule.min_events.map(|events| i64::try_from(events).unwrap_or(i64::MAX)))
                    .bind(rule.kind.as_str())
                    .bind(seconds(&rule.durations))
                    .bind(rule.repeat_window.num_seconds())
                    .bind(rule.dry_run)
                    .bind(rule.enabled)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::conflict_on("name"))?
                    .into_policy()?
            },
            then
        );
        Ok(policy)
    }

    async fn list(&self, org: OrgId, seek: Seek<PolicyId>) -> StoreResult<Vec<Policy>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM decision_policies WHERE org_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, PolicyRow>(&sql)
                .bind(org.as_uuid())
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(PolicyRow::into_policy).collect()
    }

    async fn get(&self, org: OrgId, id: PolicyId) -> StoreResult<Policy> {
        let sql = format!("SELECT {COLUMNS} FROM decision_policies WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, PolicyRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_policy()
    }

    async fn update(&self, org: OrgId, id: PolicyId, rule: &PolicyRule, effects: &Effects) -> StoreResult<Policy> {
        let sql = format!(
            "UPDATE decision_policies SET name = $3, attack_type = $4, min_score = $5, min_events = $6, kind = $7, \
             durations = $8, repeat_window = $9, dry_run = $10, enabled = $11, updated_at = $12 \
             WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let now = self.now();
        let policy = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, PolicyRow>(&sql)
                .bind(org.as_uuid())
                .bind(id.as_uuid())
                .bind(&rule.name)
                .bind(rule.attack_type.as_deref())
                .bind(rule.min_score)
                .bind(rule.min_events.map(|events| i64::try_from(events).unwrap_or(i64::MAX)))
                .bind(rule.kind.as_str())
                .bind(seconds(&rule.durations))
                .bind(rule.repeat_window.num_seconds())
                .bind(rule.dry_run)
                .bind(rule.enabled)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::conflict_on("name"))?
                .into_policy()?,
            |_: &Policy| effects.clone()
        );
        Ok(policy)
    }

    async fn delete(&self, org: OrgId, id: PolicyId, effects: &Effects) -> StoreResult<()> {
        self.delete_owned("decision_policies", org, id.as_uuid(), effects).await
    }

    async fn enabled(&self, org: OrgId) -> StoreResult<Vec<Policy>> {
        let sql = format!("SELECT {COLUMNS} FROM decision_policies WHERE org_id = $1 AND enabled ORDER BY id");
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, PolicyRow>(&sql).bind(org.as_uuid()).fetch_all(pool).await
        })?;
        rows.into_iter().map(PolicyRow::into_policy).collect()
    }

    async fn hit(&self, org: OrgId, policy: PolicyId, alert: AlertId) -> StoreResult<bool> {
        let found: i64 = on_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM policy_hits WHERE org_id = $1 AND policy_id = $2 AND alert_id = $3",
            )
            .bind(org.as_uuid())
            .bind(policy.as_uuid())
            .bind(alert.as_uuid())
            .fetch_one(pool)
            .await?
        });
        Ok(found > 0)
    }

    async fn record_hit(&self, hit: &PolicyHit) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO policy_hits ({HIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (policy_id, alert_id) DO NOTHING"
        );
        on_pool!(&self.db, |pool| {
            sqlx::query(&sql)
                .bind(hit.policy_id.as_uuid())
                .bind(hit.org_id.as_uuid())
                .bind(hit.alert_id.as_uuid())
                .bind(&hit.value)
                .bind(hit.outcome.as_str())
                .bind(hit.duration.num_seconds())
                .bind(hit.decision_id.map(|id| id.as_uuid()))
                .bind(hit.at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn hits_on(
        &self,
        org: OrgId,
        policy: PolicyId,
        value: &str,
        outcome: HitOutcome,
        since: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let count: i64 = on_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM policy_hits WHERE org_id = $1 AND policy_id = $2 AND value = $3 \
                 AND outcome = $4 AND at >= $5",
            )
            .bind(org.as_uuid())
            .bind(policy.as_uuid())
            .bind(value)
            .bind(outcome.as_str())
            .bind(since)
            .fetch_one(pool)
            .await?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn hits(&self, org: OrgId, policy: PolicyId, limit: u32) -> StoreResult<Vec<PolicyHit>> {
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM policy_hits WHERE org_id = $1 AND policy_id = $2 ORDER BY at DESC LIMIT $3"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, HitRow>(&sql)
                .bind(org.as_uuid())
                .bind(policy.as_uuid())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(HitRow::into_hit).collect()
    }
}
