//! What a tool run produces besides its result: findings (what is wrong, on which asset, where)
//! and artifacts (typed facts one tool hands to the next: hosts, services, URLs, domains,
//! certificates). Pure types; no I/O.
//!
//! Everything here is bounded: a run keeps at most [`KEPT_MAX`] findings and [`KEPT_MAX`]
//! artifacts and counts the rest, and every text is normalised and cut to a fixed length when it
//! is kept, so what a scan finds can never grow a row or a run without limit.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::findings::Severity;
use crate::words::words;

/// Most findings, and most artifacts, one run keeps (like the open ports a scan lists).
pub const KEPT_MAX: usize = 10_000;
/// Most characters of a check id.
pub const CHECK_ID_MAX: usize = 100;
/// Most characters of a title, a service name, a certificate's subject or issuer.
pub const TITLE_MAX: usize = 256;
/// Most characters of an asset (an address, a host name, a URL).
pub const ASSET_MAX: usize = 2048;
/// Most characters of a location on an asset (`tcp/6379`, a path).
pub const LOCATION_MAX: usize = 2048;
/// Most characters of a finding's detail (its evidence, said for people).
pub const DETAIL_MAX: usize = 4096;
/// Most characters of a domain name.
pub const DOMAIN_MAX: usize = 253;
/// Most names a certificate's subject alternative names keep.
pub const SANS_MAX: usize = 100;
/// Most technologies a URL keeps.
pub const TECHNOLOGIES_MAX: usize = 32;
/// Most locations one coverage names.
pub const COVERED_LOCATIONS_MAX: usize = 64;
/// The check of a coverage that says a run settled some ports of a host (`tcp/1-1024`): a service
/// it did not find at one of them is closed.
pub const PORTS: &str = "ports";

/// One observation about an asset. Severity, check id, asset and location are what a finding's
/// identity is made of, so they are normalised when the finding is kept: the same observation on
/// the same asset reads the same on every run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Which rule found it, stable across runs: `tcp_scan.exposed_redis`. Lowercase letters,
    /// digits, `.`, `_` and `-`; anything else becomes `_`.
    pub check_id: String,
    /// One line, said for people.
    pub title: String,
    /// What it is about: an address, a host name or a URL; lowercase when not a URL.
    pub asset: String,
    /// Where on the asset: `tcp/6379`, a path; empty when the asset is the whole place.
    pub location: String,
    /// The evidence and explanation, said for people; may span lines.
    pub detail: String,
}

impl Finding {
    pub fn new(
        severity: Severity,
        check_id: impl Into<String>,
        title: impl Into<String>,
        asset: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            check_id: check_id.into(),
            title: title.into(),
            asset: asset.into(),
            location: location.into(),
            detail: String::new(),
        }
        .normalised()
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = multi_line(&detail.into(), DETAIL_MAX);
        self
    }
}

words! {
    /// The transport a service answers on.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    Proto { Tcp => "tcp", Udp => "udp" }
}

/// A typed fact a run found, tagged by `kind` in JSON so the next tool reads it without guessing:
/// `{"kind": "service", "host": "10.0.0.5", "port": 22, "proto": "tcp", "name": "ssh"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Artifact {
    Host {
        address: IpAddr,
    },
    Service {
        host: IpAddr,
        port: u16,
        proto: Proto,
        /// The service's name, guessed or identified (`ssh`); absent when unknown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Url {
        url: String,
        /// What answered there, as the probe recognised it: `nginx 1.25`, `WordPress`; sorted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        technologies: Vec<String>,
    },
    Domain {
        name: String,
    },
    Certificate(Certificate),
}

