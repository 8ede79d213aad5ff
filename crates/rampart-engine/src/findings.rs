//! People's changes to tracked findings — triage, assignment, risk acceptance, notes — checked,
//! recorded in each finding's history and audited in the same transaction; and the sweep that
//! reopens accepted risks whose time is up.

use std::collections::HashSet;
use std::time::Duration;

use rampart_core::findings::{BULK_MAX, FindingChange, TrackedFinding};
use rampart_core::identity::{Acting, AuditAction};
use rampart_core::{FindingId, ValidationErrors};
use rampart_store::{Effects, Task};
use tokio_util::sync::CancellationToken;

use crate::{Engine, EngineError};

/// How often accepted risks are looked at for their expiry.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl Engine {
    /// Applies `change` to the findings `ids` (at most [`BULK_MAX`], each named once) of the
    /// acting organisation: all of them or none. The assignee must be a member of it.
    pub async fn change_findings(
        &self,
        acting: &Acting,
        ids: &[FindingId],
        change: FindingChange,
    ) -> Result<Vec<TrackedFinding>, EngineError> {
        let mut errors = ValidationErrors::new();
        if ids.is_empty() || ids.len() > BULK_MAX {
            errors.add("ids", format!("must name 1 to {BULK_MAX} findings"));
        }
        // One named twice is changed once.
        let mut seen = HashSet::new();
        let ids: Vec<FindingId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        let change = match change.checked(self.store.clock().now()) {
            Ok(change) => Some(change),
            Err(more) => {
                for error in more.iter() {
                    errors.add(error.field.clone(), error.message.clone());
                }
                None
            }
        };
        if let Some(Some(user)) = change.as_ref().and_then(|change| change.assignee)
            && self.store.members().role_of(acting.org, user).await?.is_none()
        {
            errors.add("assignee", "must be a member of the organisation");
        }
        let Some(change) = change.filter(|_| errors.is_empty()) else { return Err(errors.into()) };

        let target = match ids.as_slice() {
            [one] => format!("finding:{one}"),
            many => format!("findings:{}", many.len()),
        };
        let mut said = Vec::new();
        if let Some(status) = change.status {
            said.push(format!("status {status}"));
        }
        if let Some(until) = change.accepted_until {
            said.push(format!("accepted until {}", until.to_rfc3339()));
        }
        if let Some(assignee) = change.assignee {
            said.push(assignee.map_or_else(|| "unassigned".to_owned(), |user| format!("assigned to user:{user}")));
        }
        if !change.note.is_empty() {
            said.push(format!("why: {}", change.note));
        }
        let event = acting.event(AuditAction::FindingUpdate).target(target).detail(said.join("; "));
        let changed = self
            .store
            .findings()
            .change(acting.org, &ids, &change, acting.actor, &|_| Effects::audit(event.clone()))
            .await?;
        Ok(changed)
    }

    /// The task, named `acceptances`, that reopens accepted risks once their time is up.
    pub fn acceptance_sweeper(&self) -> Task {
        let engine = self.clone();
        Task::new("acceptances", move |stop: CancellationToken| async move {
            loop {
                let now = engine.store.clock().now();
                if let Err(error) = engine.store.findings().reopen_expired(now).await {
                    tracing::warn!(%error, "reopening expired risk acceptances failed; trying again later");
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(SWEEP_EVERY) => {}
                }
            }
        })
    }
}
