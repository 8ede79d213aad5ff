//! nuclei's JSON lines: each line a finding, `nuclei.<template id>`, on its host at what matched,
//! with the template's severity; each matched URL a `Url` artifact and each address a `Host`.

use std::net::IpAddr;

use rampart_core::output::{Artifact, Finding, Kept, ToolOutput};
use serde::Deserialize;

use super::{Format, severity, summary};

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "template-id")]
    template_id: String,
    #[serde(default)]
    info: Info,
    #[serde(default)]
    host: String,
    #[serde(default, rename = "matched-at")]
    matched_at: String,
    #[serde(default)]
    ip: Option<String>,
}

#[derive(Default, Deserialize)]
struct Info {
    #[serde(default)]
    name: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    description: String,
}

pub(super) fn read(bytes: &[u8]) -> Result<ToolOutput, String> {
    let mut findings = Kept::with_cap(super::IMPORT_KEPT_MAX);
    let mut artifacts = Kept::default();
    for (index, raw) in bytes.split(|byte| *byte == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Line = serde_json::from_slice(raw)
            .map_err(|error| format!("line {} is not a nuclei result: {error}", index + 1))?;
        let title = if line.info.name.is_empty() { line.template_id.clone() } else { line.info.name.clone() };
        let asset = if line.host.is_empty() { line.matched_at.clone() } else { line.host.clone() };
        findings.push(
            Finding::new(
                severity(&line.info.severity),
                format!("nuclei.{}", line.template_id),
                title,
                asset,
                &line.matched_at,
            )
            .detail(line.info.description.clone()),
        );
        if line.matched_at.starts_with("http://") || line.matched_at.starts_with("https://") {
            artifacts.push(Artifact::url(line.matched_at.clone()));
        }
        if let Some(address) = line.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()) {
            artifacts.push(Artifact::Host { address });
        }
    }
    // An import covers nothing: what the report does not list was not necessarily looked for.
    let mut output = ToolOutput { result: serde_json::Value::Null, findings, artifacts, coverage: Kept::default() };
    output.result = summary(Format::NucleiJsonl, &output);
    Ok(output)
}
