//! Executions: one tool run each, from queued to a final state, with progress, logs and result.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::identity::Actor;
use crate::output::ToolOutput;
use crate::words::words;
use crate::{ExecutionId, OrgId};

words!(
    /// `queued → running → succeeded | failed | cancelled | timed_out`; a lost worker's job goes back
    /// to `queued` until its attempts run out.
    ExecutionStatus {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        TimedOut => "timed_out",
    }
    else "must be queued, running, succeeded, failed, cancelled or timed_out"
);

impl ExecutionStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, ExecutionStatus::Queued | ExecutionStatus::Running)
    }
}

/// How a run ended. A run that succeeded stores its findings and artifacts with its status.
#[derive(Clone, Debug, PartialEq)]
pub enum Finish {
    Succeeded(ToolOutput),
    Failed(String),
    Cancelled,
    TimedOut,
}

impl Finish {
    pub fn status(&self) -> ExecutionStatus {
        match self {
            Finish::Succeeded(_) => ExecutionStatus::Succeeded,
            Finish::Failed(_) => ExecutionStatus::Failed,
            Finish::Cancelled => ExecutionStatus::Cancelled,
            Finish::TimedOut => ExecutionStatus::TimedOut,
        }
    }
}

/// A run to queue. The parameters have been validated against the tool's schema and scope.
#[derive(Clone, Debug, PartialEq)]
pub struct NewExecution {
    pub tool: String,
    pub params: Value,
    pub actor: Actor,
    pub timeout: Duration,
    pub max_attempts: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub id: ExecutionId,
    pub org_id: OrgId,
    pub tool: String,
    pub params: Value,
    pub status: ExecutionStatus,
    /// 0 to 100.
    pub progress: u8,
    pub progress_message: String,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub actor: Actor,
    /// How many times it was claimed; the current claim's number while running.
    pub attempt: u32,
    pub max_attempts: u32,
    pub timeout: Duration,
    pub worker: Option<String>,
    pub cancel_requested: bool,
    pub log_lines: u32,
    pub log_truncated: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

words!(
    /// Which output of a tool a log line came from.
    LogStream { Stdout => "stdout", Stderr => "stderr" }
    else "must be stdout or stderr"
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub seq: u32,
    pub at: DateTime<Utc>,
    pub stream: LogStream,
    pub line: String,
}
