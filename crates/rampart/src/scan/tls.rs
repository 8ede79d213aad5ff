//! `rampart scan tls`: the `tls_inspect` tool from the command line, printed as a table with the
//! findings below it, or the result as JSON. The targets' hosts are the inspection's scope.

use clap::Args;
use rampart_core::targets::{Host, parse_host_port};
use rampart_tools::ToolOutput;
use rampart_tools::tls_inspect::TlsInspect;
use serde_json::{Value, json};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct TlsArgs {
    /// host:port (the port defaults to 443); the hosts are the inspection's scope.
    #[arg(required = true, value_name = "HOST:PORT")]
    targets: Vec<String>,
    /// A certificate expiring within this many days is a finding.
    #[arg(long, default_value_t = 30)]
    expiry_days: u32,
    /// The longest wait for one connection and handshake, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Targets inspected at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: TlsArgs) -> anyhow::Result<()> {
    // A target that does not parse is left out of the scope; the tool's check names it.
    let hosts: Vec<String> = args
        .targets
        .iter()
        .filter_map(|target| parse_host_port(target).ok())
        .map(|(host, _)| match host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name,
        })
        .collect();
    let gate = super::gate(config, &hosts)?;
    let params = json!({
        "targets": args.targets,
        "expiry_days": args.expiry_days,
        "timeout_ms": args.timeout_ms,
        "concurrency": args.concurrency,
    });
    let output = super::run(&TlsInspect, params, gate, args.json).await?;
    if args.json {
        super::print_json(&output.result)?;
    } else {
        print_table(&output);
    }
    Ok(())
}

fn print_table(output: &ToolOutput) {
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    println!("{:<40} {:<8} {:<16} {:<40} {:<20} TRUSTED", "TARGET", "PROTOCOL", "ACCEPTS", "SUBJECT", "NOT AFTER");
    for inspected in output.result["results"].as_array().into_iter().flatten() {
        let versions = &inspected["versions"];
        let accepted: Vec<&str> = [("tls1_0", "1.0"), ("tls1_1", "1.1"), ("tls1_2", "1.2"), ("tls1_3", "1.3")]
            .iter()
            .filter(|(key, _)| versions[*key] == Value::Bool(true))
            .map(|(_, name)| *name)
            .collect();
        let leaf = &inspected["certificates"][0];
        println!(
            "{:<40} {:<8} {:<16} {:<40} {:<20} {}",
            text(&inspected["target"]),
            text(&inspected["protocol"]),
            accepted.join(","),
            text(&leaf["subject"]),
            text(&leaf["not_after"]),
            inspected["trusted"],
        );
        if let Some(reason) = inspected["error"].as_str().or(inspected["handshake_error"].as_str()) {
            println!("  {reason}");
        }
    }
    super::print_findings(output);
}
