//! `tls_inspect`: for each `host:port`, a handshake that keeps the certificate chain (read with
//! x509-parser), the TLS versions the server accepts (1.2 and 1.3 by rustls handshakes, 1.0 and
//! 1.1 by a hand-written ClientHello), whether the chain is trusted by the platform's roots,
//! whether it names the host, and whether OCSP is stapled. Every connection is made by the gate.
//! What is wrong becomes a finding (`tls_inspect.<check>`, on the host at `tcp/<port>`), and each
//! server's certificate a `Certificate` artifact. An endpoint whose certificate was read is covered
//! for the certificate checks, and for each old version's check only when that version was tried.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::ValidationErrors;
use rampart_core::executions::LogStream;
use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, Covered, Finding, Kept};
use rampart_core::targets::{Host, parse_host_port};
use rampart_scope::Gate;
use rampart_scope::rustls::client::WebPkiServerVerifier;
use rampart_scope::rustls::client::danger::ServerCertVerifier;
use rampart_scope::rustls::pki_types::{ServerName, UnixTime};
use rampart_scope::rustls::{self, CertificateError, ProtocolVersion};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::coverage::Looked;
use crate::tls_inspect::certificate::CertificateInfo;
use crate::tls_inspect::handshake::{Handshake, handshake, provider};
use crate::tls_inspect::hello::{TLS1_0, TLS1_1, accepts};
use crate::tool::{RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, parse_params};

/// Most targets one run inspects.
pub const TARGETS_MAX: usize = 1000;
/// How soon a certificate's expiry is a finding when a run does not say.
const DEFAULT_EXPIRY_DAYS: u32 = 30;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsInspectParams {
    /// `host:port` (`[v6]:port`; the port defaults to 443), in scope (at most 1000).
    pub targets: Vec<String>,
    /// A certificate expiring within this many days is a finding (0 to 3650, default 30).
    #[serde(default)]
    pub expiry_days: Option<u32>,
    /// The longest wait for one connection and handshake, in milliseconds (100 to 60000, default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Targets inspected at once (1 to 256, default 16).
    #[serde(default)]
    pub concurrency: Option<usize>,
}

/// Which versions the server accepts; `null` when the probe could not tell.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Versions {
    pub tls1_0: Option<bool>,
    pub tls1_1: Option<bool>,
    pub tls1_2: Option<bool>,
    pub tls1_3: Option<bool>,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Inspected {
    /// The target as given.
    pub target: String,
    pub host: String,
    pub port: u16,
    /// The address connected to.
    pub address: Option<String>,
    /// Why nothing could be inspected (refused by the gate, unreachable).
    pub error: Option<String>,
    /// Why the handshake failed, when it did (the certificate may still have been read).
    pub handshake_error: Option<String>,
    /// `TLSv1_3`, `TLSv1_2`: the version this client and the server agreed on.
    pub protocol: Option<String>,
    pub cipher_suite: Option<String>,
    pub versions: Versions,
    /// The chain as presented, the server's own certificate first.
    pub certificates: Vec<CertificateInfo>,
    /// Each certificate is issued by the next one.
    pub chain_in_order: Option<bool>,
    /// The chain leads to a root of the platform's trust store.
    pub trusted: Option<bool>,
    /// Why it does not, when it does not.
    pub trust_error: Option<String>,
    pub hostname_matches: Option<bool>,
    pub ocsp_stapled: Option<bool>,
    /// Why the handshake's signature did not verify (a key too weak for this client).
    pub signature_error: Option<String>,
    /// Whether every certificate of the chain presented was read (not shown).
    #[serde(skip)]
    pub chain_read_whole: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TlsInspectResult {
    /// One per target, in the order given.
    pub results: Vec<Inspected>,
}

struct Target {
    text: String,
    host: Host,
    port: u16,
}

impl Target {
    fn host_text(&self) -> String {
        match &self.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        }
    }

    fn server_name(&self) -> Option<ServerName<'static>> {
        match &self.host {
            Host::Ip(ip) => Some(ServerName::IpAddress((*ip).into())),
            Host::Name(name) => ServerName::try_from(name.clone()).ok(),
        }
    }

    fn scope_text(&self) -> String {
        match &self.host {
            Host::Ip(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host_text(), self.port),
        }
    }
}

