//! `whois`: the registration of each domain in scope, from RDAP where the bootstrap file names the
//! registry's service, else from WHOIS following IANA → registry → registrar referrals (at most
//! four servers, each answer read to at most 64 KiB). Every server is reached through the
//! server's outbound gate. Findings: `whois.expiring` (within `expiry_days`, default 30) and
//! `whois.transfer_unlocked` (no `clientTransferProhibited`); a `Domain` artifact per domain.
//! A domain whose registration was read to the end of its referrals covers each check whose
//! field it had: `expiring` when an expiry date was read (and the run looked at least as far
//! ahead as the default), `transfer_unlocked` when statuses were.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures_util::StreamExt;
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, Covered, Finding, Kept};
use rampart_core::targets::{Host, parse_host_port};
use rampart_scope::{Gate, HttpClient, HttpOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};
use crate::whois::parse::{Bootstrap, Registration, parse_date, rdap_fields, referral, whois_fields};

/// Most domains one run may look up.
pub const DOMAINS_MAX: usize = 100;
/// WHOIS servers asked at most for one domain, IANA's included.
const HOPS_MAX: usize = 4;
/// Bytes of one WHOIS answer read at most.
const RAW_MAX: u64 = 64 * 1024;
/// Bytes of one RDAP answer read at most.
const RDAP_MAX: usize = 1024 * 1024;
/// Domains looked up at once.
const CONCURRENCY: usize = 8;
const DEFAULT_EXPIRY_DAYS: u32 = 30;
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Where the lookups start: the server's settings, never a tenant's parameters (they name
/// servers reached through the outbound gate).
#[derive(Clone, Debug)]
pub struct WhoisServers {
    /// IANA's WHOIS server, `host` or `host:port` (port 43 when absent).
    pub iana: String,
    pub bootstrap: Bootstrap,
}

impl Default for WhoisServers {
    fn default() -> Self {
        Self { iana: "whois.iana.org:43".into(), bootstrap: Bootstrap::shipped() }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Whois {
    servers: Arc<WhoisServers>,
}

impl Whois {
    pub fn new(servers: WhoisServers) -> Self {
        Self { servers: Arc::new(servers) }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoisParams {
    /// Registered domains to look up (1 to 100), all in scope.
    pub domains: Vec<String>,
    /// A domain expiring within this many days is a finding (1 to 3650, default 30).
    #[serde(default)]
    pub expiry_days: Option<u32>,
    /// The longest wait for one server, in milliseconds (100 to 60000, default 10000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DomainResult {
    pub domain: String,
    /// `rdap`, `whois`, or `none` when no server answered.
    pub source: String,
    #[serde(flatten)]
    pub registration: Registration,
    /// Whole days until the expiry date, negative once past; absent when no date could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    /// The servers asked, in order (an RDAP URL, or WHOIS servers as `host:port`).
    pub servers: Vec<String>,
    /// The last WHOIS answer, as sent (at most 64 KiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Why nothing could be read, when so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoisResult {
    pub domains: Vec<DomainResult>,
}

fn validate(params: &WhoisParams) -> Result<(Vec<String>, u32, Duration), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if params.domains.is_empty() || params.domains.len() > DOMAINS_MAX {
        errors.add("params.domains", format!("name 1 to {DOMAINS_MAX} domains"));
    }
    let mut domains = Vec::new();
    for (index, domain) in params.domains.iter().take(DOMAINS_MAX).enumerate() {
        match parse_host_port(domain) {
            Ok((Host::Name(name), None)) if name.contains('.') => domains.push(name),
            Ok(_) => {
                errors.add(format!("params.domains[{index}]"), "must be a registered domain name such as example.com")
            }
            Err(message) => errors.add(format!("params.domains[{index}]"), message),
        }
    }
    domains.sort();
    domains.dedup();
    let expiry_days = params.expiry_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if !(1..=3650).contains(&expiry_days) {
        errors.add("params.expiry_days", "must be between 1 and 3650");
    }
    let timeout = params.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(100..=60_000).contains(&timeout) {
        errors.add("params.timeout_ms", "must be between 100 and 60000");
    }
    if errors.is_empty() { Ok((domains, expiry_days, Duration::from_millis(timeout))) } else { Err(errors) }
}

#[async_trait]
impl Tool for Whois {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<WhoisParams, WhoisResult>(
            "whois",
            "dns",
            "Registration of domains from RDAP or WHOIS (registrar, dates, name servers, status, DNSSEC), with findings for domains about to expire or not locked against transfer.",
            Duration::from_secs(600),
        )
    }

    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: WhoisParams = parse_params(params)?;
        validate(&params)?;
        // Each domain as given (valid), for the refusal to name it.
        Ok(RunTarget::list("domains", params.domains))
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        let params: WhoisParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        let (domains, expiry_days, timeout) = validate(&params).map_err(|errors| errors.to_string())?;
        let outbound = context
            .outbound
            .clone()
            .ok_or("WHOIS and RDAP servers are reached through the server's outbound gate, which this run lacks")?;
        for domain in &domains {
            context.gate.check_host(domain).await.map_err(|error| error.to_string())?;
        }
        let http = HttpClient::new(outbound.clone(), &HttpOptions { redirects: 3, ..HttpOptions::default() })
            .map_err(|_| "cannot build the RDAP client".to_owned())?;
        let lookups = futures_util::stream::iter(domains.iter().cloned())
            .map(|domain| look_up(&self.servers, &outbound, &http, domain, timeout))
            .buffered(CONCURRENCY);
        let total = domains.len();
        let mut done = 0_usize;
        let lookups = lookups.map(|result| {
            done += 1;
            let percent = u8::try_from(done * 100 / total.max(1)).unwrap_or(100);
            context.progress(percent, format!("{done} of {total} domains"));
            result
        });
        let cancel = context.cancel.clone();
        let results: Vec<DomainResult> = tokio::select! {
            results = lookups.collect() => results,
            () = cancel.cancelled() => return Err("cancelled".into()),
        };
        let mut findings = Kept::default();
        let mut artifacts = Kept::default();
        let mut coverage = Kept::default();
        let mut results = results;
        for result in &mut results {
            context.log(LogStream::Stdout, format!("{}: {}", result.domain, result.source));
            if result.source == "none" {
                continue;
            }
            // A referral that failed after another answered leaves a registration read in part.
            let read_whole = result.error.is_none();
            artifacts.push(Artifact::Domain { name: result.domain.clone() });
            result.expires_in_days = result
                .registration
                .expires
                .as_deref()
                .and_then(parse_date)
                .map(|expires| (expires - Utc::now()).num_days());
            // A run looking fewer days ahead than the default does not resolve what one looking
            // further found.
            if read_whole && result.expires_in_days.is_some() && expiry_days >= DEFAULT_EXPIRY_DAYS {
                coverage.push(Covered::new("whois.expiring", &result.domain).at("expiry"));
            }
            if read_whole && !result.registration.status.is_empty() {
                coverage.push(Covered::new("whois.transfer_unlocked", &result.domain).at("status"));
            }
            if let Some(days) = result.expires_in_days.filter(|days| *days < i64::from(expiry_days)) {
                let (severity, title) = if days < 0 {
                    (Severity::High, "The domain's registration has expired".to_owned())
                } else {
                    (
                        if days <= 7 { Severity::High } else { Severity::Medium },
                        format!("The domain expires within {expiry_days} days"),
                    )
                };
                let expires = result.registration.expires.as_deref().unwrap_or_default();
                findings.push(
                    Finding::new(severity, "whois.expiring", title, &result.domain, "expiry")
                        .detail(format!("{} expires on {expires} ({days} days from now).", result.domain)),
                );
            }
            if !result.registration.status.is_empty() && !result.registration.transfer_locked() {
                findings.push(
                    Finding::new(
                        Severity::Low,
                        "whois.transfer_unlocked",
                        "The domain is not locked against transfer (no clientTransferProhibited)",
                        &result.domain,
                        "status",
                    )
                    .detail(format!(
                        "{} has the statuses: {}.",
                        result.domain,
                        result.registration.status.join(", ")
                    )),
                );
            }
        }
        let result = serde_json::to_value(WhoisResult { domains: results })
            .map_err(|_| "cannot encode the result".to_owned())?;
        Ok(ToolOutput { result, findings, artifacts, coverage })
    }
}

async fn look_up(
    servers: &WhoisServers,
    outbound: &Gate,
    http: &HttpClient,
    domain: String,
    timeout: Duration,
) -> DomainResult {
    let mut result = DomainResult {
        domain: domain.clone(),
        source: "none".into(),
        registration: Registration::default(),
        expires_in_days: None,
        servers: Vec::new(),
        raw: None,
        error: None,
    };
    if let Some(base) = servers.bootstrap.base_for(&domain) {
        let url = format!("{base}domain/{domain}");
        result.servers.push(url.clone());
        match rdap(http, &url, timeout).await {
            Ok(object) => {
                result.source = "rdap".into();
                result.registration = rdap_fields(&object);
                return result;
            }
            // WHOIS is still there to ask.
            Err(reason) => result.error = Some(reason),
        }
    }
    let mut server = servers.iana.clone();
    let mut registration = Registration::default();
    for hop in 0..HOPS_MAX {
        result.servers.push(server.clone());
        let text = match whois(outbound, &server, &domain, timeout).await {
            Ok(text) => text,
            Err(reason) => {
                result.error = Some(reason);
                break;
            }
        };
        // IANA's answer is about the top-level domain: only its referral is read.
        if hop > 0 {
            registration = whois_fields(&text).or(registration);
            result.source = "whois".into();
            result.error = None;
        }
        let next = referral(&text);
        result.raw = Some(text);
        match next {
            Some(next) if !result.servers.contains(&next) => server = next,
            _ => break,
        }
    }
    result.registration = registration;
    result
}

/// One WHOIS question: the domain and CRLF, then the answer until the server closes.
async fn whois(outbound: &Gate, server: &str, domain: &str, timeout: Duration) -> Result<String, String> {
    let (host, port) = match parse_host_port(server) {
        Ok((host, port)) => (host.to_string(), port.unwrap_or(43)),
        Err(reason) => return Err(format!("the WHOIS server {server:?} {reason}")),
    };
    let (mut stream, _) = outbound.connect_tcp(&host, port, timeout).await.map_err(|error| error.to_string())?;
    let exchange = async {
        stream.write_all(format!("{domain}\r\n").as_bytes()).await?;
        let mut bytes = Vec::new();
        (&mut stream).take(RAW_MAX).read_to_end(&mut bytes).await?;
        Ok::<_, std::io::Error>(bytes)
    };
    let bytes = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => return Err(format!("WHOIS {server}: {error}")),
        Err(_) => return Err(format!("WHOIS {server}: no answer in time")),
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).collect())
}

/// One RDAP question, its answer read to at most [`RDAP_MAX`] bytes.
async fn rdap(http: &HttpClient, url: &str, timeout: Duration) -> Result<Value, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("{url} is not a URL"))?;
    let mut request = reqwest::Request::new(reqwest::Method::GET, parsed);
    request
        .headers_mut()
        .insert(reqwest::header::ACCEPT, reqwest::header::HeaderValue::from_static("application/rdap+json"));
    *request.timeout_mut() = Some(timeout);
    let mut response = http.send(request).await.map_err(|error| format!("RDAP {url}: {error}"))?;
    if !response.status().is_success() {
        return Err(format!("RDAP {url}: {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| format!("RDAP {url}: the answer broke off"))? {
        if body.len() + chunk.len() > RDAP_MAX {
            return Err(format!("RDAP {url}: the answer is larger than {RDAP_MAX} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| format!("RDAP {url}: the answer is not JSON"))
}
