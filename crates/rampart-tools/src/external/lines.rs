//! The generic `lines` parser: each non-empty line a declared tool writes to standard output is
//! one artifact (a URL, a domain, a host address) or one finding, as its configuration says. A
//! line that is not of the declared kind is counted and skipped; every line is cut to a bound.

use std::net::IpAddr;

use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, Finding, Kept};
use rampart_core::targets::TargetValue;
use serde::{Deserialize, Serialize};

/// Most characters of a line read.
pub const LINE_MAX: usize = 4096;
/// Most lines a result lists (every line is still read).
pub const LISTED_MAX: usize = 1000;

/// What each line is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A finding: the line its title, its first word the asset.
    #[default]
    Finding,
    /// An `http://` or `https://` URL.
    Url,
    /// A domain name.
    Domain,
    /// An IP address.
    Host,
}

/// What the lines gave.
#[derive(Debug, Default)]
pub struct Lines {
    pub findings: Kept<Finding>,
    pub artifacts: Kept<Artifact>,
    /// The first [`LISTED_MAX`] lines read.
    pub listed: Vec<String>,
    pub n_lines: u64,
    /// Lines not of the declared kind.
    pub n_skipped: u64,
}

/// Reads `output` line by line as `kind`; a finding's check id is `<tool>.line`.
pub fn parse_lines(output: &[u8], kind: LineKind, tool: &str, severity: Severity) -> Lines {
    let mut lines = Lines::default();
    for raw in output.split(|byte| *byte == b'\n') {
        let text = String::from_utf8_lossy(raw);
        let line: String = text.trim().chars().take(LINE_MAX).collect();
        if line.is_empty() {
            continue;
        }
        lines.n_lines += 1;
        let taken = match kind {
            LineKind::Finding => {
                let asset = line.split_whitespace().next().unwrap_or_default().to_owned();
                lines.findings.push(Finding::new(severity, format!("{tool}.line"), line.clone(), asset, ""));
                true
            }
            LineKind::Url if line.starts_with("http://") || line.starts_with("https://") => {
                lines.artifacts.push(Artifact::url(line.clone()));
                true
            }
            LineKind::Domain => match TargetValue::parse(&line) {
                Ok(TargetValue::Host(name)) => {
                    lines.artifacts.push(Artifact::Domain { name });
                    true
                }
                _ => false,
            },
            LineKind::Host => match line.parse::<IpAddr>() {
                Ok(address) => {
                    lines.artifacts.push(Artifact::Host { address });
                    true
                }
                Err(_) => false,
            },
            LineKind::Url => false,
        };
        if !taken {
            lines.n_skipped += 1;
        }
        if lines.listed.len() < LISTED_MAX {
            lines.listed.push(line);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_an_artifact_of_its_kind_or_skipped() {
        let output = b"https://a.example/x\nnot a url\n\n  http://b.example  \n";
        let lines = parse_lines(output, LineKind::Url, "t", Severity::Info);
        assert_eq!(lines.artifacts.items().len(), 2);
        assert_eq!((lines.n_lines, lines.n_skipped), (3, 1));
        let hosts = parse_lines(b"127.0.0.1\n::1\nlocalhost\n", LineKind::Host, "t", Severity::Info);
        assert_eq!(hosts.artifacts.items().len(), 2);
        let domains = parse_lines(b"A.Example.\n-bad\n", LineKind::Domain, "t", Severity::Info);
        assert_eq!(domains.artifacts.items(), &[Artifact::Domain { name: "a.example".into() }]);
    }

    #[test]
    fn a_finding_line_names_its_asset_by_its_first_word() {
        let lines = parse_lines(b"10.0.0.5 weak cipher\n", LineKind::Finding, "scanner", Severity::Medium);
        let finding = &lines.findings.items()[0];
        assert_eq!((finding.check_id.as_str(), finding.asset.as_str()), ("scanner.line", "10.0.0.5"));
        assert_eq!(finding.severity, Severity::Medium);
    }

    #[test]
    fn hostile_output_is_bounded() {
        let long = vec![b'a'; 100_000];
        let lines = parse_lines(&long, LineKind::Finding, "t", Severity::Info);
        assert_eq!(lines.listed[0].chars().count(), LINE_MAX);
        let many = b"x\n".repeat(20_000);
        let lines = parse_lines(&many, LineKind::Finding, "t", Severity::Info);
        assert_eq!(lines.listed.len(), LISTED_MAX);
        assert_eq!(lines.findings.total(), 20_000);
        let _ = parse_lines(b"\xff\xfe\x00\n", LineKind::Domain, "t", Severity::Info);
    }
}
