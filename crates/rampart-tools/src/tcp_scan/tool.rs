//! `tcp_scan`: the scanner as a tool. Targets are addresses, networks and names in scope; every
//! probe passes the gate's check first; open ports come back with their service, banner and a
//! severity from the exposure rules. Each open port listed is also a `Service` artifact, and each
//! risky exposure among them a finding (`tcp_scan.exposed_<service>`). A host scanned whole is
//! covered for `tcp_scan.*` at the ports scanned, so a risky port found closed resolves its finding.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::output::{Artifact, Covered, Finding, KEPT_MAX, Kept, PORTS, Proto};
use rampart_core::targets::TargetValue;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tcp_scan::{PortState, ScanPlan, ScanReport, assess, check_id, parse_ports, scan, service_name};
use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};

/// Most addresses one run may cover, all its targets together: repeats and overlaps count each
/// time, and a name counts the addresses it resolves to.
const MAX_ADDRESSES: u64 = 65_536;
/// Most open ports a result lists (the scanner keeps no more); the summary still counts every one.
const MAX_OPEN_LISTED: usize = crate::tcp_scan::engine::DEFAULT_KEEP_OPEN;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpScanParams {
    /// Addresses, networks (`10.0.0.0/24`) or host names, all in scope.
    pub targets: Vec<String>,
    /// `1-65535`, a list such as `22,80,443,8000-8100`, `top-100` or `top-1000` (the default).
    #[serde(default = "default_ports")]
    pub ports: String,
    /// The longest wait for a connection, in milliseconds, before a port counts as filtered (10 to 60000, default 1500);
    /// shorter per host once round trips are measured.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Connections in flight at once (1 to 65536, default 8192, capped by the open-file limit).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Extra tries for filtered ports (0 to 5, default 1).
    #[serde(default)]
    pub retries: Option<u8>,
    /// Read what open ports say first (up to 256 bytes).
    #[serde(default)]
    pub banner: bool,
}

