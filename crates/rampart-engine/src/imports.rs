//! Imports: another tool's report, read by `rampart_tools::imports` into findings and artifacts,
//! recorded as an execution of the `import` tool that is already over (its parameters say the
//! format and the source), its output and its audit event written in one transaction.

use std::time::Duration;

use rampart_core::ValidationErrors;
use rampart_core::executions::{Execution, NewExecution};
use rampart_core::identity::{Acting, AuditAction};
use rampart_store::Effects;
use rampart_tools::imports::{self, Format};
use serde_json::json;

use crate::{Engine, EngineError};

/// The tool name an imported report's execution carries.
pub const IMPORT_TOOL: &str = "import";
/// Most characters of an import's source (a file name).
pub const SOURCE_MAX: usize = 200;

impl Engine {
    /// Reads `report` as `format` and records it, naming `source`; a report that cannot be read
    /// (malformed, a DTD or an entity in XML, the wrong version) is refused on `file`, nothing
    /// stored.
    pub async fn import(
        &self,
        acting: &Acting,
        format: Format,
        source: &str,
        report: &[u8],
    ) -> Result<Execution, EngineError> {
        let source = source.trim();
        if source.chars().count() > SOURCE_MAX || source.chars().any(char::is_control) {
            return Err(ValidationErrors::single(
                "source",
                format!("must be at most {SOURCE_MAX} characters, without control characters"),
            )
            .into());
        }
        let output = imports::read(format, report).map_err(|reason| ValidationErrors::single("file", reason))?;
        let new = NewExecution {
            tool: IMPORT_TOOL.to_owned(),
            params: json!({"format": format.as_str(), "source": source}),
            actor: acting.actor,
            timeout: Duration::from_secs(1),
            max_attempts: 1,
        };
        let audit = |execution: &Execution| {
            Effects::audit(
                acting
                    .event(AuditAction::ExecutionCreate)
                    .target(format!("execution:{}", execution.id))
                    .detail(format!("import of a {} report", format.as_str())),
            )
        };
        Ok(self.store.executions().record_finished(acting.org, &new, &output, &audit).await?)
    }
}
