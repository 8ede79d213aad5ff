//! Submitting and cancelling runs: everything is checked before anything is queued.

use rampart_core::executions::{Execution, NewExecution};
use rampart_core::identity::Acting;
use rampart_core::identity::{AuditAction, NewAuditEvent, Outcome};
use rampart_core::settings::SettingKey;
use rampart_core::{ExecutionId, OrgId, ValidationErrors};
use rampart_store::{Effects, StoreError};
use serde_json::Value;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::Engine;

/// The time limits a run may be given in place of its tool's default: 1 second to a day.
pub const TIME_LIMITS: RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(86_400);

/// Checks a run's time limit: within [`TIME_LIMITS`], or the error names `timeout_seconds`.
pub fn check_time_limit(timeout: Duration) -> Result<(), ValidationErrors> {
    if TIME_LIMITS.contains(&timeout) {
        return Ok(());
    }
    let (low, high) = (TIME_LIMITS.start().as_secs(), TIME_LIMITS.end().as_secs());
    Err(ValidationErrors::single("timeout_seconds", format!("must be between {low} and {high}")))
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad parameters, an unknown or disabled tool, or targets outside the scope: nothing was queued.
    #[error("invalid: {0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for EngineError {
    fn from(errors: ValidationErrors) -> Self {
        EngineError::Invalid(errors)
    }
}

impl Engine {
    /// Whether an organisation allows a tool (`tools.<name>.enabled`, true unless an admin set it false).
    pub async fn enabled(&self, org: OrgId, tool: &str) -> Result<bool, StoreError> {
        let Ok(key) = SettingKey::parse(&format!("tools.{tool}.enabled")) else { return Ok(true) };
        Ok(self.store.settings().find(org, &key).await?.is_none_or(|setting| setting.value != Value::Bool(false)))
    }

    /// Switches a tool on or off for an organisation; audited. The caller checked the tool exists.
    pub async fn set_enabled(&self, acting: &Acting, tool: &str, enabled: bool) -> Result<(), EngineError> {
        let key = SettingKey::parse(&format!("tools.{tool}.enabled"))
            .map_err(|reason| EngineError::Invalid(ValidationErrors::single("name", reason)))?;
        let event = NewAuditEvent::new(
            Some(acting.org),
            acting.actor,
            AuditAction::ToolUpdate,
            Outcome::Success,
            &acting.context,
        )
        .target(format!("tool:{tool}"))
        .detail(if enabled { "enabled" } else { "disabled" });
        self.store.settings().put(acting.org, &key, &Value::Bool(enabled), &Effects::audit(event)).await?;
        Ok(())
    }

    /// The tools an organisation switched off, in one read of its settings.
    pub async fn disabled_tools(&self, org: OrgId) -> Result<std::collections::HashSet<String>, StoreError> {
        Ok(self
            .store
            .settings()
            .list(org)
            .await?
            .into_iter()
            .filter(|setting| setting.value == Value::Bool(false))
            .filter_map(|setting| {
                let key = setting.key.as_str();
                key.strip_prefix("tools.").and_then(|rest| rest.strip_suffix(".enabled")).map(str::to_owned)
            })
            .collect())
    }

    /// Validates, checks the scope, and queues; answers the queued run. `timeout` replaces the
    /// tool's default time limit; it must be within [`TIME_LIMITS`].
    pub async fn submit(
        &self,
        acting: &Acting,
        tool_name: &str,
        params: Value,
        timeout: Option<Duration>,
    ) -> Result<Execution, EngineError> {
        if let Some(timeout) = timeout {
            check_time_limit(timeout)?;
        }
        let tool = self
            .tools
            .get(tool_name)
            .ok_or_else(|| ValidationErrors::single("tool", format!("there is no tool named {tool_name:?}")))?;
        if let Err(reason) = tool.availability() {
            return Err(ValidationErrors::single("tool", format!("is unavailable on this server: {reason}")).into());
        }
        if !self.enabled(acting.org, tool_name).await? {
            return Err(ValidationErrors::single("tool", "is disabled in this organisation").into());
        }
        let (fields, targets): (Vec<String>, Vec<String>) =
            tool.check(&params)?.into_iter().map(|target| (target.field, target.target)).unzip();
        let mut refused = ValidationErrors::new();
        for (field, result) in fields.into_iter().zip(self.scope.check(acting.org, &targets).await?) {
            if !result.in_scope {
                refused.add(field, format!("{}: {}", result.input, result.reason));
            }
        }
        if !refused.is_empty() {
            let event = NewAuditEvent::new(
                Some(acting.org),
                acting.actor,
                AuditAction::ScopeRefused,
                Outcome::Denied,
                &acting.context,
            )
            .target(format!("tool:{tool_name}"))
            .detail(refused.to_string());
            self.store.audit().append(&event).await?;
            return Err(refused.into());
        }
        let new = NewExecution {
            tool: tool_name.to_owned(),
            params,
            actor: acting.actor,
            timeout: timeout.unwrap_or(tool.info().default_timeout),
            max_attempts: self.config.max_attempts,
        };
        let audit = |execution: &Execution| {
            Effects::audit(
                acting
                    .event(AuditAction::ExecutionCreate)
                    .target(format!("execution:{}", execution.id))
                    .detail(format!("tool {tool_name}")),
            )
        };
        let execution = self.store.executions().enqueue(acting.org, &new, &audit).await?;
        self.queued.notify_waiters();
        Ok(execution)
    }

    /// Cancels a queued run at once, or asks a running one to stop.
    pub async fn cancel(&self, acting: &Acting, id: ExecutionId) -> Result<Execution, EngineError> {
        let event = acting.event(AuditAction::ExecutionCancel).target(format!("execution:{id}"));
        Ok(self.store.executions().cancel(acting.org, id, &Effects::audit(event)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_limit_is_one_second_to_a_day() {
        assert!(check_time_limit(Duration::from_secs(1)).is_ok());
        assert!(check_time_limit(Duration::from_secs(86_400)).is_ok());
        for refused in [Duration::ZERO, Duration::from_millis(999), Duration::from_secs(86_401)] {
            let errors = check_time_limit(refused).expect_err("out of range");
            assert_eq!(errors.to_string(), "timeout_seconds: must be between 1 and 86400", "{refused:?}");
        }
    }
}
