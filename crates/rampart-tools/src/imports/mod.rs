//! Reports of other tools, imported: nmap XML, SARIF 2.1.0, nuclei JSONL and gitleaks JSON, each
//! read strictly and with bounds (XML without DTDs or entities, every count capped) into the
//! same findings and artifacts a run produces. Pure: nothing here stores or sends anything.
//! An import covers nothing: a report says what another tool found, not what it looked for or
//! whether it finished, so what it lacks can never resolve a finding.

mod gitleaks;
mod nuclei;
mod sarif;

use rampart_core::output::ToolOutput;
use serde_json::json;

use crate::nmap;

/// Findings one imported report keeps at most: a scanner's whole report, more than a run keeps.
pub const IMPORT_KEPT_MAX: usize = 200_000;

/// The formats an import takes, by their names in the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    NmapXml,
    Sarif,
    NucleiJsonl,
    GitleaksJson,
}

impl Format {
    pub const NAMES: [&'static str; 4] = ["nmap_xml", "sarif", "nuclei_jsonl", "gitleaks_json"];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "nmap_xml" => Ok(Format::NmapXml),
            "sarif" => Ok(Format::Sarif),
            "nuclei_jsonl" => Ok(Format::NucleiJsonl),
            "gitleaks_json" => Ok(Format::GitleaksJson),
            _ => Err(format!("must be one of {}", Self::NAMES.join(", "))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::NmapXml => "nmap_xml",
            Format::Sarif => "sarif",
            Format::NucleiJsonl => "nuclei_jsonl",
            Format::GitleaksJson => "gitleaks_json",
        }
    }
}

/// Reads a report: its findings and artifacts, and a result that summarises it; or why it was
/// refused, said for people.
pub fn read(format: Format, bytes: &[u8]) -> Result<ToolOutput, String> {
    match format {
        Format::NmapXml => {
            let report = nmap::parse(bytes).map_err(|error| error.to_string())?;
            let (findings, artifacts) = nmap::output_of(&report);
            let hosts = serde_json::to_value(nmap::tool::host_views(&report)).unwrap_or_default();
            Ok(ToolOutput {
                result: json!({"format": format.as_str(), "hosts": hosts}),
                findings,
                artifacts,
                // An imported report proves nothing of what it does not list (see above).
                coverage: Default::default(),
            })
        }
        Format::Sarif => sarif::read(bytes),
        Format::NucleiJsonl => nuclei::read(bytes),
        Format::GitleaksJson => gitleaks::read(bytes),
    }
}

/// A severity from a tool's word for it; `info` when unknown.
fn severity(word: &str) -> rampart_core::findings::Severity {
    use rampart_core::findings::Severity;
    match word.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" | "error" => Severity::High,
        "medium" | "warning" => Severity::Medium,
        "low" | "note" => Severity::Low,
        _ => Severity::Info,
    }
}

/// The result of a report read into findings and artifacts.
fn summary(format: Format, output: &ToolOutput) -> serde_json::Value {
    json!({
        "format": format.as_str(),
        "findings": output.findings.total(),
        "artifacts": output.artifacts.total(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_report_covers_nothing_however_whole_it_looks() {
        let nmap = br#"<nmaprun><host><status state="up"/><address addr="10.0.0.5" addrtype="ipv4"/>
            <ports><extraports state="closed" count="999"/>
            <port protocol="tcp" portid="6379"><state state="open"/></port></ports></host></nmaprun>"#;
        let output = read(Format::NmapXml, nmap).expect("a report");
        assert_eq!(output.findings.items().len(), 1, "the exposure is read");
        assert!(output.coverage.is_empty(), "a report says what was found, not all that was looked for");
    }
}
