//! `rampart scan whois`: the `whois` tool from the command line, printed as a table or JSON. The
//! domains given are the scope; WHOIS and RDAP servers are reached under the configuration's
//! outbound policy (`outbound.allow`), as the server reaches them, starting where the
//! configuration's `whois` section says.

use clap::Args;
use rampart_tools::whois::Whois;
use serde_json::{Value, json};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct WhoisArgs {
    /// Registered domains to look up; they are the lookup's scope.
    #[arg(required = true, value_name = "DOMAIN")]
    domains: Vec<String>,
    /// A domain expiring within this many days is a finding.
    #[arg(long, default_value_t = 30)]
    expiry_days: u32,
    /// The longest wait for one server, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Print the result, findings included, as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: WhoisArgs) -> anyhow::Result<()> {
    let gate = super::gate(config, &args.domains)?;
    let params = json!({"domains": args.domains, "expiry_days": args.expiry_days, "timeout_ms": args.timeout_ms});
    let tool = Whois::new(config.whois.servers().map_err(|reason| anyhow::anyhow!("whois.rdap_bootstrap: {reason}"))?);
    let output = super::run_with_outbound(&tool, params, gate, Some(super::outbound_gate(config)), args.json).await?;
    if args.json {
        super::print_json_with_findings(output)?;
        return Ok(());
    }
    for domain in output.result["domains"].as_array().into_iter().flatten() {
        let text = |key: &str| domain[key].as_str().unwrap_or("-").to_owned();
        println!("{} ({})", text("domain"), text("source"));
        println!("  registrar:    {}", text("registrar"));
        println!("  created:      {}", text("created"));
        println!("  updated:      {}", text("updated"));
        println!("  expires:      {}", text("expires"));
        let list = |key: &str| {
            domain[key].as_array().map(|items| items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
        };
        println!("  name servers: {}", list("name_servers").unwrap_or_default());
        println!("  status:       {}", list("status").unwrap_or_default());
        if let Some(error) = domain["error"].as_str() {
            println!("  error:        {error}");
        }
    }
    for finding in output.findings.items() {
        println!("[{}] {} {}: {}", finding.severity.as_str(), finding.check_id, finding.asset, finding.title);
    }
    Ok(())
}
