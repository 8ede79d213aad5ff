//! `rampart scan http`: the `http_probe` tool from the command line, printed as a table with the
//! findings below it, or the result as JSON. The URLs' hosts are the probe's scope: a redirect
//! to any other host is refused and printed.

use clap::Args;
use rampart_tools::ToolOutput;
use rampart_tools::http_probe::HttpProbe;
use serde_json::{Value, json};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct HttpArgs {
    /// http:// or https:// URLs; their hosts are the probe's scope.
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
    /// URLs probed at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests at once to one host and port.
    #[arg(long, default_value_t = 4)]
    per_host: usize,
    /// The longest wait for one response, body included, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Redirects followed, each checked against the scope.
    #[arg(long, default_value_t = 5)]
    max_redirects: usize,
    /// Do not fetch and hash /favicon.ico.
    #[arg(long)]
    no_favicon: bool,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: HttpArgs) -> anyhow::Result<()> {
    // A URL that does not parse is left out of the scope; the tool's check names it.
    let hosts: Vec<String> = args
        .urls
        .iter()
        .filter_map(|text| url::Url::parse(text.trim()).ok())
        .filter_map(|url| url.host_str().map(|host| host.trim_start_matches('[').trim_end_matches(']').to_owned()))
        .collect();
    let gate = super::gate(config, &hosts)?;
    let params = json!({
        "urls": args.urls,
        "concurrency": args.concurrency,
        "per_host": args.per_host,
        "timeout_ms": args.timeout_ms,
        "max_redirects": args.max_redirects,
        "favicon": !args.no_favicon,
    });
    let output = super::run(&HttpProbe, params, gate, args.json).await?;
    if args.json {
        super::print_json(&output.result)?;
    } else {
        print_table(&output);
    }
    Ok(())
}

fn print_table(output: &ToolOutput) {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    println!("{:<50} {:>6}  {:<40} TECHNOLOGIES", "URL", "STATUS", "TITLE");
    for probed in output.result["results"].as_array().into_iter().flatten() {
        let status = match (&probed["status"], &probed["refused"], &probed["error"]) {
            (Value::Number(status), _, _) => status.to_string(),
            (_, Value::Object(_), _) => "refused".to_owned(),
            _ => "failed".to_owned(),
        };
        let technologies: Vec<String> = probed["technologies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|technology| match technology["version"].as_str() {
                Some(version) => format!("{} {version}", text(&technology["name"])),
                None => text(&technology["name"]),
            })
            .collect();
        println!(
            "{:<50} {:>6}  {:<40} {}",
            text(&probed["url"]),
            status,
            text(&probed["title"]),
            technologies.join(", ")
        );
        for hop in probed["redirects"].as_array().into_iter().flatten() {
            println!("  {} -> {}", hop["status"], text(&hop["location"]));
        }
        if let Some(reason) = probed["refused"]["reason"].as_str().or(probed["error"].as_str()) {
            println!("  {reason}");
        }
    }
    super::print_findings(output);
    let summary = &output.result["summary"];
    println!(
        "{} URLs: {} answered, {} refused by scope or deny list, {} failed",
        summary["urls"], summary["answered"], summary["refused"], summary["failed"]
    );
}