/// A certificate a server presented, as much of it as a later check needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names (DNS names and addresses), at most [`SANS_MAX`].
    #[serde(default)]
    pub sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the DER encoding, lowercase hex.
    pub sha256: String,
    /// The host that presented it, when known: with the port, the endpoint it is the asset of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Artifact {
    /// A URL, nothing known of what answers there.
    pub fn url(url: impl Into<String>) -> Self {
        Artifact::Url { url: url.into(), technologies: Vec::new() }
    }

    /// The kind, as the JSON tag says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Host { .. } => "host",
            Artifact::Service { .. } => "service",
            Artifact::Url { .. } => "url",
            Artifact::Domain { .. } => "domain",
            Artifact::Certificate(_) => "certificate",
        }
    }
}

/// What a run looked for, and where: a check (an id, or every check of a family: `tls_inspect.*`)
/// on an asset, at some locations (every location when none is named; `tcp/1-1024` names a range
/// of ports). A live finding the run covered and did not see is resolved by the run's finish; a
/// finding the run did not cover is left as it is, whatever the run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Covered {
    pub check: String,
    pub asset: String,
    pub locations: Vec<String>,
}

impl Covered {
    /// `check` on the whole of `asset`.
    pub fn new(check: impl Into<String>, asset: impl Into<String>) -> Self {
        Self { check: check.into(), asset: asset.into(), locations: Vec::new() }.normalised()
    }

    /// The same, at `location` only (more locations may be added).
    pub fn at(mut self, location: impl Into<String>) -> Self {
        if self.locations.len() < COVERED_LOCATIONS_MAX {
            self.locations.push(one_line(&location.into(), LOCATION_MAX));
        }
        self
    }

    /// `check` on `asset` at exactly `ports` (`tcp/22`, `tcp/80-90`: consecutive ports make one
    /// range, and a range never spans a port not given). A set of more ranges than one coverage
    /// names is said in several coverages, the lowest ports first; no ports, no coverage.
    pub fn at_ports(check: &str, asset: &str, proto: Proto, ports: &[u16]) -> Vec<Covered> {
        let mut sorted = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for port in sorted {
            match ranges.last_mut() {
                Some((_, high)) if high.checked_add(1) == Some(port) => *high = port,
                _ => ranges.push((port, port)),
            }
        }
        let locations: Vec<String> = ranges
            .into_iter()
            .map(|(low, high)| if low == high { format!("{proto}/{low}") } else { format!("{proto}/{low}-{high}") })
            .collect();
        let covered = Covered::new(check, asset);
        locations
            .chunks(COVERED_LOCATIONS_MAX)
            .map(|chunk| Covered { locations: chunk.to_vec(), ..covered.clone() })
            .collect()
    }

    /// True when a finding of `check_id` on `asset` at `location` was looked for.
    pub fn covers(&self, check_id: &str, asset: &str, location: &str) -> bool {
        let check = match self.check.strip_suffix('*') {
            Some(family) => check_id.starts_with(family),
            None => check_id == self.check,
        };
        check
            && asset == self.asset
            && (self.locations.is_empty() || self.locations.iter().any(|covered| location_within(location, covered)))
    }
}

/// True when `location` is `covered`, or a port (`tcp/443`) in the range `covered` names
/// (`tcp/1-1024`).
fn location_within(location: &str, covered: &str) -> bool {
    if location == covered {
        return true;
    }
    let (Some((proto, port)), Some((range_proto, range))) = (location.split_once('/'), covered.split_once('/')) else {
        return false;
    };
    let Some((low, high)) = range.split_once('-') else { return false };
    match (port.parse::<u16>(), low.parse::<u16>(), high.parse::<u16>()) {
        (Ok(port), Ok(low), Ok(high)) => proto == range_proto && (low..=high).contains(&port),
        _ => false,
    }
}

/// Something kept in a run's output: normalised and cut to its bounds when kept.
pub trait Keep {
    fn normalised(self) -> Self;
}

impl Keep for Finding {
    fn normalised(self) -> Self {
        Self {
            severity: self.severity,
            check_id: check_id(&self.check_id),
            title: one_line(&self.title, TITLE_MAX),
            asset: asset(&self.asset),
            location: one_line(&self.location, LOCATION_MAX),
            detail: multi_line(&self.detail, DETAIL_MAX),
        }
    }
}

