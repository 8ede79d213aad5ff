//! gitleaks' JSON report: each leak a high finding, `gitleaks.<rule id>`, on its file at its
//! commit and line. The secret and the line it matched are never kept: a finding says where a
//! secret is, not what it is.

use rampart_core::findings::Severity;
use rampart_core::output::{Finding, Kept, ToolOutput};
use serde::Deserialize;

use super::{Format, summary};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Leak {
    #[serde(rename = "RuleID")]
    rule_id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    file: String,
    #[serde(default)]
    start_line: u64,
    #[serde(default)]
    commit: String,
}

pub(super) fn read(bytes: &[u8]) -> Result<ToolOutput, String> {
    let leaks: Vec<Leak> =
        serde_json::from_slice(bytes).map_err(|error| format!("is not a gitleaks report: {error}"))?;
    let mut findings = Kept::with_cap(super::IMPORT_KEPT_MAX);
    for leak in &leaks {
        let title = if leak.description.is_empty() { leak.rule_id.clone() } else { leak.description.clone() };
        let commit: String = leak.commit.chars().take(40).collect();
        let location = if commit.is_empty() {
            format!("line {}", leak.start_line)
        } else {
            format!("{commit}:{}", leak.start_line)
        };
        findings.push(
            Finding::new(Severity::High, format!("gitleaks.{}", leak.rule_id), title, &leak.file, location)
                .detail(format!("gitleaks rule {} matched a secret (not kept) in {}.", leak.rule_id, leak.file)),
        );
    }
    // An import covers nothing: what the report does not list was not necessarily looked for.
    let mut output =
        ToolOutput { result: serde_json::Value::Null, findings, artifacts: Kept::default(), coverage: Kept::default() };
    output.result = summary(Format::GitleaksJson, &output);
    Ok(output)
}
