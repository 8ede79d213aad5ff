//! `nmap` as a tool: targets (addresses, networks, names in scope) and ports are typed
//! parameters, made arguments only after the strict target check and the gate; the argv is fixed
//! otherwise: no name resolution (`-n`), no host discovery (`-Pn`, so nothing is sent to a port
//! not asked for), a connect scan without raw sockets (`-sT --unprivileged`), the XML report on
//! standard output (`-oX -`), and `-sV`/`-sC` only when asked. The binary missing, the tool is
//! unavailable, and the catalogue says why. A host nmap settled every asked port of, and that
//! answered on one, is covered at those ports for the checks the run asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::output::{Covered, Finding, Kept, PORTS, Proto};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::external::{
    Ending, HostsAs, Invocation, Limits, Network, Sandbox, confinement_word, ending_word, executable, target_arguments,
    targets,
};
use crate::nmap::xml::{NmapHost, NmapReport};
use crate::nmap::{output_of, parse};
use crate::tcp_scan::parse_ports;
use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};

/// Where nmap is installed.
pub const NMAP_BINARY: &str = "/usr/bin/nmap";
/// The longest an nmap run may take (the engine's time limit may be shorter).
const TIME_LIMIT: Duration = Duration::from_secs(4 * 3600);
/// Most distinct sets of ports the scope allows the targets: one nmap run each.
const PORT_SETS_MAX: usize = 16;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NmapParams {
    /// Addresses, networks (`10.0.0.0/24`) or host names, all in scope (at most 256, 4096
    /// addresses together).
    pub targets: Vec<String>,
    /// `1-65535`, a list such as `22,80,443,8000-8100`, `top-100` or `top-1000` (the default).
    #[serde(default = "default_ports")]
    pub ports: String,
    /// Identify services and their versions (`-sV`).
    #[serde(default)]
    pub service_detection: bool,
    /// Run nmap's default scripts (`-sC`).
    #[serde(default)]
    pub default_scripts: bool,
}