struct Plan {
    targets: Vec<Target>,
    expiry_days: u32,
    timeout: Duration,
    concurrency: usize,
}

pub struct TlsInspect;

impl TlsInspect {
    fn plan_of(params: &TlsInspectParams) -> Result<Plan, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if params.targets.is_empty() {
            errors.add("params.targets", "name at least one host:port");
        }
        if params.targets.len() > TARGETS_MAX {
            errors.add("params.targets", format!("at most {TARGETS_MAX} targets"));
        }
        let mut targets = Vec::new();
        for (index, text) in params.targets.iter().enumerate().take(TARGETS_MAX) {
            match parse_host_port(text) {
                Ok((host, port)) => targets.push(Target { text: text.clone(), host, port: port.unwrap_or(443) }),
                Err(message) => errors.add(format!("params.targets[{index}]"), message),
            }
        }
        let expiry_days = params.expiry_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
        if expiry_days > 3650 {
            errors.add("params.expiry_days", "must be at most 3650");
        }
        let timeout = params.timeout_ms.unwrap_or(5000);
        if !(100..=60_000).contains(&timeout) {
            errors.add("params.timeout_ms", "must be between 100 and 60000");
        }
        let concurrency = params.concurrency.unwrap_or(16);
        if !(1..=256).contains(&concurrency) {
            errors.add("params.concurrency", "must be between 1 and 256");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Plan { targets, expiry_days, timeout: Duration::from_millis(timeout), concurrency })
    }
}

#[async_trait]
impl Tool for TlsInspect {
    fn info(&self) -> ToolInfo {
        ToolInfo::of::<TlsInspectParams, TlsInspectResult>(
            "tls_inspect",
            "network",
            "TLS inspection: certificate chains, TLS versions accepted (1.0 to 1.3), trust, host name match and OCSP stapling, with findings for expired, untrusted, mismatched, weak and outdated.",
            Duration::from_secs(1800),
        )
    }

    /// One `host:port` per target, in the order given.
    fn check(&self, params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let params: TlsInspectParams = parse_params(params)?;
        Ok(RunTarget::list("targets", Self::plan_of(&params)?.targets.iter().map(Target::scope_text)))
    }

    async fn run(&self, params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        let params: TlsInspectParams = parse_params(&params).map_err(|errors| errors.to_string())?;
        let plan = Self::plan_of(&params).map_err(|errors| errors.to_string())?;
        let n_targets = plan.targets.len();
        context.log(LogStream::Stdout, format!("inspecting {n_targets} TLS endpoints"));
        let in_flight = Arc::new(Semaphore::new(plan.concurrency));
        let mut tasks = JoinSet::new();
        for (index, target) in plan.targets.into_iter().enumerate() {
            let (in_flight, context, timeout) = (in_flight.clone(), context.clone(), plan.timeout);
            tasks.spawn(async move {
                let _slot = in_flight.acquire_owned().await.expect("the run's semaphore is never closed");
                let inspected = tokio::select! {
                    inspected = inspect(&context.gate, &target, timeout) => Some(inspected),
                    () = context.cancel.cancelled() => None,
                };
                (index, inspected)
            });
        }
        let mut results: Vec<Option<Inspected>> = (0..n_targets).map(|_| None).collect();
        let mut n_done = 0;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, inspected)) => results[index] = inspected,
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_) => {}
            }
            n_done += 1;
            let percent = u8::try_from(n_done * 100 / n_targets.max(1)).unwrap_or(100);
            context.progress(percent, format!("{n_done} of {n_targets} endpoints"));
        }
        if context.cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let results: Vec<Inspected> = results.into_iter().flatten().collect();
        for inspected in &results {
            let line = match (&inspected.error, inspected.certificates.first()) {
                (Some(error), _) => format!("{}: {error}", inspected.target),
                (None, Some(certificate)) => {
                    format!("{}: {} until {}", inspected.target, certificate.subject, certificate.not_after)
                }
                (None, None) => format!("{}: no certificate", inspected.target),
            };
            context.log(LogStream::Stdout, line);
        }
        let (findings, artifacts) = output_of(&results, Utc::now(), plan.expiry_days);
        let coverage = coverage_of(&results, plan.expiry_days);
        let result =
            serde_json::to_value(TlsInspectResult { results }).map_err(|_| "cannot encode the result".to_owned())?;
        Ok(ToolOutput { result, findings, artifacts, coverage })
    }
}

