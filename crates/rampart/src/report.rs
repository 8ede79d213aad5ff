//! `rampart report`: an organisation's findings, or one run's, as a report file — JSON, CSV,
//! SARIF 2.1.0, HTML or PDF — read from the server's database, with the list's filters.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use rampart_core::ExecutionId;
use rampart_core::findings::{FindingStatus, Severity};
use rampart_core::orgs::Slug;
use rampart_engine::reports;
use rampart_report::Format;
use rampart_store::FindingFilter;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The organisation, by its slug.
    #[arg(long)]
    org: String,
    /// json, csv, sarif, html or pdf.
    #[arg(long, default_value = "html", value_parser = |text: &str| text.parse::<Format>())]
    format: Format,
    /// Where to write it; standard output when absent.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Only the findings of this run.
    #[arg(long, value_name = "EXECUTION_ID")]
    run: Option<ExecutionId>,
    /// open, acknowledged, resolved, false_positive or accepted.
    #[arg(long, value_parser = |text: &str| text.parse::<FindingStatus>())]
    status: Option<FindingStatus>,
    /// info, low, medium, high or critical.
    #[arg(long, value_parser = |text: &str| text.parse::<Severity>())]
    severity: Option<Severity>,
    /// Exactly this asset.
    #[arg(long)]
    asset: Option<String>,
    /// Seen by this tool.
    #[arg(long)]
    tool: Option<String>,
    /// A check id, or a family: `tls_inspect.*`.
    #[arg(long)]
    check: Option<String>,
    /// Seen at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
    /// Only findings still open past their due date.
    #[arg(long)]
    overdue: bool,
}

impl ReportArgs {
    fn filter(&self) -> FindingFilter {
        FindingFilter {
            severity: self.severity,
            status: self.status,
            asset: self.asset.clone(),
            tool: self.tool.clone(),
            check: self.check.clone(),
            since: self.since,
            overdue: self.overdue.then_some(true),
            execution: self.run,
            ..FindingFilter::default()
        }
    }

    fn criteria(&self) -> Vec<(String, String)> {
        let given = [
            ("run", self.run.map(|id| id.to_string())),
            ("status", self.status.map(|status| status.to_string())),
            ("severity", self.severity.map(|severity| severity.to_string())),
            ("asset", self.asset.clone()),
            ("tool", self.tool.clone()),
            ("check", self.check.clone()),
            ("seen since", self.since.map(|since| since.to_rfc3339())),
            ("overdue", self.overdue.then(|| "true".to_owned())),
        ];
        given.into_iter().filter_map(|(name, value)| value.map(|value| (name.to_owned(), value))).collect()
    }
}

pub async fn run(config: &Config, args: ReportArgs) -> anyhow::Result<()> {
    let slug = Slug::parse(&args.org).map_err(|reason| anyhow::anyhow!("--org {reason}"))?;
    let store = crate::services::open_store(config).await?;
    let Some(org) = store.orgs().find_by_slug(&slug).await? else {
        bail!("no organisation has the slug {:?}", args.org);
    };
    let report = match args.run {
        Some(run) => reports::run_report(store.as_ref(), org.id, run).await.context("reading the run")?,
        None => reports::report(store.as_ref(), org.id, "Findings".to_owned(), &args.filter(), args.criteria()).await?,
    };
    store.close().await;
    let bytes = rampart_report::render(args.format, &report);
    match &args.output {
        Some(path) => std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&bytes).context("writing the report")?,
    }
    if args.output.is_some() {
        eprintln!("{} findings written as {}", report.findings.len(), args.format);
    }
    Ok(())
}
