//! `rampart scan dns`: the `dns_lookup` tool from the command line, printed as a table or JSON.
//! The names and resolvers given are the scope; with no resolver named, the system's resolvers
//! (the `nameserver` lines of `/etc/resolv.conf`) are used and are the scope too.

use std::net::IpAddr;

use anyhow::{Context, bail};
use clap::Args;
use rampart_core::targets::parse_host_port;
use rampart_tools::dns_lookup::DnsLookup;
use serde_json::{Value, json};

use crate::config::Config;

/// The system's resolver list, read from at most this many bytes.
const RESOLV_CONF_MAX: u64 = 64 * 1024;

#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Host names to look up, or addresses to look up the PTR name of; they are the lookup's scope.
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// A resolver as address or address:port (port 53 when absent); repeat for more. The system's when none.
    #[arg(long = "resolver", value_name = "ADDRESS[:PORT]")]
    resolvers: Vec<String>,
    /// A record type to ask for (A, AAAA, CNAME, MX, NS, TXT, SOA, CAA, PTR, SRV); repeat for more. All when none.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Look for subdomains of each name from the built-in word list.
    #[arg(long)]
    subdomains: bool,
    /// Do not ask the name servers for a zone transfer.
    #[arg(long)]
    no_zone_transfer: bool,
    /// The port name servers are asked on for a zone transfer.
    #[arg(long, default_value_t = 53)]
    name_server_port: u16,
    /// The longest wait for an answer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// Questions in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Print the result, findings included, as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: DnsArgs) -> anyhow::Result<()> {
    let resolvers = if args.resolvers.is_empty() { system_resolvers()? } else { args.resolvers.clone() };
    // The scope: every name, and the address of every resolver.
    let mut scope = args.names.clone();
    for resolver in &resolvers {
        match parse_host_port(resolver) {
            Ok((host, _)) => scope.push(host.to_string()),
            Err(reason) => bail!("resolver {resolver:?} {reason}"),
        }
    }
    let gate = super::gate(config, &scope)?;
    let types: Vec<String> = args.types.iter().map(|kind| kind.to_ascii_uppercase()).collect();
    let mut params = json!({
        "names": args.names,
        "resolvers": resolvers,
        "subdomains": args.subdomains,
        "zone_transfer": !args.no_zone_transfer,
        "name_server_port": args.name_server_port,
        "timeout_ms": args.timeout_ms,
        "concurrency": args.concurrency,
    });
    if !types.is_empty() {
        params["types"] = json!(types);
    }
    let output = super::run(&DnsLookup::default(), params, gate, args.json).await?;
    if args.json {
        super::print_json_with_findings(output)?;
    } else {
        print_table(&output.result);
        for finding in output.findings.items() {
            println!("[{}] {} {}: {}", finding.severity.as_str(), finding.check_id, finding.asset, finding.title);
        }
    }
    Ok(())
}

/// The `nameserver` addresses of `/etc/resolv.conf`.
fn system_resolvers() -> anyhow::Result<Vec<String>> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open("/etc/resolv.conf")
        .context("no --resolver given, and the system's resolvers cannot be read")?
        .take(RESOLV_CONF_MAX)
        .read_to_string(&mut text)
        .context("reading the system's resolvers")?;
    let found: Vec<String> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|address| address.split('%').next()?.parse::<IpAddr>().ok())
        .map(|address| match address {
            IpAddr::V6(v6) => format!("[{v6}]:53"),
            IpAddr::V4(v4) => format!("{v4}:53"),
        })
        .take(rampart_tools::dns_lookup::RESOLVERS_MAX)
        .collect();
    if found.is_empty() {
        bail!("no --resolver given, and the system names none");
    }
    Ok(found)
}

fn print_table(result: &Value) {
    println!("{:<40} {:<6} {:>6}  VALUE", "NAME", "TYPE", "TTL");
    for name in result["names"].as_array().into_iter().flatten() {
        let records = name["records"].as_array().map(Vec::as_slice).unwrap_or_default();
        if records.is_empty() {
            println!(
                "{:<40} {:<6} {:>6}  -",
                name["name"].as_str().unwrap_or_default(),
                name["status"].as_str().unwrap_or_default(),
                ""
            );
        }
        for record in records {
            println!(
                "{:<40} {:<6} {:>6}  {}",
                record["name"].as_str().unwrap_or_default(),
                record["type"].as_str().unwrap_or_default(),
                record["ttl"],
                record["value"].as_str().unwrap_or_default(),
            );
        }
    }
    for found in result["subdomains"].as_array().into_iter().flatten() {
        println!("subdomain {}", found["name"].as_str().unwrap_or_default());
    }
    for transfer in result["zone_transfers"].as_array().into_iter().flatten() {
        println!(
            "zone transfer of {} from {} ({}): {}",
            transfer["zone"].as_str().unwrap_or_default(),
            transfer["name_server"].as_str().unwrap_or_default(),
            transfer["address"].as_str().unwrap_or_default(),
            transfer["outcome"].as_str().unwrap_or_default(),
        );
    }
    let summary = &result["summary"];
    println!(
        "{} names: {} resolved, {} NXDOMAIN, {} without an answer; {} subdomains; {} queries",
        summary["names"],
        summary["resolved"],
        summary["nxdomain"],
        summary["failed"],
        summary["subdomains"],
        summary["queries"]
    );
}
