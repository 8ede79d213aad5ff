//! `http_probe`: many URLs probed at once through the gate's HTTP client, at most `concurrency`
//! in flight and `per_host` to any one host and port. Each answer is read for its status, title,
//! redirect chain, technology hints, security headers, cookies and favicon; what is missing or
//! weak becomes a finding (`http_probe.<check>`, on the final URL's origin at its path), and
//! each URL that answered a `Url` artifact and the address and port behind it a `Service`.
//! A URL covers the checks run on its answer, where their findings would sit: nothing when no
//! answer came, the gate refused a hop, or the chain ran past the redirects allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, Covered, Finding, Kept, Proto};
use rampart_scope::{HttpCertificates, HttpClient, HttpOptions};
use reqwest::Url;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::coverage::Looked;
use crate::http_probe::headers::{Cookie, Issue, SecurityHeaders};
use crate::http_probe::probe::{BodyEnd, HostLimits, Probed, Settings, probe};
use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};

/// Most URLs one run probes.
pub const URLS_MAX: usize = 10_000;
/// Most characters of one URL.
const URL_MAX: usize = 2048;
/// Most host names one HTTP client of the gate is given (it remembers at most 1,024, redirects
/// included); more hosts share more clients.
const NAMES_PER_CLIENT: usize = 256;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeParams {
    /// `http://` or `https://` URLs, their hosts in scope (at most 10000).
    pub urls: Vec<String>,
    /// URLs probed at once (1 to 1024, default 64).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Requests at once to one host and port (1 to 64, default 4).
    #[serde(default)]
    pub per_host: Option<usize>,
    /// The longest wait for one response, body included, in milliseconds (100 to 120000, default 10000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Redirects followed, each checked against the scope (0 to 10, default 5).
    #[serde(default)]
    pub max_redirects: Option<usize>,
    /// Fetch and hash `/favicon.ico` of each final URL (default true).
    #[serde(default)]
    pub favicon: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HttpProbeSummary {
    pub urls: usize,
    /// URLs with a response.
    pub answered: usize,
    /// URLs whose chain a refusal of the gate stopped.
    pub refused: usize,
    /// URLs with no response (connection, TLS or timeout errors).
    pub failed: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HttpProbeResult {
    /// One per URL, in the order given.
    pub results: Vec<Probed>,
    pub summary: HttpProbeSummary,
}

/// The run's settings, validated.
struct Plan {
    urls: Vec<Url>,
    concurrency: usize,
    per_host: usize,
    settings: Settings,
}

pub struct HttpProbe;

impl HttpProbe {
    fn plan_of(params: &HttpProbeParams) -> Result<Plan, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if params.urls.is_empty() {
            errors.add("params.urls", "name at least one URL");
        }
        if params.urls.len() > URLS_MAX {
            errors.add("params.urls", format!("at most {URLS_MAX} URLs"));
        }
        let mut urls = Vec::new();
        for (index, text) in params.urls.iter().enumerate().take(URLS_MAX) {
            match parse_url(text) {
                Ok(url) => urls.push(url),
                Err(message) => errors.add(format!("params.urls[{index}]"), message),
            }
        }
        let concurrency = params.concurrency.unwrap_or(64);
        if !(1..=1024).contains(&concurrency) {
            errors.add("params.concurrency", "must be between 1 and 1024");
        }
        let per_host = params.per_host.unwrap_or(4);
        if !(1..=64).contains(&per_host) {
            errors.add("params.per_host", "must be between 1 and 64");
        }
        let timeout = params.timeout_ms.unwrap_or(10_000);
        if !(100..=120_000).contains(&timeout) {
            errors.add("params.timeout_ms", "must be between 100 and 120000");
        }
        let max_redirects = params.max_redirects.unwrap_or(5);
        if max_redirects > rampart_scope::http::REDIRECTS_MAX {
            errors.add("params.max_redirects", format!("must be at most {}", rampart_scope::http::REDIRECTS_MAX));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let settings = Settings {
            timeout: Duration::from_millis(timeout),
            max_redirects,
            favicon: params.favicon.unwrap_or(true),
        };
        Ok(Plan { urls, concurrency, per_host, settings })
    }
}

/// An http or https URL with a host, at most [`URL_MAX`] characters.
fn parse_url(text: &str) -> Result<Url, String> {
    if text.len() > URL_MAX {
        return Err(format!("is longer than {URL_MAX} characters"));
    }
    let url = Url::parse(text.trim()).map_err(|error| format!("is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    Ok(url)
}

/// `host:port` of a URL, as the scope check reads it.
fn host_port(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0))
}

#[async_trait]
impl Tool for HttpProbe {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<HttpProbeParams, HttpProbeResult>(
            "http_probe",
            "web",
            "HTTP probe: status, title, redirect chain, technologies, security headers, cookies and favicon hash of many URLs, with findings for what is missing or weak.",
            Duration::from_secs(3600),
        )
    }

    /// One `host:port` per URL, in the order given.
    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: HttpProbeParams = parse_params(params)?;
        Ok(RunTarget::list("urls", Self::plan_of(&params)?.urls.iter().map(host_port)))
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        let params: HttpProbeParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        let plan = Self::plan_of(&params).map_err(|errors| errors.to_string())?;
        let n_urls = plan.urls.len();
        context.log(LogStream::Stdout, format!("probing {n_urls} URLs"));

        // The gate's client remembers a bounded number of host names: hosts are shared out
        // among as many clients as they need.
        // Redirects are followed here, hop by hop; any certificate is taken, as the probe reports
        // what answers (certificates are `tls_inspect`'s).
        let options = HttpOptions {
            redirects: 0,
            connect_timeout: plan.settings.timeout,
            certificates: HttpCertificates::AcceptAny,
            ..HttpOptions::default()
        };
        let mut clients: Vec<HttpClient> = Vec::new();
        let mut client_of_host: BTreeMap<String, usize> = BTreeMap::new();
        let mut assigned = Vec::with_capacity(n_urls);
        for url in &plan.urls {
            let n_hosts = client_of_host.len();
            let index = *client_of_host
                .entry(url.host_str().unwrap_or_default().to_owned())
                .or_insert(n_hosts / NAMES_PER_CLIENT);
            if index == clients.len() {
                clients.push(
                    HttpClient::new(context.gate.clone(), &options)
                        .map_err(|_| "cannot make an HTTP client".to_owned())?,
                );
            }
            assigned.push(clients[index].clone());
        }

        let limits = Arc::new(HostLimits::new(plan.per_host));
        let in_flight = Arc::new(Semaphore::new(plan.concurrency));
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for (index, (url, client)) in plan.urls.into_iter().zip(assigned).enumerate() {
            let (limits, in_flight, done, settings) =
                (limits.clone(), in_flight.clone(), done.clone(), plan.settings.clone());
            let context = context.clone();
            tasks.spawn(async move {
                let _slot = in_flight.acquire_owned().await.expect("the run's semaphore is never closed");
                let probed = tokio::select! {
                    probed = probe(&client, &limits, &settings, url) => Some(probed),
                    () = context.cancel.cancelled() => None,
                };
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                let percent = u8::try_from(finished * 100 / n_urls.max(1)).unwrap_or(100);
                context.progress(percent, format!("{finished} of {n_urls} URLs"));
                (index, probed)
            });
        }
        let mut results: Vec<Option<Probed>> = vec![None; n_urls];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, probed)) => results[index] = probed,
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_) => {}
            }
        }
        if context.cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let results: Vec<Probed> = results.into_iter().flatten().collect();
        for probed in &results {
            let line = match (&probed.status, &probed.refused, &probed.error) {
                (Some(status), _, _) => {
                    format!("{} {status} {}", probed.url, probed.title.as_deref().unwrap_or_default())
                }
                (None, Some(refused), _) => format!("{} refused at {}: {}", probed.url, refused.url, refused.reason),
                (None, None, error) => format!("{} failed: {}", probed.url, error.as_deref().unwrap_or_default()),
            };
            context.log(LogStream::Stdout, line);
        }
        let (findings, artifacts) = output_of(&results);
        let coverage = coverage_of(&results);
        let summary = HttpProbeSummary {
            urls: n_urls,
            answered: results.iter().filter(|probed| probed.status.is_some()).count(),
            refused: results.iter().filter(|probed| probed.refused.is_some()).count(),
            failed: results.iter().filter(|probed| probed.status.is_none() && probed.refused.is_none()).count(),
        };
        let result = serde_json::to_value(HttpProbeResult { results, summary })
            .map_err(|_| "cannot encode the result".to_owned())?;
        Ok(ToolOutput { result, findings, artifacts, coverage })
    }
}

