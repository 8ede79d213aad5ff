//! An organisation's targets as a service: changes with their audit events (written in the
//! change's transaction), bulk import with a report per line, and the check of what a scan would
//! touch.

use std::sync::Arc;

use rampart_core::identity::{Acting, AuditAction, NewAuditEvent, Outcome};
use rampart_core::targets::{Host, NewTarget, POLICY_REFUSAL, Scope, TargetValue, parse_host_port};
use rampart_core::{OrgId, TargetId, ValidationErrors};
use rampart_store::{Effects, Store, StoreError, StoredTarget, TargetPatch};

use crate::gate::{DENIED, DenyList, Gate, Refusal, RefusalSink, Resolver, check_host};

/// Most lines a bulk import takes.
pub const BULK_MAX: usize = 10_000;

/// What a bulk import did, line by line (lines count from 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BulkImport {
    pub created: Vec<StoredTarget>,
    pub duplicates: Vec<(usize, String)>,
    pub errors: Vec<(usize, String, String)>,
}

/// The answer for one `host[:port]` of a scope check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub input: String,
    pub host: Option<Host>,
    pub port: Option<u16>,
    pub in_scope: bool,
    pub reason: String,
}

/// Why a target cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A field is refused (the server's policy does not allow the value).
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct ScopeService {
    store: Arc<dyn Store>,
    deny: Arc<DenyList>,
}

impl ScopeService {
    pub fn new(store: Arc<dyn Store>, deny: Arc<DenyList>) -> Self {
        Self { store, deny }
    }

    /// Stores a target the server's policy allows; 422 on `value` otherwise.
    pub async fn create(&self, acting: &Acting, target: NewTarget) -> Result<StoredTarget, TargetError> {
        self.permit(&target.value, target.exclude)?;
        let audit = |stored: &StoredTarget| {
            Effects::audit(
                acting
                    .event(AuditAction::TargetCreate)
                    .target(format!("target:{}", stored.id))
                    .detail(describe(&stored.target)),
            )
        };
        Ok(self.store.targets().insert(acting.org, &target, acting.user(), &audit).await?)
    }

    /// Changes a target; an exclusion turned into an inclusion is held to the policy.
    pub async fn update(&self, acting: &Acting, id: TargetId, patch: TargetPatch) -> Result<StoredTarget, TargetError> {
        if patch.exclude == Some(false) {
            let current = self.store.targets().get(acting.org, id).await?;
            self.permit(&current.target.value, false)?;
        }
        let audit = |stored: &StoredTarget| {
            Effects::audit(
                acting.event(AuditAction::TargetUpdate).target(format!("target:{id}")).detail(describe(&stored.target)),
            )
        };
        Ok(self.store.targets().update(acting.org, id, &patch, &audit).await?)
    }

    /// `Ok` when the server's policy lets an organisation authorise `value`.
    fn permit(&self, value: &TargetValue, exclude: bool) -> Result<(), ValidationErrors> {
        if self.deny.policy().permits_target(value, exclude) {
            Ok(())
        } else {
            Err(ValidationErrors::single("value", POLICY_REFUSAL))
        }
    }

    pub async fn delete(&self, acting: &Acting, id: TargetId) -> Result<(), StoreError> {
        let stored = self.store.targets().get(acting.org, id).await?;
        let audit = Effects::audit(
            acting.event(AuditAction::TargetDelete).target(format!("target:{id}")).detail(describe(&stored.target)),
        );
        self.store.targets().delete(acting.org, id, &audit).await
    }

