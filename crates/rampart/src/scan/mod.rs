//! `rampart scan …`: the tools run from the command line, with no server. The targets given are
//! the run's scope; the deny list of the configuration still applies. Each command builds its
//! tool's parameters, and [`run`] checks them, shows progress on a terminal, stops on Ctrl-C and
//! returns the tool's result.

pub mod dns;
pub mod http;
pub mod secrets;
pub mod tcp;
pub mod tls;
pub mod whois;

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressStyle};
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{Gate, Refusal, RefusalSink, SystemResolver};
use rampart_tools::{Tool, ToolContext, ToolOutput, Update};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

struct PrintRefusals;

#[async_trait]
impl RefusalSink for PrintRefusals {
    async fn refused(&self, refusal: &Refusal) {
        eprintln!("refused: {}: {}", refusal.host, refusal.reason);
    }
}

/// A gate whose scope is exactly `targets` (addresses, networks or host names), under the
/// configuration's deny list.
pub fn gate(config: &Config, targets: &[String]) -> anyhow::Result<Gate> {
    let mut scope = Vec::new();
    for target in targets {
        let value = TargetValue::parse(target).map_err(|reason| anyhow::anyhow!("target {target:?} {reason}"))?;
        scope.push(ScopeTarget { value, ports: None, exclude: false });
    }
    Ok(Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(config.deny_list(config.listen)),
        Arc::new(SystemResolver),
        Arc::new(PrintRefusals),
    ))
}

/// Checks `params` against `tool` and runs it through `gate`, with a progress bar on a terminal
/// unless `quiet`; Ctrl-C cancels the run, which returns what it found so far.
pub async fn run(tool: &dyn Tool, params: Value, gate: Gate, quiet: bool) -> anyhow::Result<ToolOutput> {
    run_with_outbound(tool, params, gate, None, quiet).await
}

/// The outbound gate of the command line: the configuration's outbound policy, refusals printed.
pub fn outbound_gate(config: &Config) -> Gate {
    Gate::outbound(
        Arc::new(config.outbound.policy(vec![config.listen])),
        Arc::new(SystemResolver),
        Arc::new(PrintRefusals),
    )
}

/// [`run`], with `outbound` for the services the tool consults that are not targets.
pub async fn run_with_outbound(
    tool: &dyn Tool,
    params: Value,
    gate: Gate,
    outbound: Option<Gate>,
    quiet: bool,
) -> anyhow::Result<ToolOutput> {
    if let Err(errors) = tool.check(&params) {
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
    let bar = if !quiet && std::io::stderr().is_terminal() { ProgressBar::new(100) } else { ProgressBar::hidden() };
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
    let mut context = ToolContext::new(gate, cancel, updates);
    if let Some(outbound) = outbound {
        context = context.with_outbound(outbound);
    }
    let output = tool.run(params, context).await;
    let _ = renderer.await;
    bar.finish_and_clear();
    output.map_err(|reason| anyhow::anyhow!(reason)).context("the scan failed")
}

/// Prints a result as indented JSON, written out as it is encoded.
pub fn print_json(result: &Value) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, result).context("printing the result")?;
    writeln!(out).and_then(|()| out.flush()).context("printing the result")
}

/// Prints a run's result as indented JSON, with its findings under `findings`.
pub fn print_json_with_findings(output: ToolOutput) -> anyhow::Result<()> {
    let findings: Vec<Value> = output
        .findings
        .items()
        .iter()
        .map(|finding| {
            serde_json::json!({
                "severity": finding.severity.as_str(),
                "check_id": finding.check_id,
                "title": finding.title,
                "asset": finding.asset,
                "location": finding.location,
                "detail": finding.detail,
            })
        })
        .collect();
    let mut result = output.result;
    result["findings"] = Value::Array(findings);
    print_json(&result)
}

/// Prints a run's findings, one a line, most severe first.
pub fn print_findings(output: &ToolOutput) {
    let mut findings: Vec<_> = output.findings.items().iter().collect();
    if findings.is_empty() {
        return;
    }
    findings.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then_with(|| (&a.asset, &a.location).cmp(&(&b.asset, &b.location)))
    });
    println!();
    println!("{:<9} {:<45} {:<40} LOCATION", "SEVERITY", "CHECK", "ASSET");
    for finding in findings {
        println!(
            "{:<9} {:<40} {:<40} {}",
            finding.severity.as_str(),
            finding.check_id,
            finding.asset,
            finding.location
        );
    }
    println!();
}
