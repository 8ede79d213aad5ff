//! The SARIF 2.1.0 report, as GitHub code scanning and other SARIF viewers read it: one run per
//! tool (a finding's first tool, `rampart` when it has none), the run's rules from its distinct
//! check ids with a `security-severity`, and a result per finding with its level, message,
//! fingerprint, location and where it stands. Results are serialised one by one as they are
//! read; `tests/sarif.rs` checks the output against the official schema.

use std::collections::HashMap;
use std::io::{self, Write};

use rampart_core::findings::{FindingStatus, Severity, TrackedFinding};
use serde::Serialize;
use serde::ser::Serializer;

use crate::{Report, rfc3339};

/// The schema the document names; never fetched by anything here.
const SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json";

/// The run a finding with no tool goes to.
const NO_TOOL: &str = "rampart";

pub(crate) fn write(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let log = Log { schema: SCHEMA, version: "2.1.0", runs: runs(&report.findings) };
    let mut serializer = serde_json::Serializer::new(&mut *out);
    log.serialize(&mut serializer).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// The findings dealt into runs by first tool, runs and rules in the order first seen. With no
/// finding at all there is still one run, empty: to a code scanning service that says "nothing
/// found", which closes what an earlier upload reported.
fn runs(findings: &[TrackedFinding]) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    let mut run_of_tool: HashMap<&str, usize> = HashMap::new();
    let mut rule_of_check: Vec<HashMap<&str, usize>> = Vec::new();
    for finding in findings {
        let tool = finding.tools.first().map_or(NO_TOOL, String::as_str);
        let run = *run_of_tool.entry(tool).or_insert_with(|| {
            runs.push(Run::new(tool));
            rule_of_check.push(HashMap::new());
            runs.len() - 1
        });
        let rules = &mut runs[run].tool.driver.rules;
        let rule = *rule_of_check[run].entry(&finding.check_id).or_insert_with(|| {
            rules.push(Rule::new(&finding.check_id));
            rules.len() - 1
        });
        // A check's rule is as severe as the most severe of its findings.
        rules[rule].raise(finding.severity);
        runs[run].results.0.push((finding, rule));
    }
    if runs.is_empty() {
        runs.push(Run::new(NO_TOOL));
    }
    runs
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    results: Results<'a>,
}

impl<'a> Run<'a> {
    fn new(tool: &str) -> Self {
        let name = if tool == NO_TOOL { "Rampart".to_owned() } else { format!("Rampart {tool}") };
        Run {
            tool: Tool { driver: Driver { name, semantic_version: env!("CARGO_PKG_VERSION"), rules: Vec::new() } },
            results: Results(Vec::new()),
        }
    }
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: String,
    semantic_version: &'static str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    short_description: Text<&'a str>,
    default_configuration: Configuration,
    properties: RuleProperties,
    #[serde(skip)]
    severity: Severity,
}

impl<'a> Rule<'a> {
    fn new(check_id: &'a str) -> Self {
        Rule {
            id: check_id,
            short_description: Text { text: check_id },
            default_configuration: Configuration { level: level(Severity::Info) },
            properties: RuleProperties { security_severity: security_severity(Severity::Info), tags: ["security"] },
            severity: Severity::Info,
        }
    }

    fn raise(&mut self, severity: Severity) {
        if severity > self.severity {
            self.severity = severity;
            self.default_configuration.level = level(severity);
            self.properties.security_severity = security_severity(severity);
        }
    }
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    /// GitHub code scanning ranks security alerts by this score, given as a string.
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    tags: [&'static str; 1],
}

#[derive(Serialize)]
struct Text<T> {
    text: T,
}

/// A run's findings with their rule's index, serialised as results one at a time.
struct Results<'a>(Vec<(&'a TrackedFinding, usize)>);

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(finding, rule)| SarifResult::of(finding, *rule)))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text<String>,
    partial_fingerprints: Fingerprints<'a>,
    locations: [Location<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[Suppression; 1]>,
    properties: ResultProperties<'a>,
}

impl<'a> SarifResult<'a> {
    fn of(finding: &'a TrackedFinding, rule: usize) -> Self {
        let message = if finding.detail.is_empty() {
            finding.title.clone()
        } else {
            format!("{}\n\n{}", finding.title, finding.detail)
        };
        SarifResult {
            rule_id: &finding.check_id,
            rule_index: rule,
            level: level(finding.severity),
            message: Text { text: message },
            partial_fingerprints: Fingerprints { rampart: &finding.fingerprint },
            locations: [Location::of(finding)],
            suppressions: suppression(finding).map(|suppression| [suppression]),
            properties: ResultProperties {
                finding_id: finding.id.to_string(),
                severity: finding.severity.as_str(),
                status: finding.status.as_str(),
                regression: finding.regression,
                first_seen: rfc3339(finding.first_seen),
                last_seen: rfc3339(finding.last_seen),
                occurrences: finding.occurrences,
                due: finding.due().map(rfc3339),
                tools: &finding.tools,
            },
        }
    }
}

