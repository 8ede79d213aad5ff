//! The WHOIS and RDAP lookups against servers this test starts: an IANA-like WHOIS server that
//! refers to a registry, a registry that refers one domain on to its registrar, and an RDAP
//! server named by the bootstrap file, all on 127.0.0.5 and 127.0.0.6. They are reached through
//! an outbound gate that allows loopback; the domains are the organisation's scope.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration as Days, SecondsFormat, Utc};
use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, ToolOutput};
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, OutboundPolicy, Refusal, RefusalSink, SystemResolver, parse_net};
use rampart_tools::whois::{Bootstrap, Whois, WhoisServers};
use rampart_tools::{Tool, ToolContext};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const WHOIS_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
const RDAP_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);

type Answer = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// A WHOIS server on `WHOIS_HOST`: reads one line, answers it with `answer`, hangs up.
async fn whois_server(answer: Answer) -> u16 {
    let listener = TcpListener::bind((WHOIS_HOST, 0)).await.expect("bind a WHOIS server");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).await.is_ok() {
                    let _ = reader.get_mut().write_all(answer(line.trim()).as_bytes()).await;
                }
            });
        }
    });
    port
}

/// An RDAP server on `RDAP_HOST` that knows one domain object, at `/rdap/domain/<name>`.
async fn rdap_server(name: &'static str, object: Value) -> u16 {
    let listener = TcpListener::bind((RDAP_HOST, 0)).await.expect("bind an RDAP server");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let object = object.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < 16_384 {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let wanted = format!("GET /rdap/domain/{name} ");
                let (status, body) = if head.starts_with(&wanted) {
                    ("200 OK", object.to_string())
                } else {
                    ("404 Not Found", "{}".into())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/rdap+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

fn in_days(days: i64) -> String {
    (Utc::now() + Days::days(days) + Days::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

struct Servers {
    whois: WhoisServers,
    registry: u16,
    registrar: u16,
    iana: u16,
}

/// IANA → registry → registrar for `*.whois`, and RDAP for `example.rdap`.
async fn servers() -> Servers {
    let soon = in_days(10);
    let registrar_answer = {
        let soon = soon.clone();
        Arc::new(move |_: &str| {
            format!(
                "Registrar: Soon Registrar LLC\r\nRegistrar Registration Expiration Date: {soon}\r\nDomain Status: ok\r\n"
            )
        })
    };
    let registrar = whois_server(registrar_answer).await;
    let far = in_days(400);
    // A registrar that is gone: a port that was listening a moment ago.
    let gone = TcpListener::bind((WHOIS_HOST, 0)).await.expect("bind").local_addr().expect("an address").port();
    let registry = whois_server(Arc::new(move |query: &str| match query {
        "broken.whois" => format!(
            "Domain Name: BROKEN.WHOIS\r\nRegistrar WHOIS Server: 127.0.0.5:{gone}\r\nRegistry Expiry Date: {far}\r\n\
             Domain Status: ok\r\n"
        ),
        "soon.whois" => format!(
            "Domain Name: SOON.WHOIS\r\nRegistrar WHOIS Server: 127.0.0.5:{registrar}\r\nCreation Date: 2001-02-03T04:05:06Z\r\n\
             Registry Expiry Date: {soon}\r\nName Server: NS1.SOON.WHOIS\r\nName Server: NS2.SOON.WHOIS\r\nDomain Status: ok https://icann.org/epp#ok\r\nDNSSEC: unsigned\r\n"
        ),
        "locked.whois" => format!(
            "Domain Name: LOCKED.WHOIS\r\nRegistrar: Locked Registrar\r\nRegistry Expiry Date: {far}\r\nName Server: ns1.locked.whois\r\n\
             Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\r\nDNSSEC: signedDelegation\r\n"
        ),
        _ => "No match\r\n".into(),
    }))
    .await;
    let iana = whois_server(Arc::new(move |query: &str| {
        format!("% IANA WHOIS server\r\ndomain: WHOIS\r\nstatus: ACTIVE\r\ncreated: 1985-01-01\r\nrefer: 127.0.0.5:{registry}\r\n\r\n% asked {query}\r\n")
    }))
    .await;
    let rdap = rdap_server(
        "example.rdap",
        json!({
            "objectClassName": "domain",
            "ldhName": "example.rdap",
            "events": [{"eventAction": "registration", "eventDate": "2010-05-06T00:00:00Z"},
                       {"eventAction": "expiration", "eventDate": in_days(3)}],
            "nameservers": [{"ldhName": "ns1.example.rdap"}],
            "status": ["active"],
            "secureDNS": {"delegationSigned": false},
            "entities": [{"roles": ["registrar"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "RDAP Registrar"]]]}]
        }),
    )
    .await;
    let bootstrap =
        Bootstrap::parse(&json!({"services": [[["rdap"], [format!("http://127.0.0.6:{rdap}/rdap/")]]]}).to_string())
            .expect("a bootstrap file");
    Servers { whois: WhoisServers { iana: format!("127.0.0.5:{iana}"), bootstrap }, registry, registrar, iana }
}

#[derive(Default)]
struct Refusals(Mutex<Vec<Refusal>>);

#[async_trait]
impl RefusalSink for Refusals {
    async fn refused(&self, refusal: &Refusal) {
        self.0.lock().expect("refusals").push(refusal.clone());
    }
}

fn scope(values: &[&str]) -> Arc<Scope> {
    let targets = values
        .iter()
        .map(|value| ScopeTarget { value: TargetValue::parse(value).expect("a target"), ports: None, exclude: false })
        .collect();
    Arc::new(Scope::new(targets))
}

struct Run {
    output: Result<ToolOutput, String>,
    /// The last progress the run reported.
    progress: Option<u8>,
    tenant_refusals: Vec<Refusal>,
    outbound_refusals: Vec<Refusal>,
}

/// Runs the tool with the organisation's `scope` and an outbound gate allowing `allow` (none: no outbound gate).
async fn run(tool: &Whois, params: Value, scope: Arc<Scope>, allow: Option<&[&str]>) -> Run {
    let tenant = Arc::new(Refusals::default());
    let outbound = Arc::new(Refusals::default());
    let gate = Gate::new(scope, Arc::new(DenyList::default()), Arc::new(SystemResolver), tenant.clone());
    let (sender, mut updates) = tokio::sync::mpsc::unbounded_channel();
    let mut context = ToolContext::new(gate, CancellationToken::new(), sender);
    if let Some(allow) = allow {
        let nets = allow.iter().map(|net| parse_net(net).expect("a network")).collect();
        let policy = Arc::new(OutboundPolicy::new(nets, Vec::new()));
        context = context.with_outbound(Gate::outbound(policy, Arc::new(SystemResolver), outbound.clone()));
    }
    let output = tool.run(params, context).await;
    let mut progress = None;
    while let Ok(update) = updates.try_recv() {
        if let rampart_tools::Update::Progress { percent, .. } = update {
            progress = Some(percent);
        }
    }
    let tenant_refusals = tenant.0.lock().expect("refusals").clone();
    let outbound_refusals = outbound.0.lock().expect("refusals").clone();
    Run { output, progress, tenant_refusals, outbound_refusals }
}

fn domain<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["domains"].as_array().expect("domains").iter().find(|entry| entry["domain"] == name).expect("listed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_come_from_rdap_or_whois_referrals_with_their_findings() {
    let servers = servers().await;
    let tool = Whois::new(servers.whois.clone());
    let params = json!({"domains": ["soon.whois", "locked.whois", "example.rdap"]});

    let run = run(&tool, params, scope(&["soon.whois", "locked.whois", "example.rdap"]), Some(&["127.0.0.0/8"])).await;

    let output = run.output.expect("the lookup runs");
    let result = &output.result;
    let soon = domain(result, "soon.whois");
    assert_eq!(soon["source"], "whois");
    assert_eq!(soon["registrar"], "Soon Registrar LLC", "the registrar's own answer");
    assert_eq!(soon["created"], "2001-02-03T04:05:06Z", "the registry's, where the registrar said nothing");
    assert_eq!(soon["name_servers"], json!(["ns1.soon.whois", "ns2.soon.whois"]));
    assert_eq!(soon["status"], json!(["ok"]));
    assert_eq!(soon["dnssec"], false);
    assert_eq!(soon["expires_in_days"], 10);
    assert_eq!(
        soon["servers"],
        json!([
            format!("127.0.0.5:{}", servers.iana),
            format!("127.0.0.5:{}", servers.registry),
            format!("127.0.0.5:{}", servers.registrar)
        ]),
        "IANA, then the registry, then the registrar"
    );
    assert!(soon["raw"].as_str().expect("the raw answer").starts_with("Registrar: Soon Registrar LLC"));

    let locked = domain(result, "locked.whois");
    assert_eq!((locked["source"].as_str(), locked["registrar"].as_str()), (Some("whois"), Some("Locked Registrar")));
    assert_eq!(locked["status"], json!(["clientTransferProhibited"]));
    assert_eq!(locked["dnssec"], true);
    assert_eq!(locked["servers"].as_array().map(Vec::len), Some(2));

    let rdap = domain(result, "example.rdap");
    assert_eq!(rdap["source"], "rdap");
    assert_eq!(rdap["registrar"], "RDAP Registrar");
    assert_eq!(rdap["created"], "2010-05-06T00:00:00Z");
    assert_eq!(rdap["name_servers"], json!(["ns1.example.rdap"]));
    assert_eq!(rdap["expires_in_days"], 3);
    assert!(rdap.get("raw").is_none());

    let findings: Vec<(String, String, Severity)> = output
        .findings
        .items()
        .iter()
        .map(|finding| (finding.check_id.clone(), finding.asset.clone(), finding.severity))
        .collect();
    let mut findings = findings;
    findings.sort();
    assert_eq!(
        findings,
        [
            ("whois.expiring".to_owned(), "example.rdap".to_owned(), Severity::High),
            ("whois.expiring".to_owned(), "soon.whois".to_owned(), Severity::Medium),
            ("whois.transfer_unlocked".to_owned(), "example.rdap".to_owned(), Severity::Low),
            ("whois.transfer_unlocked".to_owned(), "soon.whois".to_owned(), Severity::Low),
        ]
    );
    let artifacts: Vec<&Artifact> = output.artifacts.items().iter().collect();
    assert_eq!(artifacts.len(), 3);
    assert!(artifacts.iter().all(|artifact| matches!(artifact, Artifact::Domain { .. })));
    assert!(run.tenant_refusals.is_empty() && run.outbound_refusals.is_empty());
    assert_eq!(run.progress, Some(100));

    // Every registration was read whole, with a date and statuses: each is covered for both checks.
    let mut covered: Vec<(String, String, Vec<String>)> = output
        .coverage
        .items()
        .iter()
        .map(|covered| (covered.check.clone(), covered.asset.clone(), covered.locations.clone()))
        .collect();
    covered.sort();
    let expected: Vec<(String, String, Vec<String>)> = ["example.rdap", "locked.whois", "soon.whois"]
        .iter()
        .flat_map(|name| {
            [("whois.expiring", "expiry"), ("whois.transfer_unlocked", "status")]
                .map(|(check, location)| (check.to_owned(), (*name).to_owned(), vec![location.to_owned()]))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(covered, expected);

    // A run looking only a day ahead does not resolve what a month ahead found.
    let short = json!({"domains": ["soon.whois"], "expiry_days": 1});
    let short_run = crate::run(&tool, short, scope(&["soon.whois"]), Some(&["127.0.0.0/8"])).await;
    let output = short_run.output.expect("the lookup runs");
    let checks: Vec<&str> = output.coverage.items().iter().map(|covered| covered.check.as_str()).collect();
    assert_eq!(checks, ["whois.transfer_unlocked"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_whose_referral_failed_covers_nothing() {
    let servers = servers().await;
    let tool = Whois::new(servers.whois.clone());

    let run = run(&tool, json!({"domains": ["broken.whois"]}), scope(&["broken.whois"]), Some(&["127.0.0.0/8"])).await;

    let output = run.output.expect("the lookup runs");
    let broken = domain(&output.result, "broken.whois");
    assert_eq!(broken["source"], "whois", "the registry answered: {broken}");
    assert!(broken["error"].is_string(), "the registrar did not: {broken}");
    assert!(output.coverage.is_empty(), "a registration read in part: {:?}", output.coverage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_outside_the_scope_is_refused_before_any_server_is_asked() {
    let servers = servers().await;
    let tool = Whois::new(servers.whois.clone());

    let run =
        run(&tool, json!({"domains": ["soon.whois", "other.whois"]}), scope(&["soon.whois"]), Some(&["127.0.0.0/8"]))
            .await;

    let error = run.output.expect_err("refused");
    assert!(error.contains("refused"), "{error}");
    assert_eq!(run.tenant_refusals.iter().map(Refusal::target).collect::<Vec<_>>(), ["other.whois"]);
    assert!(run.outbound_refusals.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_the_outbound_policy_refuses_are_not_reached_and_the_refusal_is_recorded() {
    let servers = servers().await;
    let tool = Whois::new(servers.whois.clone());

    // Loopback is special-purpose: refused unless the outbound policy allows it.
    let run = run(&tool, json!({"domains": ["soon.whois"]}), scope(&["soon.whois"]), Some(&[])).await;

    let output = run.output.expect("the run ends");
    let soon = domain(&output.result, "soon.whois");
    assert_eq!(soon["source"], "none");
    assert!(soon["error"].as_str().expect("why").contains("refused"), "{soon}");
    assert!(output.findings.is_empty() && output.artifacts.is_empty());
    assert!(output.coverage.is_empty(), "no server answered: nothing was read");
    assert_eq!(run.outbound_refusals.len(), 1);
    assert_eq!(run.outbound_refusals[0].target(), format!("127.0.0.5:{}", servers.iana));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_outbound_gate_the_tool_does_not_run() {
    let tool = Whois::default();

    let run = run(&tool, json!({"domains": ["soon.whois"]}), scope(&["soon.whois"]), None).await;

    assert!(run.output.expect_err("no outbound gate").contains("outbound gate"));
}