/// The findings and artifacts of a run. Findings sit on the final URL's origin at its path, once
/// per origin, path and check however many URLs reached it.
pub fn output_of(results: &[Probed]) -> (Kept<Finding>, Kept<Artifact>) {
    let mut findings = BTreeMap::new();
    let mut urls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut services = BTreeSet::new();
    for probed in results {
        let Some(final_url) = probed.final_url.as_deref().and_then(|url| Url::parse(url).ok()) else { continue };
        urls.entry(final_url.to_string()).or_default().extend(probed.technologies.iter().map(|technology| {
            match &technology.version {
                Some(version) => format!("{} {version}", technology.name),
                None => technology.name.clone(),
            }
        }));
        let https = final_url.scheme() == "https";
        if let (Some(address), Some(port)) =
            (probed.address.as_deref().and_then(|a| a.parse::<IpAddr>().ok()), final_url.port_or_known_default())
        {
            services.insert((address, port, final_url.scheme().to_owned()));
        }
        let origin = final_url.origin().ascii_serialization();
        let path = final_url.path().to_owned();
        let mut add = |issue: Issue, location: String| {
            let check = format!("http_probe.{}", issue.check);
            findings.entry((origin.clone(), location.clone(), check.clone())).or_insert_with(|| {
                Finding::new(issue.severity, check, issue.title, origin.clone(), location).detail(issue.detail)
            });
        };
        let redirected = probed.status.is_some_and(|status| (300..400).contains(&status));
        if !redirected && let Some(headers) = &probed.security_headers {
            for issue in headers.issues(https) {
                add(issue, path.clone());
            }
        }
        for (cookie, over_https) in probed.cookies.iter().zip(&probed.cookies_over_https) {
            for issue in cookie.issues(*over_https) {
                add(issue, format!("cookie:{}", cookie.name));
            }
        }
        if Url::parse(&probed.url).is_ok_and(|asked| asked.scheme() == "http") && !https && !probed.too_many_redirects {
            add(
                Issue {
                    check: "no_https_redirect",
                    severity: Severity::Medium,
                    title: "HTTP is served without a redirect to HTTPS".into(),
                    detail: format!(
                        "{} answered over plain HTTP (status {}) without sending the client to HTTPS.",
                        probed.url,
                        probed.status.unwrap_or(0)
                    ),
                },
                path.clone(),
            );
        }
        if probed.directory_listing {
            add(
                Issue {
                    check: "directory_listing",
                    severity: Severity::Medium,
                    title: "Directory listing enabled".into(),
                    detail: format!(
                        "{final_url} lists the files of a directory ({}).",
                        probed.title.as_deref().unwrap_or("no title")
                    ),
                },
                path.clone(),
            );
        }
        if let Some(server) = probed.default_page {
            add(
                Issue {
                    check: "default_page",
                    severity: Severity::Low,
                    title: format!("{server} default page"),
                    detail: format!(
                        "{final_url} shows the default page of {server}: an unconfigured or forgotten server."
                    ),
                },
                path.clone(),
            );
        }
    }
    let findings = findings.into_values().collect();
    let mut artifacts: Kept<Artifact> = urls
        .into_iter()
        .map(|(url, technologies)| Artifact::Url { url, technologies: technologies.into_iter().collect() })
        .collect();
    artifacts.extend(services.into_iter().map(|(host, port, scheme)| Artifact::Service {
        host,
        port,
        proto: Proto::Tcp,
        name: Some(scheme),
    }));
    (findings, artifacts)
}