fn default_ports() -> String {
    "top-1000".into()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NmapPortView {
    pub port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
    /// `open`, `closed`, `filtered`, …
    pub state: String,
    pub service: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    /// Script results by script id.
    pub scripts: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NmapHostView {
    pub address: String,
    pub status: String,
    pub hostnames: Vec<String>,
    pub ports: Vec<NmapPortView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NmapResult {
    pub hosts: Vec<NmapHostView>,
    /// Open ports found.
    pub open: u64,
    /// `bubblewrap`, or `limits_only` where bubblewrap is not installed.
    pub sandbox: String,
}

/// The nmap tool.
pub struct Nmap {
    binary: PathBuf,
    sandbox: Sandbox,
}

impl Default for Nmap {
    fn default() -> Self {
        Self { binary: PathBuf::from(NMAP_BINARY), sandbox: Sandbox::detect() }
    }
}

impl Nmap {
    /// nmap at `binary`, run in `sandbox`.
    pub fn new(binary: impl Into<PathBuf>, sandbox: Sandbox) -> Self {
        Self { binary: binary.into(), sandbox }
    }

    fn ports_of(params: &NmapParams) -> Result<Vec<u16>, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let ports = errors.check("params.ports", parse_ports(&params.ports));
        if params.targets.is_empty() {
            errors.add("params.targets", "name at least one target");
        }
        if params.targets.len() > targets::TARGETS_MAX {
            errors.add("params.targets", format!("name at most {} targets", targets::TARGETS_MAX));
        }
        for (index, target) in params.targets.iter().enumerate().take(targets::TARGETS_MAX) {
            if let Err(reason) = targets::parse_target(target) {
                errors.add(format!("params.targets[{index}]"), reason);
            }
        }
        match ports {
            Some(ports) if errors.is_empty() => Ok(ports),
            _ => Err(errors),
        }
    }

    /// The arguments of one run over `addresses` and `ports`; nothing else reaches nmap.
    fn argv(params: &NmapParams, ports: &[u16], addresses: &[String]) -> Vec<String> {
        let mut args: Vec<String> =
            ["-n", "-Pn", "-sT", "--unprivileged", "-T4", "-oX", "-", "-p"].map(str::to_owned).into();
        args.push(port_list(ports));
        if params.service_detection {
            args.push("-sV".into());
        }
        if params.default_scripts {
            args.push("-sC".into());
        }
        args.push("--".into());
        args.extend(addresses.iter().cloned());
        args
    }
}

/// Ports as nmap reads them: `22,80,8000-8100`.
pub(crate) fn port_list(ports: &[u16]) -> String {
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for port in sorted {
        match ranges.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(port) => *end = port,
            _ => ranges.push((port, port)),
        }
    }
    ranges
        .iter()
        .map(|(start, end)| if start == end { start.to_string() } else { format!("{start}-{end}") })
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl Tool for Nmap {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<NmapParams, NmapResult>(
            "nmap",
            "network",
            "nmap in a sandbox: open ports, services and their versions (-sV), default scripts (-sC), read from its XML report.",
            Duration::from_secs(3600),
        )
    }

    fn availability(&self) -> Result<(), String> {
        executable(&self.binary)
    }

    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: NmapParams = parse_params(params)?;
        Self::ports_of(&params)?;
        Ok(RunTarget::list("targets", params.targets))
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        self.availability().map_err(|reason| format!("nmap is unavailable: {reason}"))?;
        let params: NmapParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        let ports = Self::ports_of(&params).map_err(|errors| errors.to_string())?;
        let addresses = target_arguments(&context.gate, &params.targets, HostsAs::Addresses).await?.arguments;
        // The scope may allow each address other ports: one run per set of ports allowed, and
        // the pairs it does not allow never asked for.
        let mut by_ports: BTreeMap<Vec<u16>, Vec<String>> = BTreeMap::new();
        let mut n_refused: u64 = 0;
        for address in addresses {
            let ip: IpAddr = address.parse().map_err(|_| format!("{address} is not an address"))?;
            let allowed: Vec<u16> =
                ports.iter().copied().filter(|port| context.gate.permits(SocketAddr::new(ip, *port))).collect();
            n_refused += (ports.len() - allowed.len()) as u64;
            if !allowed.is_empty() {
                by_ports.entry(allowed).or_default().push(address);
            }
        }
        if n_refused > 0 {
            context
                .gate
                .report_refusal(
                    &params.targets.join(","),
                    format!(
                        "{n_refused} address and port pairs outside the scope or on the deny list were not scanned"
                    ),
                )
                .await;
        }
        if by_ports.len() > PORT_SETS_MAX {
            return Err(format!(
                "the scope allows these targets {} different sets of ports; scan at most {PORT_SETS_MAX} at once",
                by_ports.len()
            ));
        }
        let mut report = crate::nmap::NmapReport::default();
        let mut confinement = self.sandbox.confinement().await;
        let n_runs = by_ports.len();
        for (index, (ports, addresses)) in by_ports.iter().enumerate() {
            let invocation = Invocation {
                binary: self.binary.clone(),
                args: Self::argv(&params, ports, addresses),
                network: Network::Shared,
                time_limit: TIME_LIMIT,
                output_cap: crate::nmap::xml::XML_MAX,
                limits: Limits { cpu_seconds: TIME_LIMIT.as_secs(), ..Limits::default() },
            };
            context.log(
                LogStream::Stdout,
                format!("nmap over {} addresses x {} ports ({} of {n_runs})", addresses.len(), ports.len(), index + 1),
            );
            let outcome = self.sandbox.run(&invocation, &context.cancel).await.map_err(|error| error.to_string())?;
            confinement = outcome.confinement;
            for line in String::from_utf8_lossy(&outcome.stderr).lines().filter(|line| !line.trim().is_empty()).take(20)
            {
                context.log(LogStream::Stderr, line);
            }
            match outcome.ending {
                Ending::Exited(Some(0)) => {}
                Ending::Exited(code) => {
                    let code = code.map_or_else(|| "a signal".to_owned(), |code| format!("code {code}"));
                    return Err(format!("nmap ended with {code}"));
                }
                Ending::Cancelled => return Err("cancelled".into()),
                ending => return Err(format!("nmap was stopped: {}", ending_word(ending))),
            }
            let part = parse(&outcome.stdout).map_err(|error| format!("nmap's report: {error}"))?;
            report.n_dropped += part.n_dropped;
            report.hosts.extend(part.hosts);
            context.progress(u8::try_from((index + 1) * 100 / n_runs.max(1)).unwrap_or(100), "scanned");
        }
        let (findings, artifacts) = output_of(&report);
        let mut asked: BTreeMap<IpAddr, &[u16]> = BTreeMap::new();
        for (ports, addresses) in &by_ports {
            for address in addresses.iter().filter_map(|address| address.parse::<IpAddr>().ok()) {
                asked.insert(address.to_canonical(), ports);
            }
        }
        let coverage = coverage_of(&report, &asked, &params, &findings);
        let result = result_of(&report, confinement);
        let result = serde_json::to_value(result).map_err(|_| "cannot encode the result".to_owned())?;
        Ok(ToolOutput { result, findings, artifacts, coverage })
    }
}