#[derive(Serialize)]
struct Fingerprints<'a> {
    #[serde(rename = "rampartFingerprint/v1")]
    rampart: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    finding_id: String,
    severity: &'static str,
    status: &'static str,
    regression: bool,
    first_seen: String,
    last_seen: String,
    occurrences: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    due: Option<String>,
    tools: &'a [String],
}

/// A finding someone judged a false positive or accepted is reported as suppressed, so a code
/// scanning service shows it dismissed rather than open.
#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
}

fn suppression(finding: &TrackedFinding) -> Option<Suppression> {
    let justification = match finding.status {
        FindingStatus::FalsePositive => "marked a false positive in Rampart".to_owned(),
        FindingStatus::Accepted => match finding.accepted_until {
            Some(until) => format!("risk accepted in Rampart until {}", rfc3339(until)),
            None => "risk accepted in Rampart".to_owned(),
        },
        FindingStatus::Open | FindingStatus::Acknowledged | FindingStatus::Resolved => return None,
    };
    Some(Suppression { kind: "external", status: "accepted", justification })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation,
    logical_locations: Vec<LogicalLocation<'a>>,
}

impl<'a> Location<'a> {
    fn of(finding: &'a TrackedFinding) -> Self {
        let (uri, line) = artifact(finding);
        let mut logical = vec![LogicalLocation { name: &finding.asset, fully_qualified_name: None, kind: "resource" }];
        if !finding.location.is_empty() {
            logical.push(LogicalLocation {
                name: &finding.location,
                fully_qualified_name: Some(format!("{} {}", finding.asset, finding.location)),
                kind: "resource",
            });
        }
        Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri },
                region: line.map(|start_line| Region { start_line }),
            },
            logical_locations: logical,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fully_qualified_name: Option<String>,
    kind: &'static str,
}

/// Where a finding is, as a URI reference, and the line when its location names one.
///
/// On a repository (a `file://` asset, or a `secret_scan` finding, whose asset may be a clone
/// URL) the location is a path in it, `src/app.rs#sha256:…` or `src/app.rs:12`: the path is
/// appended to the asset, a line becomes the region, and what follows `#` stays the fragment.
/// Elsewhere the asset (a host, an address, a URL) is the URI as given and the location (a port,
/// a path on the host) its fragment. Characters a URI may not hold are percent-encoded.
fn artifact(finding: &TrackedFinding) -> (String, Option<u64>) {
    let asset = finding.asset.as_str();
    let mut uri = String::with_capacity(asset.len() + finding.location.len() + 8);
    let repository = asset.starts_with("file://") || finding.check_id.starts_with("secret_scan.");
    if repository && !finding.location.is_empty() {
        let (path, fragment) = match finding.location.split_once('#') {
            Some((path, fragment)) => (path, Some(fragment)),
            None => (finding.location.as_str(), None),
        };
        let (path, line) = match path.rsplit_once(':') {
            Some((file, line)) if !file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
                (file, line.parse().ok())
            }
            _ => (path, None),
        };
        // The repository's own fragment, if it has one, gives way to the location's.
        let repository = asset.split('#').next().unwrap_or_default();
        push_asset(&mut uri, repository.trim_end_matches('/'));
        uri.push('/');
        push_encoded(&mut uri, path.trim_start_matches('/'), is_path_char);
        if let Some(fragment) = fragment {
            uri.push('#');
            push_encoded(&mut uri, fragment, is_fragment_char);
        }
        return (uri, line.filter(|line| *line > 0));
    }
    push_asset(&mut uri, asset);
    if !finding.location.is_empty() && !uri.contains('#') {
        uri.push('#');
        push_encoded(&mut uri, &finding.location, is_fragment_char);
    }
    (uri, None)
}