impl Keep for Covered {
    fn normalised(self) -> Self {
        let check = match self.check.trim().strip_suffix('*') {
            Some(family) => format!("{}*", check_id(family)),
            None => check_id(&self.check),
        };
        Self {
            check,
            asset: asset(&self.asset),
            locations: self
                .locations
                .iter()
                .take(COVERED_LOCATIONS_MAX)
                .map(|location| one_line(location, LOCATION_MAX))
                .collect(),
        }
    }
}

impl Keep for Artifact {
    fn normalised(self) -> Self {
        match self {
            Artifact::Host { address } => Artifact::Host { address: canonical_ip(address) },
            Artifact::Service { host, port, proto, name } => Artifact::Service {
                host: canonical_ip(host),
                port,
                proto,
                name: name.map(|name| one_line(&name, TITLE_MAX)).filter(|name| !name.is_empty()),
            },
            Artifact::Url { url, technologies } => Artifact::Url {
                url: one_line(&url, ASSET_MAX),
                technologies: {
                    let mut kept: Vec<String> = technologies
                        .iter()
                        .take(TECHNOLOGIES_MAX)
                        .map(|name| one_line(name, TITLE_MAX))
                        .filter(|name| !name.is_empty())
                        .collect();
                    kept.sort();
                    kept.dedup();
                    kept
                },
            },
            Artifact::Domain { name } => Artifact::Domain { name: domain(&name) },
            Artifact::Certificate(certificate) => Artifact::Certificate(Certificate {
                subject: one_line(&certificate.subject, TITLE_MAX),
                issuer: one_line(&certificate.issuer, TITLE_MAX),
                sans: certificate.sans.iter().take(SANS_MAX).map(|name| domain(name)).collect(),
                not_before: certificate.not_before,
                not_after: certificate.not_after,
                sha256: certificate
                    .sha256
                    .chars()
                    .filter(char::is_ascii_hexdigit)
                    .take(64)
                    .collect::<String>()
                    .to_ascii_lowercase(),
                host: certificate.host.map(|host| asset(&host)),
                port: certificate.port,
            }),
        }
    }
}

/// At most [`KEPT_MAX`] items (or the cap it was made with), the first pushed, each normalised,
/// and the count of every item pushed, kept or not.
#[derive(Clone, Debug)]
pub struct Kept<T> {
    items: Vec<T>,
    total: u64,
    cap: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self::with_cap(KEPT_MAX)
    }
}

/// Two are equal when they keep the same items and counted the same: the cap is how they were
/// kept, not what.
impl<T: PartialEq> PartialEq for Kept<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items && self.total == other.total
    }
}

impl<T: Eq> Eq for Kept<T> {}

impl<T> Kept<T> {
    /// None yet, keeping at most `cap` (an imported report holds more than a run keeps).
    pub fn with_cap(cap: usize) -> Self {
        Self { items: Vec::new(), total: 0, cap }
    }
}

impl<T: Keep> Kept<T> {
    pub fn push(&mut self, item: T) {
        self.total = self.total.saturating_add(1);
        if self.items.len() < self.cap {
            self.items.push(item.normalised());
        }
    }

    /// Counts `n` items found but never pushed (a scanner that kept only some of what it found).
    pub fn count_unkept(&mut self, n: u64) {
        self.total = self.total.saturating_add(n);
    }

    /// Items read back from storage with the count recorded beside them: as many as were kept
    /// when written, and the count never below what is kept.
    pub fn restore(items: Vec<T>, total: u64) -> Self {
        let mut kept = Self::with_cap(items.len().max(KEPT_MAX));
        kept.extend(items);
        kept.total = kept.total.max(total);
        kept
    }
}