/// Inspects one target.
async fn inspect(gate: &Gate, target: &Target, timeout: Duration) -> Inspected {
    let host = target.host_text();
    let mut inspected =
        Inspected { target: target.text.clone(), host: host.clone(), port: target.port, ..Inspected::default() };
    let Some(server_name) = target.server_name() else {
        inspected.error = Some("the host is not a name a certificate can hold".into());
        return inspected;
    };
    let all = [&rustls::version::TLS13, &rustls::version::TLS12];
    let first = match handshake(gate, &host, target.port, server_name.clone(), &all, timeout).await {
        Ok(first) => first,
        Err(error) => {
            inspected.error = Some(error.to_string());
            return inspected;
        }
    };
    inspected.address = Some(first.address.ip().to_canonical().to_string());
    // The first handshake offered both: the server's choice says whether it takes 1.3; a second
    // one offering 1.2 alone says whether it takes 1.2 too.
    let (tls1_2, tls1_3) = match first.version {
        Some(ProtocolVersion::TLSv1_3) => {
            let only_1_2 = handshake(gate, &host, target.port, server_name, &[&rustls::version::TLS12], timeout).await;
            (only_1_2.ok().map(|second| second.version == Some(ProtocolVersion::TLSv1_2)), Some(true))
        }
        Some(ProtocolVersion::TLSv1_2) => (Some(true), Some(false)),
        _ if first.timed_out => (None, None),
        _ => (Some(false), Some(false)),
    };
    let name = matches!(target.host, Host::Name(_)).then_some(host.as_str());
    inspected.versions = Versions {
        tls1_0: accepts(gate, &host, name, target.port, TLS1_0, timeout).await,
        tls1_1: accepts(gate, &host, name, target.port, TLS1_1, timeout).await,
        tls1_2,
        tls1_3,
    };
    describe(&mut inspected, first);
    inspected
}

/// What the first handshake showed: its version, suite, chain, trust and names.
fn describe(inspected: &mut Inspected, first: Handshake) {
    inspected.handshake_error = first.error;
    inspected.protocol = first.version.and_then(|version| version.as_str()).map(str::to_owned);
    inspected.cipher_suite = first.cipher_suite;
    inspected.signature_error = first.shown.signature_error;
    let chain = first.shown.chain;
    if chain.is_empty() {
        return;
    }
    inspected.ocsp_stapled = Some(first.shown.ocsp_stapled);
    let mut certificates = Vec::new();
    for der in &chain {
        match CertificateInfo::parse(der) {
            Ok(info) => certificates.push(info),
            Err(reason) => {
                inspected.handshake_error.get_or_insert(reason);
                break;
            }
        }
    }
    inspected.chain_read_whole = certificates.len() == chain.len();
    inspected.chain_in_order = Some(certificates.windows(2).all(|pair| pair[0].raw_issuer == pair[1].raw_subject));
    if let Some(leaf) = certificates.first() {
        inspected.hostname_matches = Some(leaf.matches(&inspected.host));
        let (trusted, reason) = trust(&chain, leaf, &inspected.host);
        inspected.trusted = Some(trusted);
        inspected.trust_error = reason;
    }
    inspected.certificates = certificates;
}

/// Whether the chain leads to a root of the platform's trust store, judged at a moment inside
/// the certificate's validity so that expiry (a finding of its own) and the host name (another)
/// do not decide it.
fn trust(
    chain: &[rustls::pki_types::CertificateDer<'static>],
    leaf: &CertificateInfo,
    host: &str,
) -> (bool, Option<String>) {
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(rampart_scope::tls::native_roots(), provider()).build()
    else {
        return (false, Some("the platform has no trusted roots".into()));
    };
    let Ok(name) = ServerName::try_from(host.to_owned()) else { return (false, Some("not a name".into())) };
    let middle = leaf.not_before.timestamp() / 2 + leaf.not_after.timestamp() / 2;
    let at = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(middle).unwrap_or(0)));
    match verifier.verify_server_cert(&chain[0], &chain[1..], &name, &[], at) {
        Ok(_) => (true, None),
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => (true, None),
        Err(error) => (false, Some(error.to_string())),
    }
}

