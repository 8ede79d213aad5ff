//! `rampart scan tcp`: the `tcp_scan` tool run from the command line, with no server. The targets
//! given are the scope; the deny list of the configuration still applies.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{Gate, Refusal, RefusalSink, SystemResolver};
use rampart_tools::tcp_scan::TcpScan;
use rampart_tools::{Tool, ToolContext, Update};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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

struct PrintRefusals;

#[async_trait]
impl RefusalSink for PrintRefusals {
    async fn refused(&self, refusal: &Refusal) {
        eprintln!("refused: {}: {}", refusal.host, refusal.reason);
    }
}

pub async fn tcp(config: &Config, args: TcpArgs) -> anyhow::Result<()> {
    let mut scope = Vec::new();
    for target in &args.targets {
        let value = TargetValue::parse(target).map_err(|reason| anyhow::anyhow!("target {target:?} {reason}"))?;
        scope.push(ScopeTarget { value, ports: None, exclude: false });
    }
    let gate = Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(config.deny_list(config.listen)),
        Arc::new(SystemResolver),
        Arc::new(PrintRefusals),
    );
    let params = json!({
        "targets": args.targets,
        "ports": args.ports,
        "timeout_ms": args.timeout_ms,
        "concurrency": args.concurrency,
        "retries": args.retries,
        "banner": args.banner,
    });
    if let Err(errors) = TcpScan.check(&params) {
        bail!("{errors}");
    }

    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let (updates, mut received) = mpsc::unbounded_channel();
    let bar = if !args.json && std::io::stderr().is_terminal() { ProgressBar::new(100) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos:>3}% {msg}").expect("a valid template"));
    let shown = bar.clone();
    let renderer = tokio::spawn(async move {
        while let Some(update) = received.recv().await {
            if let Update::Progress { percent, message } = update {
                shown.set_position(u64::from(percent));
                shown.set_message(message);
            }
        }
    });

    let result = TcpScan.run(params, ToolContext::new(gate, cancel, updates)).await.map(|output| output.result);
    let _ = renderer.await;
    bar.finish_and_clear();
    let result = result.map_err(|reason| anyhow::anyhow!(reason)).context("the scan failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result).context("printing the result")?);
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