fn default_ports() -> String {
    "top-1000".into()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OpenPort {
    pub port: u16,
    pub service: Option<&'static str>,
    pub banner: Option<String>,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: &'static str,
    pub title: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HostResult {
    pub address: String,
    pub open: Vec<OpenPort>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ScanSummary {
    pub addresses: usize,
    pub ports: usize,
    pub probes: u64,
    /// Open ports found, all of them, listed or not.
    pub open: u64,
    /// True when more ports were open than a result lists (10000): `hosts` holds the first.
    pub truncated: bool,
    pub closed: u64,
    pub filtered: u64,
    /// Probes the scope or the deny list did not allow: never sent.
    pub refused: u64,
    /// Probes given up after repeated local errors (out of sockets): their state is unknown.
    pub unsent: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TcpScanResult {
    /// Hosts with at least one open port, by address.
    pub hosts: Vec<HostResult>,
    pub summary: ScanSummary,
}

pub struct TcpScan;

impl TcpScan {
    fn plan_of(params: &TcpScanParams) -> Result<(Vec<u16>, Duration, usize, u8), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let ports = errors.check("params.ports", parse_ports(&params.ports));
        let timeout = params.timeout_ms.unwrap_or(1500);
        if !(10..=60_000).contains(&timeout) {
            errors.add("params.timeout_ms", "must be between 10 and 60000");
        }
        let concurrency = params.concurrency.unwrap_or(crate::tcp_scan::engine::DEFAULT_CONCURRENCY);
        if !(1..=65_536).contains(&concurrency) {
            errors.add("params.concurrency", "must be between 1 and 65536");
        }
        let retries = params.retries.unwrap_or(1);
        if retries > 5 {
            errors.add("params.retries", "must be at most 5");
        }
        if params.targets.is_empty() {
            errors.add("params.targets", "name at least one target");
        }
        // One budget for the whole run, counted before anything is expanded: a name counts as one
        // address here, and as every address it resolves to when the run expands it.
        let mut n_addresses: u128 = 0;
        let mut one_too_large = false;
        for (index, target) in params.targets.iter().enumerate() {
            match TargetValue::parse(target) {
                Ok(TargetValue::Wildcard(_)) => {
                    errors.add(format!("params.targets[{index}]"), "a wildcard cannot be scanned; name hosts")
                }
                Ok(value) => {
                    let count = value.address_count().unwrap_or(1);
                    if count > u128::from(MAX_ADDRESSES) {
                        one_too_large = true;
                        errors.add(
                            format!("params.targets[{index}]"),
                            format!("has more than {MAX_ADDRESSES} addresses, the most a run may scan"),
                        );
                    }
                    n_addresses = n_addresses.saturating_add(count);
                }
                Err(message) => errors.add(format!("params.targets[{index}]"), message),
            }
        }
        if n_addresses > u128::from(MAX_ADDRESSES) && !one_too_large {
            errors.add(
                "params.targets",
                format!(
                    "name {n_addresses} addresses together (repeats included); a run may scan at most {MAX_ADDRESSES}"
                ),
            );
        }
        match ports {
            Some(ports) if errors.is_empty() => Ok((ports, Duration::from_millis(timeout), concurrency, retries)),
            _ => Err(errors),
        }
    }
}

#[async_trait]
impl Tool for TcpScan {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<TcpScanParams, TcpScanResult>(
            "tcp_scan",
            "network",
            "TCP connect port scan: open, closed and filtered ports, service names, banners, and the severity of risky exposures.",
            Duration::from_secs(3600),
        )
    }

    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: TcpScanParams = parse_params(params)?;
        Self::plan_of(&params)?;
        Ok(RunTarget::list("targets", params.targets))
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        let params: TcpScanParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        let (ports, timeout, concurrency, retries) = Self::plan_of(&params).map_err(|errors| errors.to_string())?;
        // The budget is checked again while expanding: names are resolved only now, and nothing is
        // listed past what is left of it.
        let mut addresses = Vec::new();
        let mut left = MAX_ADDRESSES;
        for target in &params.targets {
            let expanded = context.gate.expand(target, left).await.map_err(|error| error.to_string())?;
            left = u64::try_from(expanded.len())
                .ok()
                .and_then(|n| left.checked_sub(n))
                .ok_or_else(|| format!("the targets name more than {MAX_ADDRESSES} addresses"))?;
            addresses.extend(expanded);
        }
        addresses.sort();
        addresses.dedup();
        let plan = ScanPlan {
            addresses: addresses.clone(),
            ports: ports.clone(),
            timeout,
            concurrency,
            retries,
            banner: params.banner,
            keep_open: MAX_OPEN_LISTED,
        };
        context.log(LogStream::Stdout, format!("scanning {} addresses x {} ports", addresses.len(), ports.len()));

        let gate = context.gate.clone();
        let allow = move |ip: IpAddr, port: u16| gate.permits(SocketAddr::new(ip, port));
        let progress_context = context.clone();
        let progress = move |done: u64, total: u64| {
            let percent = u8::try_from(done.saturating_mul(100) / total.max(1)).unwrap_or(100);
            progress_context.progress(percent, format!("{done} of {total} probes"));
        };
        let report = scan(&plan, &allow, &progress, &context.cancel).await;
        if context.cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        if report.refused > 0 {
            context
                .gate
                .report_refusal(
                    &params.targets.join(","),
                    format!("{} probes outside the scope or on the deny list were not sent", report.refused),
                )
                .await;
        }

        let result = result_of(&report, addresses.len(), ports.len());
        for host in &result.hosts {
            for open in &host.open {
                context.log(LogStream::Stdout, format!("{}:{} open", host.address, open.port));
            }
        }
        if result.summary.truncated {
            context.log(
                LogStream::Stdout,
                format!("{} open ports found; the first {MAX_OPEN_LISTED} are listed", result.summary.open),
            );
        }
        let (findings, artifacts) = output_of(&report);
        let coverage = coverage_of(&report, &addresses, &ports);
        let result = serde_json::to_value(result).map_err(|_| "cannot encode the result".to_owned())?;
        Ok(ToolOutput { result, findings, artifacts, coverage })
    }
}

/// The findings and artifacts of a scan: a `Service` artifact for each open port the result lists
/// (the same ports, so at most [`MAX_OPEN_LISTED`], with every other open port counted), and a
/// finding for each of them with an exposure rule, on the address at `tcp/<port>`.
fn output_of(report: &ScanReport) -> (Kept<Finding>, Kept<Artifact>) {
    let mut findings = Kept::default();
    let mut artifacts = Kept::default();
    let listed = report.open.iter().filter(|found| found.state == PortState::Open).take(MAX_OPEN_LISTED);
    for found in listed {
        let name = service_name(found.port);
        artifacts.push(Artifact::Service {
            host: found.address,
            port: found.port,
            proto: Proto::Tcp,
            name: name.map(str::to_owned),
        });
        let (severity, title) = assess(found.port);
        if let Some(check) = check_id(found.port) {
            let mut detail = format!(
                "TCP port {} is open on {}; the rule reads the port number only, not what answers on it.",
                found.port, found.address
            );
            if let Some(banner) = &found.banner {
                detail.push_str(&format!("\nBanner: {banner}"));
            }
            findings.push(
                Finding::new(severity, check, title, found.address.to_string(), format!("tcp/{}", found.port))
                    .detail(detail),
            );
        }
    }
    artifacts.count_unkept(report.n_open.saturating_sub(artifacts.total()));
    (findings, artifacts)
}

/// What a finished scan looked at: `tcp_scan.*` at the scanned ports of each host scanned whole,
/// whose open ports are all listed (so each of its risky ones is a finding). Not covered: a host
/// with a port the gate refused or left unsent, a host that answered no port at all (down or
/// unreachable: its ports were not seen closed), and a host with an open port past the listed
/// cap. A filtered port of a host that answered others counts as looked at: it is not reachable
/// from here, which is what the exposure rules ask.
fn coverage_of(report: &ScanReport, addresses: &[IpAddr], ports: &[u16]) -> Kept<Covered> {
    let mut n_listed: BTreeMap<IpAddr, u64> = BTreeMap::new();
    for found in report.open.iter().filter(|found| found.state == PortState::Open).take(MAX_OPEN_LISTED) {
        *n_listed.entry(found.address).or_default() += 1;
    }
    // The ranges are the same for every host: made once, given each host's address. The ports
    // were settled too: a service not found at one of them is closed.
    let mut ranges = Covered::at_ports("tcp_scan.*", "", Proto::Tcp, ports);
    ranges.extend(Covered::at_ports(PORTS, "", Proto::Tcp, ports));
    let mut coverage = Kept::default();
    for (address, counts) in addresses.iter().zip(&report.hosts) {
        let all_listed = n_listed.get(address).copied().unwrap_or(0) == counts.open;
        if !counts.scanned_whole(ports.len()) || !all_listed {
            continue;
        }
        for covered in &ranges {
            // Past the cap a coverage is only counted: building it would be wasted work.
            if coverage.items().len() >= KEPT_MAX {
                coverage.count_unkept(1);
            } else {
                coverage.push(Covered { asset: address.to_string(), ..covered.clone() });
            }
        }
    }
    coverage
}

/// The result of a scan: hosts with their open ports, at most [`MAX_OPEN_LISTED`] ports listed
/// (the first by address and port of those the scanner kept), and a summary whose counts are
/// exact whatever was listed.
fn result_of(report: &ScanReport, n_addresses: usize, n_ports: usize) -> TcpScanResult {
    let mut n_listed: u64 = 0;
    let mut hosts: BTreeMap<IpAddr, Vec<OpenPort>> = BTreeMap::new();
    for found in report.open.iter().filter(|found| found.state == PortState::Open).take(MAX_OPEN_LISTED) {
        n_listed += 1;
        let (severity, title) = assess(found.port);
        hosts.entry(found.address).or_default().push(OpenPort {
            port: found.port,
            service: service_name(found.port),
            banner: found.banner.clone(),
            severity: severity.as_str(),
            title,
        });
    }
    TcpScanResult {
        hosts: hosts.into_iter().map(|(address, open)| HostResult { address: address.to_string(), open }).collect(),
        summary: ScanSummary {
            addresses: n_addresses,
            ports: n_ports,
            probes: report.probes,
            open: report.n_open.max(n_listed),
            truncated: report.n_open > n_listed,
            closed: report.closed,
            filtered: report.filtered,
            refused: report.refused,
            unsent: report.unsent,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp_scan::PortResult;
    use rampart_core::findings::Severity;

    fn refused_fields(targets: &[&str]) -> Vec<String> {
        match TcpScan.check(&serde_json::json!({ "targets": targets })) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|error| error.field.clone()).collect(),
        }
    }

    #[test]
    fn one_address_budget_covers_every_target_of_a_run_repeats_included() {
        assert!(refused_fields(&["10.0.0.0/16"]).is_empty(), "one /16 is the whole budget");
        assert!(refused_fields(&["10.0.0.0/17", "10.1.0.0/17"]).is_empty());
        assert_eq!(refused_fields(&["10.0.0.0/16", "10.0.0.0/16"]), ["params.targets"], "a repeat counts again");
        assert_eq!(refused_fields(&["10.0.0.0/16", "10.0.0.1"]), ["params.targets"], "an overlap counts again");
        assert_eq!(refused_fields(&["10.0.0.0/16", "scan.example"]), ["params.targets"], "a name counts at least one");
        assert!(refused_fields(&["10.0.0.0/17", "scan.example"]).is_empty());
        let repeated = vec!["1.2.0.0/16"; 75_000];
        assert_eq!(refused_fields(&repeated), ["params.targets"]);
    }

    #[test]
    fn a_target_larger_than_the_budget_is_named_and_counted_without_overflow() {
        assert_eq!(refused_fields(&["::/0"]), ["params.targets[0]"]);
        assert_eq!(refused_fields(&["10.0.0.1", "0.0.0.0/0"]), ["params.targets[1]"]);
        assert_eq!(refused_fields(&["::/0", "::/0", "2001:db8::/1"]).len(), 3, "each is named");
    }

    fn report_with_open(n_hosts: u8, ports_per_host: u16) -> ScanReport {
        let open: Vec<PortResult> = (0..n_hosts)
            .flat_map(|host| {
                (1..=ports_per_host).map(move |port| PortResult {
                    address: IpAddr::from([127, 0, 0, host]),
                    port,
                    state: PortState::Open,
                    banner: None,
                })
            })
            .collect();
        let n_open = u64::try_from(open.len()).expect("a small count");
        ScanReport { open, n_open, probes: 99_999, closed: 7, ..ScanReport::default() }
    }

    #[test]
    fn a_result_lists_every_open_port_up_to_the_cap() {
        let result = result_of(&report_with_open(2, 3), 2, 3);
        assert_eq!(result.hosts.len(), 2);
        assert_eq!(result.hosts[0].open.len(), 3);
        assert_eq!((result.summary.open, result.summary.truncated), (6, false));

        let at_cap = result_of(&report_with_open(1, 10_000), 1, 10_000);
        assert_eq!((at_cap.summary.open, at_cap.summary.truncated), (10_000, false));
    }

    #[test]
    fn a_result_with_more_open_ports_than_the_cap_lists_the_cap_and_counts_them_all() {
        // Three hosts of 5000 open ports: 15000 open, 10000 listed (the first two hosts).
        let result = result_of(&report_with_open(3, 5_000), 3, 5_000);
        let listed: usize = result.hosts.iter().map(|host| host.open.len()).sum();
        assert_eq!(listed, MAX_OPEN_LISTED);
        assert_eq!(result.hosts.len(), 2, "the first hosts by address are listed");
        assert_eq!((result.summary.open, result.summary.truncated), (15_000, true), "the count stays exact");
        assert_eq!((result.summary.probes, result.summary.closed), (99_999, 7));
        let json = serde_json::to_value(&result).expect("encodes");
        assert_eq!(json["summary"]["truncated"], true);

        // The scanner kept only some of what it counted: the count is still the scanner's.
        let kept = ScanReport { n_open: 1_000_000, ..report_with_open(1, 3) };
        let result = result_of(&kept, 1, 3);
        assert_eq!((result.summary.open, result.summary.truncated), (1_000_000, true));
        assert_eq!(result.hosts[0].open.len(), 3);
    }

    #[test]
    fn each_listed_open_port_is_a_service_and_each_risky_one_a_finding() {
        let mut report = report_with_open(1, 3);
        report.open[1].port = 6379;
        report.open[2].port = 22;
        report.open[2].banner = Some("SSH-2.0-test".into());
        let (findings, artifacts) = output_of(&report);

        let services: Vec<(u16, Option<&str>)> = artifacts
            .items()
            .iter()
            .map(|artifact| match artifact {
                Artifact::Service { host, port, proto: Proto::Tcp, name } if *host == IpAddr::from([127, 0, 0, 0]) => {
                    (*port, name.as_deref())
                }
                other => panic!("not a TCP service on the scanned host: {other:?}"),
            })
            .collect();
        assert_eq!(services, [(1, Some("tcpmux")), (6379, Some("redis")), (22, Some("ssh"))]);

        assert_eq!(findings.items().len(), 1, "only the port with an exposure rule is a finding");
        let finding = &findings.items()[0];
        assert_eq!(finding.severity, Severity::High);
        assert_eq!(finding.check_id, "tcp_scan.exposed_redis");
        assert_eq!((finding.asset.as_str(), finding.location.as_str()), ("127.0.0.0", "tcp/6379"));
        assert_eq!(finding.title, assess(6379).1);
    }

    #[test]
    fn a_host_is_covered_only_when_scanned_whole_with_all_its_open_ports_listed() {
        // Three hosts of 5000 open ports each, 5000 ports scanned: the third host's are not listed.
        let mut report = report_with_open(3, 5_000);
        let counts = crate::tcp_scan::HostCounts { open: 5_000, ..Default::default() };
        report.hosts = vec![counts; 3];
        let addresses: Vec<IpAddr> = (0..3).map(|host| IpAddr::from([127, 0, 0, host])).collect();
        let ports: Vec<u16> = (1..=5_000).collect();

        let coverage = coverage_of(&report, &addresses, &ports);
        let covered: Vec<(&str, &str)> =
            coverage.items().iter().map(|covered| (covered.asset.as_str(), covered.check.as_str())).collect();
        assert_eq!(
            covered,
            [("127.0.0.0", "tcp_scan.*"), ("127.0.0.0", PORTS), ("127.0.0.1", "tcp_scan.*"), ("127.0.0.1", PORTS)],
            "the host with unlisted open ports is not covered"
        );
        assert!(coverage.items().iter().all(|covered| covered.locations == ["tcp/1-5000"]));

        // A host with a port left unknown, or one short of the ports scanned, is not covered.
        report.hosts[0].unknown = 1;
        report.hosts[1].open = 4_999;
        report.open.retain(|found| !(found.address == addresses[1] && found.port == 1));
        assert!(coverage_of(&report, &addresses, &ports).is_empty());
    }

    #[test]
    fn artifacts_follow_the_listed_ports_and_count_every_open_one() {
        let (findings, artifacts) = output_of(&report_with_open(3, 5_000));
        assert_eq!(artifacts.items().len(), MAX_OPEN_LISTED);
        assert_eq!(artifacts.total(), 15_000);
        assert!(findings.items().len() < MAX_OPEN_LISTED);

        let kept = ScanReport { n_open: 1_000_000, ..report_with_open(1, 3) };
        let (_, artifacts) = output_of(&kept);
        assert_eq!((artifacts.items().len(), artifacts.total()), (3, 1_000_000));
    }
}