/// What a run looked at: each host nmap scanned whole (see [`scanned_whole`]) at the ports asked
/// of it, for `nmap.exposed_*`, `nmap.service_version` when versions were asked for, and
/// `nmap.script.*` (there and on the host itself) when scripts were. Nothing when the report or
/// the findings were cut at their bounds, since a finding may then have been left out.
fn coverage_of(
    report: &NmapReport,
    asked: &BTreeMap<IpAddr, &[u16]>,
    params: &NmapParams,
    findings: &Kept<Finding>,
) -> Kept<Covered> {
    let mut coverage = Kept::default();
    if report.n_dropped > 0 || findings.n_dropped() > 0 {
        return coverage;
    }
    // The ports were settled too: a service not found at one of them is closed.
    let mut checks = vec!["nmap.exposed_*", PORTS];
    if params.service_detection {
        checks.push("nmap.service_version");
    }
    if params.default_scripts {
        checks.push("nmap.script.*");
    }
    for host in &report.hosts {
        let Some(ports) = asked.get(&host.address) else { continue };
        if !scanned_whole(host, ports) {
            continue;
        }
        let asset = host.address.to_string();
        if params.default_scripts {
            coverage.push(Covered::new("nmap.script.*", &asset).at(""));
        }
        for check in &checks {
            coverage.extend(Covered::at_ports(check, &asset, Proto::Tcp, ports));
        }
    }
    coverage
}

/// Whether nmap settled every one of `ports` on `host` (listed, or counted among its extra
/// ports) and the host answered on one of them. A host that timed out, or answered nothing (down,
/// unreachable, every port filtered), was not seen closed.
fn scanned_whole(host: &NmapHost, ports: &[u16]) -> bool {
    let asked: BTreeSet<u16> = ports.iter().copied().collect();
    let listed: BTreeSet<u16> =
        host.ports.iter().filter(|port| port.proto == Proto::Tcp).map(|port| port.port).collect();
    let n_extra: u64 = host.extra_ports.iter().map(|extra| extra.count).fold(0, u64::saturating_add);
    let answered =
        host.ports.iter().any(|port| port.proto == Proto::Tcp && matches!(port.state.as_str(), "open" | "closed"))
            || host.extra_ports.iter().any(|extra| extra.state == "closed" && extra.count > 0);
    host.status == "up"
        && !host.timed_out
        && answered
        && listed.is_subset(&asked)
        && (listed.len() as u64).saturating_add(n_extra) == asked.len() as u64
}

fn result_of(report: &crate::nmap::NmapReport, confinement: crate::external::Confinement) -> NmapResult {
    let open = report.hosts.iter().flat_map(|host| &host.ports).filter(|port| port.state == "open").count() as u64;
    NmapResult { hosts: host_views(report), open, sandbox: confinement_word(confinement).to_owned() }
}

