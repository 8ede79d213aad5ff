//! `noop`: touches nothing. It waits as long as asked, reporting progress, so the engine can be
//! exercised and measured end to end without any traffic; its `targets` are only scope-checked.

use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tool::{Tool, ToolContext, ToolInfo, parse_params, schema_of};

/// Longest wait a noop run accepts.
const SLEEP_MAX_MS: u64 = 600_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoopParams {
    /// How long to wait, in milliseconds (at most 600000).
    #[serde(default)]
    pub sleep_ms: u64,
    /// Targets to check against the scope; nothing is sent to them.
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
        ToolInfo {
            name: "noop",
            category: "diagnostics",
            description: "Does nothing but wait, reporting progress: checks the engine end to end without any traffic.",
            params_schema: schema_of::<NoopParams>(),
            result_schema: schema_of::<NoopResult>(),
            default_timeout: Duration::from_secs(15 * 60),
        }
    }

    fn check(&self, params: &Value) -> Result<Vec<String>, ValidationErrors> {
        let params: NoopParams = parse_params(params)?;
        if params.sleep_ms > SLEEP_MAX_MS {
            return Err(ValidationErrors::single("params.sleep_ms", format!("must be at most {SLEEP_MAX_MS}")));
        }
        Ok(params.targets)
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<Value, String> {
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
        serde_json::to_value(result).map_err(|_| "cannot encode the result".to_owned())
    }
}