    /// Imports the valid lines of `lines` (blank lines and `#` comments skipped), in one transaction.
    /// `template` gives every target its ports, exclusion, note and tags.
    pub async fn import(
        &self,
        acting: &Acting,
        lines: &[String],
        template: &NewTarget,
    ) -> Result<BulkImport, StoreError> {
        let mut report = BulkImport::default();
        let mut candidates = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (index, line) in lines.iter().enumerate() {
            let text = line.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            match rampart_core::targets::TargetValue::parse(text) {
                Err(message) => report.errors.push((index + 1, text.to_owned(), message)),
                // The same value twice in one import is a duplicate too.
                Ok(value) if self.permit(&value, template.exclude).is_err() => {
                    report.errors.push((index + 1, text.to_owned(), POLICY_REFUSAL.to_owned()))
                }
                Ok(value) if !seen.insert(value.clone()) => report.duplicates.push((index + 1, text.to_owned())),
                Ok(value) => candidates.push((index + 1, text.to_owned(), NewTarget { value, ..template.clone() })),
            }
        }
        let targets: Vec<NewTarget> = candidates.iter().map(|(_, _, target)| target.clone()).collect();
        let audit = |inserted: &Vec<Option<StoredTarget>>| {
            let created = inserted.iter().flatten().count();
            let duplicates = report.duplicates.len() + (inserted.len() - created);
            let detail = format!("{created} created, {duplicates} duplicates, {} rejected", report.errors.len());
            Effects::audit(acting.event(AuditAction::TargetImport).detail(detail))
        };
        let inserted = self.store.targets().insert_many(acting.org, &targets, acting.user(), &audit).await?;
        for ((line, text, _), stored) in candidates.into_iter().zip(inserted) {
            match stored {
                Some(stored) => report.created.push(stored),
                None => report.duplicates.push((line, text)),
            }
        }
        report.duplicates.sort();
        Ok(report)
    }

    /// The verdict for each `host[:port]`, with the deny list applied; names are not resolved.
    pub async fn check(&self, org: OrgId, inputs: &[String]) -> Result<Vec<CheckResult>, StoreError> {
        let scope = self.scope(org).await?;
        Ok(inputs
            .iter()
            .map(|input| match parse_host_port(input) {
                // A network is in scope only when all of it is.
                Err(_)
                    if input.contains('/')
                        && let Ok(TargetValue::Cidr(net)) = TargetValue::parse(input) =>
                {
                    let verdict = scope.check_network(net);
                    if !self.deny.policy().permits_target(&TargetValue::Cidr(net), false) {
                        return CheckResult {
                            input: input.clone(),
                            host: None,
                            port: None,
                            in_scope: false,
                            reason: format!("out of scope: {DENIED}"),
                        };
                    }
                    CheckResult {
                        input: input.clone(),
                        host: None,
                        port: None,
                        in_scope: verdict.is_in(),
                        reason: verdict.reason(),
                    }
                }
                Err(reason) => CheckResult {
                    input: input.clone(),
                    host: None,
                    port: None,
                    in_scope: false,
                    reason: format!("out of scope: {reason}"),
                },
                Ok((host, port)) => {
                    let (in_scope, reason) = check_host(&scope, &self.deny, &host, port);
                    CheckResult { input: input.clone(), host: Some(host), port, in_scope, reason }
                }
            })
            .collect())
    }

    /// The organisation's scope, indexed.
    pub async fn scope(&self, org: OrgId) -> Result<Scope, StoreError> {
        Ok(Scope::new(self.store.targets().scope(org).await?))
    }

    /// A gate for work done by `acting`: its refusals are audited in the organisation's log.
    pub async fn gate(&self, acting: &Acting, resolver: Arc<dyn Resolver>) -> Result<Gate, StoreError> {
        let scope = Arc::new(self.scope(acting.org).await?);
        let sink = Arc::new(AuditRefusals { store: self.store.clone(), acting: acting.clone() });
        Ok(Gate::new(scope, self.deny.clone(), resolver, sink))
    }
}

fn describe(target: &NewTarget) -> String {
    let mut text = format!("{}{}", if target.exclude { "exclude " } else { "" }, target.value);
    if let Some(ports) = &target.ports {
        text.push_str(&format!(" ports {ports}"));
    }
    text
}

/// Writes every refusal of the gate to the audit log.
struct AuditRefusals {
    store: Arc<dyn Store>,
    acting: Acting,
}

#[async_trait::async_trait]
impl RefusalSink for AuditRefusals {
    async fn refused(&self, refusal: &Refusal) {
        let target = match refusal.port {
            Some(port) => format!("{}:{port}", refusal.host),
            None => refusal.host.clone(),
        };
        let event = NewAuditEvent::new(
            Some(self.acting.org),
            self.acting.actor,
            AuditAction::ScopeRefused,
            Outcome::Denied,
            &self.acting.context,
        )
        .target(target)
        .detail(refusal.reason.clone());
        if let Err(error) = self.store.audit().append(&event).await {
            // The caller is refused all the same; the failure to record it is logged.
            tracing::error!(%error, "cannot record a scope refusal in the audit log");
        }
    }
}
