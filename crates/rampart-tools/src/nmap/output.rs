//! An nmap report as findings and artifacts, the same for a run and for an imported report:
//! each host with an open port a `Host` artifact, each open port a `Service` artifact; a finding
//! for each risky exposure (`nmap.exposed_<service>`, the port scanner's rules), each service
//! whose version nmap identified (`nmap.service_version`) and each script result
//! (`nmap.script.<id>`).

use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, Finding, Kept, Proto};

use crate::nmap::xml::{NmapPort, NmapReport};
use crate::tcp_scan::{assess, check_id};

/// The findings and artifacts of `report`.
pub fn output_of(report: &NmapReport) -> (Kept<Finding>, Kept<Artifact>) {
    let mut findings = Kept::default();
    let mut artifacts = Kept::default();
    for host in &report.hosts {
        let asset = host.address.to_string();
        let open: Vec<&NmapPort> = host.ports.iter().filter(|port| port.state == "open").collect();
        if !open.is_empty() {
            artifacts.push(Artifact::Host { address: host.address });
        }
        for script in &host.scripts {
            findings.push(
                Finding::new(Severity::Info, format!("nmap.script.{}", script.id), script.id.clone(), &asset, "")
                    .detail(script.output.clone()),
            );
        }
        for port in open {
            let location = format!("{}/{}", port.proto, port.port);
            artifacts.push(Artifact::Service {
                host: host.address,
                port: port.port,
                proto: port.proto,
                name: port.service.as_ref().map(|service| service.name.clone()),
            });
            if port.proto == Proto::Tcp
                && let Some(check) = check_id(port.port)
            {
                let (severity, title) = assess(port.port);
                let check = check.replacen("tcp_scan.", "nmap.", 1);
                findings.push(
                    Finding::new(severity, check, title, &asset, &location)
                        .detail(format!("nmap reports {location} open on {asset}.")),
                );
            }
            if let Some(service) = &port.service
                && service.version.is_some()
                && let Some(banner) = service.banner()
            {
                findings.push(
                    Finding::new(
                        Severity::Info,
                        "nmap.service_version",
                        format!("{location} runs {}: {banner}", service.name),
                        &asset,
                        &location,
                    )
                    .detail(format!("nmap identified {} on {location} as {banner}.", service.name)),
                );
            }
            for script in &port.scripts {
                findings.push(
                    Finding::new(
                        Severity::Info,
                        format!("nmap.script.{}", script.id),
                        format!("{} on {location}", script.id),
                        &asset,
                        &location,
                    )
                    .detail(script.output.clone()),
                );
            }
        }
    }
    artifacts.count_unkept(report.n_dropped);
    (findings, artifacts)
}