/// What a run looked at, on each host at `tcp/<port>` as its findings sit. An endpoint the gate
/// refused, or that gave no certificate (unreachable, not TLS, a timeout) is not covered for the
/// certificate checks; one whose certificate was read is, each check only when what it reads
/// was there: the dates of the server's certificate (`expired`, `expiring`, `not_yet_valid`),
/// trust (`self_signed`, `untrusted`), the name (`hostname_mismatch`), and the keys and signatures
/// (`weak_key`, `sha1_signature`) only when the whole chain presented was read; `expiring` only
/// when `expiry_days` looks at least as far ahead as the default, so that a run asking about the
/// next few days does not resolve what a run asking about the next month found. `tls10_enabled` and
/// `tls11_enabled` are covered when the old hello got an answer that told whether the version is
/// accepted, whether or not a certificate was read.
pub fn coverage_of(results: &[Inspected], expiry_days: u32) -> Kept<Covered> {
    let mut looked = Looked::default();
    for inspected in results {
        if inspected.error.is_some() {
            continue;
        }
        let location = format!("tcp/{}", inspected.port);
        let mut cover = |check: &str| looked.at(format!("tls_inspect.{check}"), &inspected.host, &location);
        if inspected.versions.tls1_0.is_some() {
            cover("tls10_enabled");
        }
        if inspected.versions.tls1_1.is_some() {
            cover("tls11_enabled");
        }
        if inspected.certificates.is_empty() {
            continue;
        }
        cover("expired");
        cover("not_yet_valid");
        if expiry_days >= DEFAULT_EXPIRY_DAYS {
            cover("expiring");
        }
        if inspected.trusted.is_some() {
            cover("self_signed");
            cover("untrusted");
        }
        if inspected.hostname_matches.is_some() {
            cover("hostname_mismatch");
        }
        if inspected.chain_read_whole {
            cover("weak_key");
            cover("sha1_signature");
        }
    }
    looked.into_coverage()
}

