//! SARIF 2.1.0 (static analysers' results): each result a finding, `sarif.<rule id>`, on the file
//! of its first location at its line, with the level as the severity. A log Rampart wrote (its
//! driver is `Rampart …`) gives back the findings it holds as they were — check id, asset and
//! location from its logical locations, severity from its properties — so an exported report
//! imported again is the same findings, not new ones.

use rampart_core::output::{Finding, Kept, ToolOutput};
use serde::Deserialize;

use super::{Format, severity, summary};

#[derive(Deserialize)]
struct Log {
    version: String,
    #[serde(default)]
    runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    #[serde(default)]
    tool: Option<Tool>,
    #[serde(default)]
    results: Vec<SarifResult>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
struct Driver {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    message: Message,
    #[serde(default)]
    locations: Vec<Location>,
    #[serde(default)]
    properties: Option<Properties>,
}

#[derive(Deserialize)]
struct Properties {
    #[serde(default)]
    severity: Option<String>,
}

#[derive(Default, Deserialize)]
struct Message {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(default)]
    physical_location: Option<Physical>,
    #[serde(default)]
    logical_locations: Vec<Logical>,
}

#[derive(Deserialize)]
struct Logical {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    #[serde(default)]
    artifact_location: Option<ArtifactLocation>,
    #[serde(default)]
    region: Option<Region>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    #[serde(default)]
    uri: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    #[serde(default)]
    start_line: Option<u64>,
}

/// A result of a log Rampart wrote, as the finding it was: its asset the first logical location,
/// its location the second; `None` when it does not say where (read as any other result).
fn rampart_finding(rule: &str, result: &SarifResult) -> Option<Finding> {
    let logical = &result.locations.first()?.logical_locations;
    let asset = logical.first().map(|place| place.name.as_str()).filter(|asset| !asset.is_empty())?;
    let location = logical.get(1).map_or("", |place| place.name.as_str());
    let severity = result
        .properties
        .as_ref()
        .and_then(|properties| properties.severity.as_deref()?.parse().ok())
        .unwrap_or_else(|| severity(result.level.as_deref().unwrap_or("warning")));
    let mut lines = result.message.text.splitn(2, "\n\n");
    let title = lines.next().unwrap_or(rule);
    Some(Finding::new(severity, rule, title, asset, location).detail(lines.next().unwrap_or_default()))
}

pub(super) fn read(bytes: &[u8]) -> Result<ToolOutput, String> {
    let log: Log = serde_json::from_slice(bytes).map_err(|error| format!("is not a SARIF log: {error}"))?;
    if log.version != "2.1.0" {
        return Err(format!("is SARIF {:?}; version 2.1.0 is read", log.version.chars().take(16).collect::<String>()));
    }
    let mut findings = Kept::with_cap(super::IMPORT_KEPT_MAX);
    for run in &log.runs {
        let tool = run.tool.as_ref().map(|tool| tool.driver.name.as_str()).unwrap_or_default();
        let ours = tool == "Rampart" || tool.starts_with("Rampart ");
        for result in &run.results {
            let rule = result.rule_id.as_deref().unwrap_or("result");
            if ours && let Some(finding) = rampart_finding(rule, result) {
                findings.push(finding);
                continue;
            }
            let physical = result.locations.first().and_then(|location| location.physical_location.as_ref());
            let file = physical.and_then(|p| p.artifact_location.as_ref()).map(|a| a.uri.as_str()).unwrap_or_default();
            let line = physical.and_then(|p| p.region.as_ref()).and_then(|region| region.start_line);
            let title = result.message.text.lines().next().unwrap_or(rule);
            let asset = if file.is_empty() { tool } else { file };
            let location = line.map(|line| format!("line {line}")).unwrap_or_default();
            findings.push(
                Finding::new(
                    severity(result.level.as_deref().unwrap_or("warning")),
                    format!("sarif.{rule}"),
                    title,
                    asset,
                    location,
                )
                .detail(format!("{tool}: {}", result.message.text)),
            );
        }
    }
    // An import covers nothing: what the report does not list was not necessarily looked for.
    let mut output =
        ToolOutput { result: serde_json::Value::Null, findings, artifacts: Kept::default(), coverage: Kept::default() };
    output.result = summary(Format::Sarif, &output);
    Ok(output)
}
