//! `rampart scan secrets`: the `secret_scan` tool from the command line over a local repository
//! or a clone URL, printed as a table or JSON. The operator running it may scan any repository
//! they can read: the path given is the one allowed directory, a URL's host the one target. The rules are the shipped ones extended by the
//! configuration's `secret_scan.rules`, or by `--rules` instead.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use rampart_tools::secret_scan::{Rules, SecretScan};
use serde_json::json;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// The repository: a work tree, a bare repository, or an http(s) clone URL (its host is the scope).
    #[arg(value_name = "REPOSITORY")]
    repository: String,
    /// A rule file in gitleaks' TOML format extending the shipped rules, instead of the configuration's.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Files larger than this many bytes are skipped and counted.
    #[arg(long, default_value_t = 1 << 20)]
    max_blob_bytes: u64,
    /// Commits walked at most, from the tips back.
    #[arg(long, default_value_t = 100_000)]
    max_commits: usize,
    /// Secrets listed at most; the rest are counted.
    #[arg(long, default_value_t = 10_000)]
    max_findings: usize,
    /// Print the result, findings included, as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: SecretsArgs) -> anyhow::Result<()> {
    let (repository, allowed, scope) =
        if args.repository.starts_with("https://") || args.repository.starts_with("http://") {
            let target = rampart_tools::git_clone::url_target(&args.repository)
                .map_err(|reason| anyhow::anyhow!("the URL {reason}"))?;
            let (host, _) = rampart_core::targets::parse_host_port(&target)
                .map_err(|reason| anyhow::anyhow!("the URL's host: {reason}"))?;
            (args.repository.clone(), Vec::new(), vec![host.to_string()])
        } else {
            let path = PathBuf::from(&args.repository)
                .canonicalize()
                .with_context(|| format!("reading the repository {}", args.repository))?;
            let repository = path.to_str().context("the repository's path is not UTF-8")?.to_owned();
            (repository, vec![path], Vec::new())
        };
    let rules = match &args.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Rules::extended(&text).map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()))?
        }
        None => config.secret_scan.rules().map_err(|reason| anyhow::anyhow!("secret_scan.rules: {reason}"))?,
    };
    let tool = SecretScan::new(rules, allowed);
    let params = json!({
        "repository": repository,
        "max_blob_bytes": args.max_blob_bytes,
        "max_commits": args.max_commits,
        "max_findings": args.max_findings,
    });
    let output = super::run(&tool, params, super::gate(config, &scope)?, args.json).await?;
    if args.json {
        return super::print_json_with_findings(output);
    }
    let result = &output.result;
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("-").to_owned();
    let secrets = result["secrets"].as_array().cloned().unwrap_or_default();
    if !secrets.is_empty() {
        println!("{:<28} {:<12} {:<10} LOCATION", "RULE", "COMMIT", "SECRET");
    }
    for secret in &secrets {
        let commit = text(&secret["commit"]);
        println!(
            "{:<28} {:<12} {:<10} {}:{}",
            text(&secret["rule"]),
            commit.get(..12).unwrap_or(&commit),
            text(&secret["redacted"]),
            text(&secret["path"]),
            secret["line"].as_u64().unwrap_or(0)
        );
    }
    let summary = &result["summary"];
    let count = |key: &str| summary[key].as_u64().unwrap_or(0);
    println!(
        "{} secrets in {} commits ({} files scanned, {} too large, {} binary){}",
        count("secrets"),
        count("commits"),
        count("blobs_scanned"),
        count("blobs_too_large"),
        count("blobs_binary"),
        if summary["truncated"].as_bool() == Some(true) { "; more found than listed" } else { "" }
    );
    Ok(())
}
