//! `rampart scan tcp`: the `tcp_scan` tool from the command line, printed as a table or JSON.

use clap::Args;
use rampart_tools::tcp_scan::TcpScan;
use serde_json::{Value, json};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct TcpArgs {
    /// Addresses, networks (10.0.0.0/24) or host names; they are the scan's scope.
    #[arg(required = true, value_name = "TARGET")]
    targets: Vec<String>,
    /// Ports: 1-65535, 22,80,443, top-100 or top-1000.
    #[arg(short, long, default_value = "top-1000")]
    ports: String,
    /// The longest wait for a connection, in milliseconds, before a port counts as filtered.
    #[arg(long, default_value_t = 1500)]
    timeout_ms: u64,
    /// Connections in flight at once (capped by the open-file limit).
    #[arg(long, default_value_t = rampart_tools::tcp_scan::engine::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Extra tries for filtered ports.
    #[arg(long, default_value_t = 1)]
    retries: u8,
    /// Read what open ports say first.
    #[arg(long)]
    banner: bool,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: TcpArgs) -> anyhow::Result<()> {
    let gate = super::gate(config, &args.targets)?;
    let params = json!({
        "targets": args.targets,
        "ports": args.ports,
        "timeout_ms": args.timeout_ms,
        "concurrency": args.concurrency,
        "retries": args.retries,
        "banner": args.banner,
    });
    let result = super::run(&TcpScan, params, gate, args.json).await?.result;
    if args.json {
        super::print_json(&result)?;
    } else {
        print_table(&result);
    }
    Ok(())
}

fn print_table(result: &Value) {
    println!("{:<40} {:>5}  {:<16} {:<9} BANNER", "ADDRESS", "PORT", "SERVICE", "SEVERITY");
    for host in result["hosts"].as_array().into_iter().flatten() {
        for open in host["open"].as_array().into_iter().flatten() {
            println!(
                "{:<40} {:>5}  {:<16} {:<9} {}",
                host["address"].as_str().unwrap_or_default(),
                open["port"],
                open["service"].as_str().unwrap_or("-"),
                open["severity"].as_str().unwrap_or_default(),
                open["banner"].as_str().unwrap_or_default(),
            );
        }
    }
    let summary = &result["summary"];
    println!(
        "{} open, {} closed, {} filtered, {} refused by scope or deny list ({} addresses x {} ports, {} probes)",
        summary["open"],
        summary["closed"],
        summary["filtered"],
        summary["refused"],
        summary["addresses"],
        summary["ports"],
        summary["probes"]
    );
    if summary["truncated"] == Value::Bool(true) {
        println!("more ports were open than a result lists: the table shows the first of them");
    }
}