/// The asset as a URI reference: a URL keeps its shape (scheme, authority, path, query,
/// fragment), each part with only the characters RFC 3986 lets it hold; anything else (a host, an
/// address with a port, an IPv6 address) is a relative reference whose colons are encoded, so
/// `10.0.0.5:8080` cannot read as a scheme or an authority.
fn push_asset(uri: &mut String, asset: &str) {
    let url = asset.split_once("://").filter(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let Some((scheme, rest)) = url else {
        push_encoded(uri, asset, |c| is_path_char(c) && c != ':');
        return;
    };
    uri.push_str(scheme);
    uri.push_str("://");
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (authority, path_and_query) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    push_authority(uri, authority);
    push_encoded(uri, path_and_query, is_fragment_char);
    if let Some(fragment) = fragment {
        uri.push('#');
        push_encoded(uri, fragment, is_fragment_char);
    }
}

/// `userinfo@host:port`, the port kept only when it is digits and the host only when it is a
/// name or a bracketed IPv6 address; anything else is encoded into the name.
fn push_authority(uri: &mut String, authority: &str) {
    let (userinfo, host_and_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_and_port)) => (Some(userinfo), host_and_port),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        push_encoded(uri, userinfo, |c| is_name_char(c) || c == ':');
        uri.push('@');
    }
    let (host, port) = match host_and_port.rsplit_once(':') {
        Some((host, port))
            if port.bytes().all(|byte| byte.is_ascii_digit()) && (!host.contains(':') || is_ipv6_literal(host)) =>
        {
            (host, Some(port))
        }
        _ => (host_and_port, None),
    };
    if is_ipv6_literal(host) {
        uri.push_str(host);
    } else {
        push_encoded(uri, host, is_name_char);
    }
    if let Some(port) = port {
        uri.push(':');
        uri.push_str(port);
    }
}

fn is_ipv6_literal(host: &str) -> bool {
    host.strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .is_some_and(|address| address.parse::<std::net::Ipv6Addr>().is_ok())
}

/// RFC 3986 `reg-name` characters: unreserved and sub-delims.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=".contains(c)
}

/// RFC 3986 `pchar` and `/`: unreserved, sub-delims, `:`, `@`.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c)
}

/// RFC 3986 `fragment`: `pchar`, `/` and `?`.
fn is_fragment_char(c: char) -> bool {
    is_path_char(c) || c == '?'
}

/// `text` with every character `keep` refuses percent-encoded as UTF-8; a `%` already starting
/// an escape is kept, so an encoded URL is not encoded twice.
fn push_encoded(uri: &mut String, text: &str, keep: impl Fn(char) -> bool) {
    let bytes = text.as_bytes();
    for (index, c) in text.char_indices() {
        let escape = c == '%'
            && bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit);
        if escape || (c != '%' && keep(c)) {
            uri.push(c);
        } else {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                uri.push_str(&format!("%{byte:02X}"));
            }
        }
    }
}

/// SARIF's level of a severity: what a code scanning service shows as error, warning or note.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
        Severity::Info => "none",
    }
}

/// GitHub code scanning's score of a severity: over 9.0 critical, 7.0 to 8.9 high, 4.0 to 6.9
/// medium, 0.1 to 3.9 low.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(text: &str) -> String {
        let mut uri = String::new();
        push_asset(&mut uri, text);
        uri
    }

    #[test]
    fn hosts_and_addresses_become_relative_references_without_a_colon() {
        assert_eq!(encoded("10.0.0.5"), "10.0.0.5");
        assert_eq!(encoded("example.com:443"), "example.com%3A443");
        assert_eq!(encoded("::1"), "%3A%3A1");
        assert_eq!(encoded("10.0.0.0/24"), "10.0.0.0/24");
        assert_eq!(encoded("a b"), "a%20b");
    }

    #[test]
    fn urls_keep_their_shape_and_lose_only_what_a_uri_cannot_hold() {
        assert_eq!(encoded("https://example.com/a b?q=1#top"), "https://example.com/a%20b?q=1#top");
        assert_eq!(encoded("https://[::1]:8443/x%20y"), "https://[::1]:8443/x%20y");
        assert_eq!(encoded("file:///srv/repo/é"), "file:///srv/repo/%C3%A9");
        assert_eq!(encoded("http://x/100%"), "http://x/100%25");
        assert_eq!(encoded("http://x/[a]"), "http://x/%5Ba%5D", "brackets belong to an IPv6 host only");
    }

    #[test]
    fn an_authority_keeps_a_numeric_port_and_an_ipv6_host_and_encodes_anything_else() {
        assert_eq!(encoded("https://user:pw@host:8080/"), "https://user:pw@host:8080/");
        assert_eq!(encoded("file://:A"), "file://%3AA");
        assert_eq!(encoded("http://a:b:80/"), "http://a%3Ab%3A80/");
        assert_eq!(encoded("http://[::1]/"), "http://[::1]/");
        assert_eq!(encoded("http://[zz]:1/"), "http://%5Bzz%5D:1/");
        assert_eq!(encoded("http://a@b@c/"), "http://a%40b@c/");
    }
}
