//! `noop`: touches nothing. It waits as long as asked, reporting progress, so the engine can be
//! exercised and measured end to end without any traffic; its `targets` are only scope-checked.

use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};

/// Longest wait a noop run accepts.
const SLEEP_MAX_MS: u64 = 600_000;
/// Most targets a noop run names, as many as one scope check takes.
pub const TARGETS_MAX: usize = 1000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoopParams {
    /// How long to wait, in milliseconds (at most 600000).
    #[serde(default)]
    pub sleep_ms: u64,
    /// Targets to check against the scope (at most 1000); nothing is sent to them.
    #[serde(default)]
    pub targets: Vec<String>,
    /// End as failed instead of succeeded.
    #[serde(default)]
    pub fail: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NoopResult {
    pub slept_ms: u64,
    pub targets: Vec<String>,
}

pub struct Noop;

#[async_trait]
impl Tool for Noop {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<NoopParams, NoopResult>(
            "noop",
            "diagnostics",
            "Does nothing but wait, reporting progress: checks the engine end to end without any traffic.",
            Duration::from_secs(15 * 60),
        )
    }

    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: NoopParams = parse_params(params)?;
        let mut errors = ValidationErrors::new();
        if params.sleep_ms > SLEEP_MAX_MS {
            errors.add("params.sleep_ms", format!("must be at most {SLEEP_MAX_MS}"));
        }
        // Bounded before any is checked: each refused target is named in the answer and the audit.
        if params.targets.len() > TARGETS_MAX {
            errors.add("params.targets", format!("name at most {TARGETS_MAX} targets"));
        }
        errors.into_result(|| RunTarget::list("targets", params.targets))
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        let params: NoopParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        context.log(LogStream::Stdout, format!("waiting {} ms", params.sleep_ms));
        let step = Duration::from_millis(50);
        let total = Duration::from_millis(params.sleep_ms);
        let mut waited = Duration::ZERO;
        while waited < total {
            let pause = step.min(total - waited);
            tokio::select! {
                () = tokio::time::sleep(pause) => waited += pause,
                () = context.cancel.cancelled() => return Err("cancelled".into()),
            }
            let percent = u8::try_from(waited.as_millis() * 100 / total.as_millis().max(1)).unwrap_or(100);
            context.progress(percent, format!("{} of {} ms", waited.as_millis(), total.as_millis()));
        }
        if params.fail {
            return Err("asked to fail".into());
        }
        let result = NoopResult { slept_ms: params.sleep_ms, targets: params.targets };
        serde_json::to_value(result).map(ToolOutput::new).map_err(|_| "cannot encode the result".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused_fields(params: Value) -> Vec<String> {
        match Noop.check(&params) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|error| error.field).collect(),
        }
    }

    #[test]
    fn the_number_of_targets_is_bounded_before_any_is_checked() {
        let most = vec!["x"; TARGETS_MAX];
        assert_eq!(Noop.check(&json!({ "targets": most })).map(|targets| targets.len()), Ok(TARGETS_MAX));
        let too_many = vec!["x"; TARGETS_MAX + 1];
        assert_eq!(
            refused_fields(json!({ "targets": too_many, "sleep_ms": 600_001 })),
            ["params.sleep_ms", "params.targets"]
        );
    }
}