/// What a run looked at, where [`output_of`] would have put each finding. For each URL whose
/// chain ended in an answer (no refusal, no error, not cut short by `max_redirects`), on the final
/// URL's origin:
/// - the header checks at its path, when that answer is not a redirect;
/// - `directory_listing` and `default_page` at its path, when its body was read without an error;
/// - the cookie checks at `cookie:<name>`, for each cookie set along the chain (`cookie_no_secure`
///   only when it was set over HTTPS): a cookie not set this time was not looked at;
/// - `no_https_redirect` when the URL asked was `http://`: at the asked URL, each `http://` hop and
///   an `http://` final URL, on their own origins and paths (had the chain ended at any of them,
///   the finding would be there).
///
/// The intermediate hops' answers are redirects, which the header and page checks never read, so
/// they are not covered for them.
pub fn coverage_of(results: &[Probed]) -> Kept<Covered> {
    let mut looked = Looked::default();
    for probed in results {
        let Some(final_url) = probed.final_url.as_deref().and_then(|url| Url::parse(url).ok()) else { continue };
        if probed.status.is_none() || probed.refused.is_some() || probed.too_many_redirects {
            continue;
        }
        let https = final_url.scheme() == "https";
        let origin = final_url.origin().ascii_serialization();
        let path = final_url.path().to_owned();
        let mut cover = |origin: &str, check: &str, location: String| {
            looked.at(format!("http_probe.{check}"), origin, location);
        };
        let redirected = probed.status.is_some_and(|status| (300..400).contains(&status));
        if !redirected && probed.security_headers.is_some() {
            for check in SecurityHeaders::checks(https) {
                cover(&origin, check, path.clone());
            }
        }
        if matches!(probed.body, BodyEnd::Whole | BodyEnd::Cut) {
            cover(&origin, "directory_listing", path.clone());
            cover(&origin, "default_page", path.clone());
        }
        let mut cookies: BTreeMap<&str, bool> = BTreeMap::new();
        for (cookie, over_https) in probed.cookies.iter().zip(&probed.cookies_over_https) {
            *cookies.entry(cookie.name.as_str()).or_default() |= *over_https;
        }
        for (name, over_https) in cookies {
            for check in Cookie::checks(over_https) {
                cover(&origin, check, format!("cookie:{name}"));
            }
        }
        if Url::parse(&probed.url).is_ok_and(|asked| asked.scheme() == "http") {
            let chain = std::iter::once(probed.url.as_str())
                .chain(probed.redirects.iter().map(|hop| hop.url.as_str()))
                .chain([final_url.as_str()]);
            for url in chain.filter_map(|url| Url::parse(url).ok()).filter(|url| url.scheme() == "http") {
                cover(&url.origin().ascii_serialization(), "no_https_redirect", url.path().to_owned());
            }
        }
    }
    looked.into_coverage()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_fields(params: Value) -> Vec<String> {
        match HttpProbe.check(&params) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|error| error.field.clone()).collect(),
        }
    }

    #[test]
    fn check_names_each_urls_host_and_port_in_order() {
        let targets = HttpProbe
            .check(&serde_json::json!({"urls": ["http://a.example/x", "https://a.example", "http://[2001:db8::1]:8080/", "https://10.0.0.1:8443"]}))
            .expect("valid");
        assert_eq!(
            targets,
            RunTarget::list(
                "urls",
                ["a.example:80", "a.example:443", "[2001:db8::1]:8080", "10.0.0.1:8443"].map(String::from)
            )
        );
        assert_eq!(targets[3].field, "params.urls[3]");
    }

    #[test]
    fn bad_urls_and_bounds_are_named() {
        assert_eq!(refused_fields(serde_json::json!({"urls": []})), ["params.urls"]);
        assert_eq!(
            refused_fields(
                serde_json::json!({"urls": ["ftp://a.example", "a.example", "http://u:p@a.example/", "https://ok.example"]})
            ),
            ["params.urls[0]", "params.urls[1]", "params.urls[2]"]
        );
        assert_eq!(
            refused_fields(
                serde_json::json!({"urls": ["http://a.example"], "concurrency": 0, "per_host": 65, "timeout_ms": 5, "max_redirects": 11})
            ),
            ["params.concurrency", "params.per_host", "params.timeout_ms", "params.max_redirects"]
        );
        let many = vec!["http://a.example"; URLS_MAX + 1];
        assert_eq!(refused_fields(serde_json::json!({ "urls": many })), ["params.urls"]);
    }
}