/// The hosts of a report as a result lists them.
pub(crate) fn host_views(report: &crate::nmap::NmapReport) -> Vec<NmapHostView> {
    report
        .hosts
        .iter()
        .map(|host| NmapHostView {
            address: host.address.to_string(),
            status: host.status.clone(),
            hostnames: host.hostnames.clone(),
            ports: host
                .ports
                .iter()
                .map(|port| NmapPortView {
                    port: port.port,
                    proto: port.proto.to_string(),
                    state: port.state.clone(),
                    service: port.service.as_ref().map(|service| service.name.clone()),
                    product: port.service.as_ref().and_then(|service| service.product.clone()),
                    version: port.service.as_ref().and_then(|service| service.version.clone()),
                    scripts: port.scripts.iter().map(|script| (script.id.clone(), script.output.clone())).collect(),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_written_as_ranges() {
        assert_eq!(port_list(&[80, 22, 23, 24, 443, 22]), "22-24,80,443");
        assert_eq!(port_list(&[65535, 65534]), "65534-65535");
    }

    fn host_of(xml: &str) -> NmapReport {
        crate::nmap::parse(format!("<nmaprun>{xml}</nmaprun>").as_bytes()).expect("a report")
    }

    fn params(service_detection: bool, default_scripts: bool) -> NmapParams {
        NmapParams { targets: vec!["10.0.0.5".into()], ports: "22".into(), service_detection, default_scripts }
    }

    const ADDRESS: &str = r#"<status state="up" reason="user-set"/><address addr="10.0.0.5" addrtype="ipv4"/>"#;

    #[test]
    fn a_host_settled_whole_is_covered_at_the_ports_asked_for_the_checks_run() {
        let report = host_of(&format!(
            r#"<host>{ADDRESS}<ports><extraports state="closed" count="9"/><extraports state="filtered" count="1"/>
            <port protocol="tcp" portid="6379"><state state="open"/></port></ports></host>"#
        ));
        let ports: Vec<u16> = (1..=10).chain([6379]).collect();
        let address: IpAddr = "10.0.0.5".parse().expect("an address");
        let asked = BTreeMap::from([(address, ports.as_slice())]);
        let (findings, _) = output_of(&report);

        let coverage = coverage_of(&report, &asked, &params(false, false), &findings);
        let covers =
            |check: &str, location: &str| coverage.items().iter().any(|c| c.covers(check, "10.0.0.5", location));
        assert!(covers("nmap.exposed_redis", "tcp/6379") && covers("nmap.exposed_telnet", "tcp/10"));
        assert!(!covers("nmap.exposed_telnet", "tcp/23"), "a port not asked for");
        assert!(!covers("nmap.service_version", "tcp/6379") && !covers("nmap.script.ssh-hostkey", ""), "not run");

        let everything = coverage_of(&report, &asked, &params(true, true), &findings);
        let covers =
            |check: &str, location: &str| everything.items().iter().any(|c| c.covers(check, "10.0.0.5", location));
        assert!(covers("nmap.service_version", "tcp/6379") && covers("nmap.script.ssh-hostkey", "tcp/6379"));
        assert!(covers("nmap.script.clock-skew", ""), "host scripts ran on the host");
    }

    #[test]
    fn a_host_timed_out_silent_or_partly_settled_is_not_covered() {
        let address: IpAddr = "10.0.0.5".parse().expect("an address");
        let ports: Vec<u16> = (1..=10).collect();
        let asked = BTreeMap::from([(address, ports.as_slice())]);
        for xml in [
            // Timed out: nmap lists what it had, which says nothing of the rest.
            format!(r#"<host timedout="true">{ADDRESS}<ports><extraports state="closed" count="10"/></ports></host>"#),
            // Every port filtered: the host may be down.
            format!(r#"<host>{ADDRESS}<ports><extraports state="filtered" count="10"/></ports></host>"#),
            // One port short of those asked.
            format!(r#"<host>{ADDRESS}<ports><extraports state="closed" count="9"/></ports></host>"#),
            // Down.
            r#"<host><status state="down"/><address addr="10.0.0.5" addrtype="ipv4"/></host>"#.to_owned(),
        ] {
            let report = host_of(&xml);
            let (findings, _) = output_of(&report);
            assert!(coverage_of(&report, &asked, &params(true, true), &findings).is_empty(), "{xml}");
        }
        let whole =
            host_of(&format!(r#"<host>{ADDRESS}<ports><extraports state="closed" count="10"/></ports></host>"#));
        let (findings, _) = output_of(&whole);
        let coverage = coverage_of(&whole, &asked, &params(false, false), &findings);
        let checks: Vec<&str> = coverage.items().iter().map(|covered| covered.check.as_str()).collect();
        assert_eq!(checks, ["nmap.exposed_*", PORTS], "its exposures, and its ports settled");
        let other: IpAddr = "10.0.0.6".parse().expect("an address");
        let not_asked = BTreeMap::from([(other, ports.as_slice())]);
        assert!(coverage_of(&whole, &not_asked, &params(false, false), &findings).is_empty(), "a host not asked");
    }

    #[test]
    fn the_argv_holds_only_fixed_options_ports_and_addresses() {
        let params = NmapParams {
            targets: vec!["127.0.0.1".into()],
            ports: "22".into(),
            service_detection: true,
            default_scripts: false,
        };
        let argv = Nmap::argv(&params, &[22, 80], &["127.0.0.1".into()]);
        assert_eq!(argv.join(" "), "-n -Pn -sT --unprivileged -T4 -oX - -p 22,80 -sV -- 127.0.0.1");
    }
}