/// The findings and artifacts of a run, at `now`; one finding per check and target.
pub fn output_of(results: &[Inspected], now: DateTime<Utc>, expiry_days: u32) -> (Kept<Finding>, Kept<Artifact>) {
    let mut findings = Kept::default();
    let mut certificates = BTreeSet::new();
    let mut artifacts = Kept::default();
    for inspected in results {
        let location = format!("tcp/{}", inspected.port);
        let mut add = |severity: Severity, check: &str, title: String, detail: String| {
            findings.push(
                Finding::new(severity, format!("tls_inspect.{check}"), title, inspected.host.clone(), location.clone())
                    .detail(detail),
            );
        };
        let versions = &inspected.versions;
        if versions.tls1_0 == Some(true) {
            add(
                Severity::Medium,
                "tls10_enabled",
                "TLS 1.0 is accepted".into(),
                format!("{} completes a TLS 1.0 hello; TLS 1.0 is deprecated (RFC 8996).", inspected.target),
            );
        }
        if versions.tls1_1 == Some(true) {
            add(
                Severity::Medium,
                "tls11_enabled",
                "TLS 1.1 is accepted".into(),
                format!("{} completes a TLS 1.1 hello; TLS 1.1 is deprecated (RFC 8996).", inspected.target),
            );
        }
        let Some(leaf) = inspected.certificates.first() else { continue };
        // One for each endpoint: its certificate changing is a change of that endpoint.
        if certificates.insert((inspected.host.clone(), inspected.port)) {
            artifacts.push(Artifact::Certificate(leaf.artifact(&inspected.host, inspected.port)));
        }
        let subject = &leaf.subject;
        if leaf.not_after < now {
            add(
                Severity::High,
                "expired",
                "Certificate expired".into(),
                format!("{subject} expired on {}.", leaf.not_after.to_rfc3339()),
            );
        } else if leaf.not_after < now + chrono::Duration::days(i64::from(expiry_days)) {
            let days = (leaf.not_after - now).num_days();
            add(
                Severity::Medium,
                "expiring",
                format!("Certificate expires within {expiry_days} days"),
                format!("{subject} expires on {} ({days} days from now).", leaf.not_after.to_rfc3339()),
            );
        }
        if leaf.not_before > now {
            add(
                Severity::Medium,
                "not_yet_valid",
                "Certificate not yet valid".into(),
                format!("{subject} is valid only from {}.", leaf.not_before.to_rfc3339()),
            );
        }
        if inspected.trusted == Some(false) {
            let reason = inspected.trust_error.as_deref().unwrap_or("unknown");
            if leaf.self_signed {
                add(
                    Severity::Medium,
                    "self_signed",
                    "Self-signed certificate".into(),
                    format!("{subject} is signed by itself and no trusted root vouches for it ({reason})."),
                );
            } else {
                add(
                    Severity::Medium,
                    "untrusted",
                    "Certificate not trusted".into(),
                    format!("{subject}, issued by {}, does not lead to a trusted root: {reason}.", leaf.issuer),
                );
            }
        }
        if inspected.hostname_matches == Some(false) {
            add(
                Severity::Medium,
                "hostname_mismatch",
                format!("Certificate is not for {}", inspected.host),
                format!(
                    "{subject} names {}; {} is not among them.",
                    if leaf.sans.is_empty() { "no alternative names".to_owned() } else { leaf.sans.join(", ") },
                    inspected.host
                ),
            );
        }
        // A root's own key and signature are the trust store's business; every other is checked.
        let checked: Vec<&CertificateInfo> = inspected
            .certificates
            .iter()
            .enumerate()
            .filter(|(index, certificate)| *index == 0 || !certificate.self_signed)
            .map(|(_, certificate)| certificate)
            .collect();
        let weak_keys: Vec<String> = checked
            .iter()
            .filter_map(|certificate| certificate.weak_key().map(|why| format!("{}: {why}", certificate.subject)))
            .collect();
        if !weak_keys.is_empty() {
            add(Severity::High, "weak_key", "Weak certificate key".into(), weak_keys.join("\n"));
        }
        let weak_signatures: Vec<String> = checked
            .iter()
            .filter(|certificate| certificate.weak_signature())
            .map(|certificate| format!("{}: {}", certificate.subject, certificate.signature_algorithm))
            .collect();
        if !weak_signatures.is_empty() {
            add(Severity::Medium, "sha1_signature", "Certificate signed with SHA-1".into(), weak_signatures.join("\n"));
        }
    }
    (findings, artifacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_fields(params: Value) -> Vec<String> {
        match TlsInspect.check(&params) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|error| error.field.clone()).collect(),
        }
    }

    #[test]
    fn check_names_each_host_and_port_with_443_by_default() {
        let targets = TlsInspect
            .check(&serde_json::json!({"targets": ["a.example:8443", "b.example", "[2001:db8::1]:443", "10.0.0.1"]}))
            .expect("valid");
        assert_eq!(
            targets,
            RunTarget::list(
                "targets",
                ["a.example:8443", "b.example:443", "[2001:db8::1]:443", "10.0.0.1:443"].map(String::from)
            )
        );
        assert_eq!(targets[1].field, "params.targets[1]");
    }

    #[test]
    fn bad_targets_and_bounds_are_named() {
        assert_eq!(refused_fields(serde_json::json!({"targets": []})), ["params.targets"]);
        assert_eq!(
            refused_fields(serde_json::json!({"targets": ["a.example:0", "ok.example:443", "a b"]})),
            ["params.targets[0]", "params.targets[2]"]
        );
        assert_eq!(
            refused_fields(
                serde_json::json!({"targets": ["a.example"], "expiry_days": 4000, "timeout_ms": 1, "concurrency": 0})
            ),
            ["params.expiry_days", "params.timeout_ms", "params.concurrency"]
        );
    }
}