impl<T> Kept<T> {
    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// Every item pushed, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Items counted but not kept, past the cap.
    pub fn n_dropped(&self) -> u64 {
        self.total.saturating_sub(self.items.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl<T: Keep> Extend<T> for Kept<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

impl<T: Keep> FromIterator<T> for Kept<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut kept = Self::default();
        kept.extend(items);
        kept
    }
}

/// What a run produced: its result (the JSON its result schema describes, shown to users as
/// today), and its findings and artifacts, bounded.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    pub result: Value,
    pub findings: Kept<Finding>,
    pub artifacts: Kept<Artifact>,
    /// What the run looked for: the findings it may resolve by not seeing them again.
    pub coverage: Kept<Covered>,
}

impl ToolOutput {
    /// A result with no findings and no artifacts, having looked for nothing.
    pub fn new(result: Value) -> Self {
        Self { result, findings: Kept::default(), artifacts: Kept::default(), coverage: Kept::default() }
    }
}

/// A finished run's findings and artifacts, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutput {
    pub findings: Kept<Finding>,
    pub artifacts: Kept<Artifact>,
}

/// Cuts `text` to `max` characters, ending with `…` when cut.
fn clip(mut text: String, max: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max.saturating_sub(1))
        && text.chars().count() > max
    {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// One line: control characters dropped, runs of white space made one space, trimmed, cut.
fn one_line(text: &str, max: usize) -> String {
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    clip(cleaned.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

/// Free text: line breaks and tabs kept, other control characters (a NUL among them, which
/// PostgreSQL cannot store) dropped, trimmed, cut.
fn multi_line(text: &str, max: usize) -> String {
    let cleaned: String = text.chars().filter(|&c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    clip(cleaned.trim().to_owned(), max)
}

fn check_id(text: &str) -> String {
    let normal: String = text
        .trim()
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .take(CHECK_ID_MAX)
        .collect();
    normal
}

/// An address in its canonical text, a host name lowercase without its final dot, a URL as given
/// (its path may be case-sensitive); one line, cut.
fn asset(text: &str) -> String {
    let line = one_line(text, ASSET_MAX);
    if let Ok(address) = line.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return canonical_ip(address).to_string();
    }
    if line.contains("://") { line } else { line.trim_end_matches('.').to_lowercase() }
}

fn domain(text: &str) -> String {
    clip(one_line(text, DOMAIN_MAX + 1).trim_end_matches('.').to_lowercase(), DOMAIN_MAX)
}

/// An IPv4 address mapped into IPv6 is the IPv4 address.
fn canonical_ip(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_finding_is_normalised_so_its_identity_is_stable() {
        let finding = Finding::new(
            Severity::High,
            " TCP_Scan.Exposed Redis ",
            "Redis\texposed\n  here",
            "Scan.Example.",
            " tcp/6379\n",
        );
        assert_eq!(finding.check_id, "tcp_scan.exposed_redis");
        assert_eq!(finding.title, "Redis exposed here");
        assert_eq!(finding.asset, "scan.example");
        assert_eq!(finding.location, "tcp/6379");
        assert_eq!(Finding::new(Severity::Low, "x", "t", "::ffff:10.0.0.1", "").asset, "10.0.0.1");
        assert_eq!(Finding::new(Severity::Low, "x", "t", "[2001:DB8::1]", "").asset, "2001:db8::1");
        assert_eq!(Finding::new(Severity::Low, "x", "t", "https://A.example/Path", "").asset, "https://A.example/Path");
        assert_eq!(finding.clone().normalised(), finding, "normalising twice changes nothing");
    }

    #[test]
    fn no_text_of_a_finding_or_artifact_grows_without_bound() {
        let long = "é".repeat(100_000);
        let finding = Finding::new(Severity::Info, long.clone(), long.clone(), long.clone(), long.clone())
            .detail(format!("{long}\0"));
        assert_eq!(finding.check_id.chars().count(), CHECK_ID_MAX);
        assert_eq!(finding.title.chars().count(), TITLE_MAX);
        assert_eq!(finding.asset.chars().count(), ASSET_MAX);
        assert_eq!(finding.location.chars().count(), LOCATION_MAX);
        assert_eq!(finding.detail.chars().count(), DETAIL_MAX);
        assert!(finding.detail.ends_with('…'));

        let certificate = Artifact::Certificate(Certificate {
            subject: long.clone(),
            issuer: long.clone(),
            sans: vec![long.clone(); 1000],
            not_before: None,
            not_after: DateTime::<Utc>::UNIX_EPOCH,
            sha256: format!("AB{long}{}", "c".repeat(1000)),
            host: Some(long.clone()),
            port: Some(443),
        })
        .normalised();
        let Artifact::Certificate(certificate) = certificate else { panic!("still a certificate") };
        assert_eq!(certificate.subject.chars().count(), TITLE_MAX);
        assert_eq!(certificate.sans.len(), SANS_MAX);
        assert!(certificate.sans.iter().all(|name| name.chars().count() == DOMAIN_MAX));
        assert_eq!(certificate.sha256, format!("ab{}", "c".repeat(62)));
        let Artifact::Url { url, .. } = Artifact::url(long).normalised() else { panic!("still a url") };
        assert_eq!(url.chars().count(), ASSET_MAX);
    }

    #[test]
    fn a_coverage_covers_its_check_or_family_on_its_asset_at_its_locations() {
        let family = Covered::new(" TLS_Inspect.* ", "Web.Example.");
        assert_eq!(family.check, "tls_inspect.*");
        assert!(family.covers("tls_inspect.expired", "web.example", "tcp/443"));
        assert!(!family.covers("tls_inspectx", "web.example", ""), "a family is its dotted prefix");
        assert!(!family.covers("tls_inspect.expired", "other.example", "tcp/443"));

        let ports = Covered::new("tcp_scan.exposed_redis", "10.0.0.5").at("tcp/1-1024").at("tcp/6379");
        assert!(ports.covers("tcp_scan.exposed_redis", "10.0.0.5", "tcp/6379"));
        assert!(ports.covers("tcp_scan.exposed_redis", "10.0.0.5", "tcp/1024"));
        assert!(!ports.covers("tcp_scan.exposed_redis", "10.0.0.5", "tcp/6380"));
        assert!(!ports.covers("tcp_scan.exposed_redis", "10.0.0.5", "udp/53"));
        assert!(!ports.covers("tcp_scan.exposed_redis", "10.0.0.5", ""), "the whole host is more than some ports");
        assert!(!ports.covers("tcp_scan.exposed_mongo", "10.0.0.5", "tcp/80"));

        let mut many = Covered::new("x", "h");
        for port in 0..1000 {
            many = many.at(format!("tcp/{port}"));
        }
        assert_eq!(many.locations.len(), COVERED_LOCATIONS_MAX);
    }

    #[test]
    fn ports_are_covered_as_ranges_of_exactly_the_ports_given() {
        assert!(Covered::at_ports("tcp_scan.*", "10.0.0.5", Proto::Tcp, &[]).is_empty(), "no ports, no coverage");

        let single = Covered::at_ports("tcp_scan.*", "10.0.0.5", Proto::Tcp, &[6379]);
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].locations, ["tcp/6379"]);
        assert!(single[0].covers("tcp_scan.exposed_redis", "10.0.0.5", "tcp/6379"));
        assert!(!single[0].covers("tcp_scan.exposed_redis", "10.0.0.5", "tcp/6378"));

        let edges = Covered::at_ports("x.*", "h", Proto::Tcp, &[65535, 0, 1, 65534, 1]);
        assert_eq!(edges[0].locations, ["tcp/0-1", "tcp/65534-65535"]);
        let all: Vec<u16> = (0..=u16::MAX).rev().collect();
        let everything = Covered::at_ports("x.*", "h", Proto::Udp, &all);
        assert_eq!(everything[0].locations, ["udp/0-65535"]);

        // Every other port: more ranges than one coverage names, said in several, none wider.
        let every_other: Vec<u16> = (0..300).map(|n| n * 2).collect();
        let many = Covered::at_ports("x.*", "H.example.", Proto::Tcp, &every_other);
        assert_eq!(many.len(), 300_usize.div_ceil(COVERED_LOCATIONS_MAX));
        assert!(many.iter().all(|covered| covered.locations.len() <= COVERED_LOCATIONS_MAX));
        assert!(many.iter().all(|covered| covered.asset == "h.example" && covered.check == "x.*"));
        for port in 0..=700_u16 {
            let covered = many.iter().any(|covered| covered.covers("x.y", "h.example", &format!("tcp/{port}")));
            assert_eq!(covered, port < 600 && port % 2 == 0, "port {port}");
        }
    }

    #[test]
    fn a_run_keeps_at_most_the_cap_and_counts_the_rest() {
        let mut kept: Kept<Artifact> = Kept::default();
        for port in 0..=u16::try_from(KEPT_MAX).expect("fits") + 4 {
            kept.push(Artifact::Service { host: [127, 0, 0, 1].into(), port, proto: Proto::Tcp, name: None });
        }
        assert_eq!(kept.items().len(), KEPT_MAX);
        assert_eq!((kept.total(), kept.n_dropped()), (KEPT_MAX as u64 + 5, 5));
        assert!(
            matches!(kept.items()[KEPT_MAX - 1], Artifact::Service { port, .. } if usize::from(port) == KEPT_MAX - 1)
        );

        kept.count_unkept(7);
        assert_eq!((kept.items().len(), kept.n_dropped()), (KEPT_MAX, 12));

        let restored = Kept::restore(kept.items().to_vec(), 3);
        assert_eq!(restored.total(), KEPT_MAX as u64, "a count below what is kept is raised");
        // What was kept when written (an import keeps more than a run) is read back whole.
        let over = Kept::restore(vec![Artifact::Domain { name: "a.example".into() }; KEPT_MAX + 1], 0);
        assert_eq!((over.items().len(), over.total()), (KEPT_MAX + 1, KEPT_MAX as u64 + 1));
        let mut import: Kept<Artifact> = Kept::with_cap(3);
        import.extend(vec![Artifact::Domain { name: "a.example".into() }; 5]);
        assert_eq!((import.items().len(), import.n_dropped()), (3, 2), "a cap of its own");
    }

    #[test]
    fn artifacts_are_tagged_by_kind_and_read_back_the_same() {
        let service =
            Artifact::Service { host: [10, 0, 0, 5].into(), port: 22, proto: Proto::Tcp, name: Some("ssh".into()) };
        let json = serde_json::to_value(&service).expect("encodes");
        assert_eq!(json, json!({"kind": "service", "host": "10.0.0.5", "port": 22, "proto": "tcp", "name": "ssh"}));
        assert_eq!(service.kind(), "service");

        let certificate: Artifact = serde_json::from_value(json!({
            "kind": "certificate", "subject": "CN=a.example", "issuer": "CN=ca", "sans": ["a.example"],
            "not_after": "2027-01-01T00:00:00Z", "sha256": "00ff"
        }))
        .expect("a certificate");
        assert_eq!(certificate.kind(), "certificate");
        for artifact in [
            service,
            certificate,
            Artifact::Host { address: "2001:db8::1".parse().expect("an address") },
            Artifact::url("https://a.example/x"),
            Artifact::Domain { name: "a.example".into() },
        ] {
            let json = serde_json::to_value(&artifact).expect("encodes");
            assert_eq!(json["kind"], artifact.kind());
            assert_eq!(serde_json::from_value::<Artifact>(json).expect("decodes"), artifact);
        }
        assert!(serde_json::from_value::<Artifact>(json!({"kind": "host", "address": "nope"})).is_err());
        assert!(serde_json::from_value::<Artifact>(json!({"kind": "printer"})).is_err());
    }

    #[test]
    fn a_domain_is_lowercase_without_its_final_dot() {
        let Artifact::Domain { name } = Artifact::Domain { name: " WWW.Example.COM. ".into() }.normalised() else {
            panic!("still a domain")
        };
        assert_eq!(name, "www.example.com");
    }
}
