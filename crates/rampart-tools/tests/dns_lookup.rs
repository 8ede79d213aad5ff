//! The DNS lookup against an authoritative server this test starts on 127.0.0.2 (hickory-server,
//! UDP and TCP on one port) with zones made for every finding: a clean zone whose name servers
//! refuse transfers, one that allows them and publishes weak mail policies, one with a neutral
//! SPF and no DMARC (with a name server outside the scope), and a wildcard zone without any
//! policy. Every packet goes to the test's own server; the scope is the server's address, the
//! zones' names and the one address looked up by PTR.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hickory_proto::op::{Message, OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use rampart_core::findings::Severity;
use rampart_core::output::{Artifact, ToolOutput};
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink};
use rampart_tools::dns_lookup::DnsLookup;
use rampart_tools::{Tool, ToolContext};
use serde_json::{Value, json};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

const GOOD: &str = r#"
$TTL 300
@       IN SOA ns1.good.test. hostmaster.good.test. 1 3600 600 86400 300
@       IN NS  ns1.good.test.
@       IN CAA 0 issue "ca.test"
@       IN TXT "v=spf1 mx -all"
@       IN MX  10 mail.good.test.
_dmarc  IN TXT "v=DMARC1; p=reject"
ns1     IN A   127.0.0.2
www     IN A   127.0.0.10
www     IN AAAA ::1
mail    IN A   127.0.0.11
alias   IN CNAME www.good.test.
gone    IN CNAME nowhere.good.test.
dev     IN CNAME missing.good.test.
_sip._tcp IN SRV 10 5 5060 mail.good.test.
big     IN TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
"#;

const OPEN: &str = r#"
$TTL 300
@       IN SOA ns1.open.test. hostmaster.open.test. 1 3600 600 86400 300
@       IN NS  ns1.open.test.
@       IN TXT "v=spf1 a +all"
_dmarc  IN TXT "v=DMARC1; p=none"
ns1     IN A   127.0.0.2
"#;

const WEAK: &str = r#"
$TTL 300
@       IN SOA ns1.weak.test. hostmaster.weak.test. 1 3600 600 86400 300
@       IN NS  ns1.weak.test.
@       IN NS  ns2.weak.test.
@       IN CAA 0 issue "ca.test"
@       IN TXT "v=spf1 ?all"
ns1     IN A   127.0.0.2
ns2     IN A   127.0.0.3
"#;

const WILD: &str = r#"
$TTL 300
@       IN SOA ns1.wild.test. hostmaster.wild.test. 1 3600 600 86400 300
@       IN NS  ns1.wild.test.
ns1     IN A   127.0.0.2
*       IN A   127.0.0.77
www     IN A   127.0.0.78
"#;

const REVERSE: &str = r#"
$TTL 300
@       IN SOA ns1.good.test. hostmaster.good.test. 1 3600 600 86400 300
@       IN NS  ns1.good.test.
10      IN PTR www.good.test.
"#;

/// The test's DNS server: alive while this is.
struct DnsServer {
    port: u16,
    _server: Server<Catalog>,
}

async fn dns_server() -> DnsServer {
    let mut catalog = Catalog::new();
    let zones = [
        ("good.test.", GOOD, AxfrPolicy::Deny),
        ("open.test.", OPEN, AxfrPolicy::AllowAll),
        ("weak.test.", WEAK, AxfrPolicy::Deny),
        ("wild.test.", WILD, AxfrPolicy::Deny),
        ("0.0.127.in-addr.arpa.", REVERSE, AxfrPolicy::Deny),
    ];
    for (origin, text, policy) in zones {
        let origin = Name::from_ascii(origin).expect("an origin");
        let (origin, records) = Parser::new(text, None, Some(origin)).parse().expect("a zone file");
        let handler =
            InMemoryZoneHandler::<TokioRuntimeProvider>::new(origin.clone(), records, ZoneType::Primary, policy)
                .expect("a zone");
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);
    }
    // UDP and TCP on one port of the server's address.
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind((SERVER, 0)).await.expect("bind UDP on 127.0.0.2");
        let port = udp.local_addr().expect("a UDP address").port();
        if let Ok(tcp) = TcpListener::bind((SERVER, port)).await {
            break (udp, tcp);
        }
    };
    let port = udp.local_addr().expect("a UDP address").port();
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 65_535);
    DnsServer { port, _server: server }
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

/// The server's address, the zones and their subdomains, and the address looked up by PTR.
fn test_scope() -> Arc<Scope> {
    scope(&[
        "127.0.0.2",
        "127.0.0.10",
        "good.test",
        "*.good.test",
        "open.test",
        "weak.test",
        "wild.test",
        "*.wild.test",
    ])
}

async fn run(params: Value, scope: Arc<Scope>) -> (Result<ToolOutput, String>, Vec<Refusal>) {
    run_tool(&DnsLookup::default(), params, scope, None).await
}

/// Runs `tool` with the organisation's `scope`, and an outbound gate that allows loopback when `outbound`.
async fn run_tool(
    tool: &DnsLookup,
    params: Value,
    scope: Arc<Scope>,
    outbound: Option<Arc<Refusals>>,
) -> (Result<ToolOutput, String>, Vec<Refusal>) {
    let refusals = Arc::new(Refusals::default());
    let gate =
        Gate::new(scope, Arc::new(DenyList::default()), Arc::new(rampart_scope::SystemResolver), refusals.clone());
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    let mut context = ToolContext::new(gate, CancellationToken::new(), sender);
    if let Some(sink) = outbound {
        let loopback = rampart_scope::parse_net("127.0.0.0/8").expect("a network");
        let policy = Arc::new(rampart_scope::OutboundPolicy::new(vec![loopback], Vec::new()));
        context = context.with_outbound(Gate::outbound(policy, Arc::new(rampart_scope::SystemResolver), sink));
    }
    let output = tool.run(params, context).await;
    let refused = refusals.0.lock().expect("refusals").clone();
    (output, refused)
}

fn records_of(result: &Value, name: &str) -> BTreeSet<(String, String)> {
    let entry = result["names"]
        .as_array()
        .expect("names")
        .iter()
        .find(|entry| entry["name"] == name)
        .unwrap_or_else(|| panic!("{name} is in the result"));
    entry["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| {
            (record["type"].as_str().expect("a type").to_owned(), record["value"].as_str().expect("a value").to_owned())
        })
        .collect()
}

/// Whether the run covered `check` (without the tool's prefix) on `asset` at `location`.
fn covered(output: &ToolOutput, check: &str, asset: &str, location: &str) -> bool {
    output.coverage.items().iter().any(|covered| covered.covers(&format!("dns_lookup.{check}"), asset, location))
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items.iter().map(|(kind, value)| ((*kind).to_owned(), (*value).to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_findings_and_artifacts_of_every_case() {
    let server = dns_server().await;
    let params = json!({
        "names": ["good.test", "gone.good.test", "alias.good.test", "big.good.test", "_sip._tcp.good.test",
                  "open.test", "weak.test", "wild.test", "nothing.good.test", "127.0.0.10"],
        "resolvers": [format!("127.0.0.2:{}", server.port)],
        "name_server_port": server.port,
        "subdomains": true,
        "timeout_ms": 5000,
        // The test's server drops answers to bursts of hundreds of questions; asked again, they
        // come, but only after the timeout.
        "concurrency": 32,
    });

    let (output, refusals) = run(params, test_scope()).await;
    let output = output.expect("the lookup runs");
    let result = &output.result;

    assert_eq!(
        records_of(result, "good.test"),
        set(&[
            ("CAA", "0 issue \"ca.test\""),
            ("MX", "10 mail.good.test"),
            ("NS", "ns1.good.test"),
            ("SOA", "ns1.good.test hostmaster.good.test 1 3600 600 86400 300"),
            ("TXT", "\"v=spf1 mx -all\""),
        ])
    );
    assert_eq!(
        records_of(result, "alias.good.test"),
        set(&[("A", "127.0.0.10"), ("AAAA", "::1"), ("CNAME", "www.good.test")])
    );
    assert_eq!(records_of(result, "_sip._tcp.good.test"), set(&[("SRV", "10 5 5060 mail.good.test")]));
    assert_eq!(records_of(result, "127.0.0.10"), set(&[("PTR", "www.good.test")]));
    let big = records_of(result, "big.good.test");
    assert_eq!(big.len(), 1, "the long TXT record, read over TCP when UDP was truncated");
    assert!(big.iter().all(|(kind, value)| kind == "TXT" && value.len() > 1500 && value.ends_with("ff\"")));
    let status = |name: &str| {
        result["names"].as_array().expect("names").iter().find(|entry| entry["name"] == name).expect("listed")["status"]
            .clone()
    };
    assert_eq!(status("nothing.good.test"), "NXDOMAIN");
    assert_eq!(status("good.test"), "NOERROR");
    assert_eq!(result["summary"]["names"], 10);
    assert_eq!(result["summary"]["nxdomain"], 1);

    // Findings: exactly the weak policies planted, on the names they are about.
    let findings: BTreeSet<(String, String, String, Severity)> = output
        .findings
        .items()
        .iter()
        .map(|finding| (finding.check_id.clone(), finding.asset.clone(), finding.location.clone(), finding.severity))
        .collect();
    let axfr = format!("axfr/127.0.0.2:{}", server.port);
    let expected: BTreeSet<(String, String, String, Severity)> = [
        ("dns_lookup.dangling_cname", "gone.good.test", "CNAME", Severity::High),
        ("dns_lookup.dangling_cname", "dev.good.test", "CNAME", Severity::High),
        ("dns_lookup.caa_missing", "open.test", "CAA", Severity::Low),
        ("dns_lookup.spf_pass_all", "open.test", "SPF", Severity::High),
        ("dns_lookup.dmarc_not_enforced", "open.test", "DMARC", Severity::Low),
        ("dns_lookup.zone_transfer", "open.test", axfr.as_str(), Severity::High),
        ("dns_lookup.spf_neutral_all", "weak.test", "SPF", Severity::Medium),
        ("dns_lookup.dmarc_missing", "weak.test", "DMARC", Severity::Medium),
        ("dns_lookup.caa_missing", "wild.test", "CAA", Severity::Low),
        ("dns_lookup.spf_missing", "wild.test", "SPF", Severity::Medium),
        ("dns_lookup.dmarc_missing", "wild.test", "DMARC", Severity::Medium),
    ]
    .into_iter()
    .map(|(check, asset, location, severity)| (check.to_owned(), asset.to_owned(), location.to_owned(), severity))
    .collect();
    assert_eq!(findings, expected);

    // Coverage: every finding was looked for, and so was each check that got an answer, on the
    // name its finding would name; nothing that was not asked or not answered.
    for (check, asset, location, _) in &findings {
        assert!(covered(&output, &check["dns_lookup.".len()..], asset, location), "{check} {asset}");
    }
    let here_axfr = format!("axfr/127.0.0.2:{}", server.port);
    for zone in ["good.test", "open.test", "weak.test", "wild.test"] {
        for (check, location) in [
            ("caa_missing", "CAA"),
            ("spf_missing", "SPF"),
            ("spf_pass_all", "SPF"),
            ("spf_neutral_all", "SPF"),
            ("dmarc_missing", "DMARC"),
            ("dmarc_not_enforced", "DMARC"),
            ("zone_transfer", here_axfr.as_str()),
        ] {
            assert!(covered(&output, check, zone, location), "{check} on the apex {zone}");
        }
    }
    let outside_axfr = format!("axfr/127.0.0.3:{}", server.port);
    assert!(!covered(&output, "zone_transfer", "weak.test", &outside_axfr), "a name server never asked");
    for name in ["alias.good.test", "nothing.good.test", "www.good.test"] {
        assert!(!covered(&output, "caa_missing", name, "CAA"), "{name} is no zone apex");
        assert!(!covered(&output, "spf_missing", name, "SPF"), "{name} is no zone apex");
    }
    for name in ["gone.good.test", "dev.good.test", "alias.good.test", "good.test", "nothing.good.test"] {
        assert!(covered(&output, "dangling_cname", name, "CNAME"), "{name}: its alias, or that it has none, is known");
    }
    assert!(!covered(&output, "dangling_cname", "ns1.wild.test", "CNAME"), "a subdomain without an alias");

    // Zone transfers: allowed on one zone, refused on the others, and never tried outside the scope.
    let transfers: BTreeSet<(String, String, String)> = result["zone_transfers"]
        .as_array()
        .expect("transfers")
        .iter()
        .map(|entry| {
            let text = |key: &str| entry[key].as_str().expect("a text").to_owned();
            (text("zone"), text("address"), text("outcome"))
        })
        .collect();
    let here = format!("127.0.0.2:{}", server.port);
    let outside = format!("127.0.0.3:{}", server.port);
    let expected: BTreeSet<(String, String, String)> = [
        ("good.test", here.as_str(), "refused"),
        ("open.test", here.as_str(), "allowed"),
        ("weak.test", here.as_str(), "refused"),
        ("weak.test", outside.as_str(), "out_of_scope"),
        ("wild.test", here.as_str(), "refused"),
    ]
    .into_iter()
    .map(|(zone, address, outcome)| (zone.to_owned(), address.to_owned(), outcome.to_owned()))
    .collect();
    assert_eq!(transfers, expected);
    let open =
        result["zone_transfers"].as_array().expect("transfers").iter().find(|entry| entry["outcome"] == "allowed");
    assert_eq!(open.expect("the open zone")["records"], 6, "SOA, NS, TXT, _dmarc TXT, ns1 A and the closing SOA");

    // Subdomains: the words of the list that exist; the wildcard zone's answers are left out.
    let subdomains: BTreeSet<String> = result["subdomains"]
        .as_array()
        .expect("subdomains")
        .iter()
        .map(|entry| entry["name"].as_str().expect("a name").to_owned())
        .collect();
    let expected: BTreeSet<String> =
        ["dev.good.test", "mail.good.test", "ns1.good.test", "www.good.test", "ns1.open.test", "ns1.weak.test"]
            .into_iter()
            .chain(["ns2.weak.test", "ns1.wild.test", "www.wild.test"])
            .map(str::to_owned)
            .collect();
    assert_eq!(subdomains, expected);
    let wildcard = |name: &str| {
        result["names"].as_array().expect("names").iter().find(|entry| entry["name"] == name).expect("listed")["wildcard"]
            .clone()
    };
    assert_eq!(wildcard("wild.test"), true);
    assert_eq!(wildcard("good.test"), false);
    assert!(
        result["summary"]["wildcard_filtered"].as_u64().expect("a count") > 100,
        "every other word hit the wildcard"
    );

    // Artifacts: the names that exist and the addresses they have.
    let artifacts: BTreeSet<String> = output
        .artifacts
        .items()
        .iter()
        .map(|artifact| match artifact {
            Artifact::Domain { name } => format!("domain {name}"),
            Artifact::Host { address } => format!("host {address}"),
            other => panic!("an unexpected artifact: {other:?}"),
        })
        .collect();
    let expected: BTreeSet<String> = [
        "domain good.test",
        "domain alias.good.test",
        "domain gone.good.test",
        "domain big.good.test",
        "domain _sip._tcp.good.test",
        "domain open.test",
        "domain weak.test",
        "domain wild.test",
        "domain dev.good.test",
        "domain mail.good.test",
        "domain ns1.good.test",
        "domain www.good.test",
        "domain ns1.open.test",
        "domain ns1.weak.test",
        "domain ns2.weak.test",
        "domain ns1.wild.test",
        "domain www.wild.test",
        "host 127.0.0.2",
        "host 127.0.0.3",
        "host 127.0.0.10",
        "host 127.0.0.11",
        "host 127.0.0.78",
        "host ::1",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(artifacts, expected);
    assert!(refusals.is_empty(), "nothing was refused: {refusals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_outside_the_scope_is_refused_by_the_gate_and_recorded() {
    let server = dns_server().await;
    // The server listens on 127.0.0.2, but the scope names only the zone, not the resolver.
    let params = json!({"names": ["good.test"], "resolvers": [format!("127.0.0.2:{}", server.port)]});

    let (output, refusals) = run(params, scope(&["good.test"])).await;

    let error = output.expect_err("the lookup is refused");
    assert!(error.contains("refused"), "{error}");
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].target(), format!("127.0.0.2:{}", server.port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_outside_the_scope_is_refused_by_the_gate_and_recorded() {
    let server = dns_server().await;
    let params = json!({"names": ["good.test", "open.test"], "resolvers": [format!("127.0.0.2:{}", server.port)]});

    let (output, refusals) = run(params, scope(&["127.0.0.2", "good.test"])).await;

    let error = output.expect_err("the lookup is refused");
    assert!(error.contains("refused"), "{error}");
    assert_eq!(refusals.iter().map(Refusal::target).collect::<Vec<_>>(), ["open.test"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_resolver_times_out_without_failing_the_run() {
    // A bound socket that never answers: every question times out.
    let silent = UdpSocket::bind((SERVER, 0)).await.expect("bind a silent socket");
    let address: SocketAddr = silent.local_addr().expect("an address");
    let params = json!({"names": ["good.test"], "types": ["A"], "resolvers": [address.to_string()], "timeout_ms": 100,
                        "zone_transfer": false});

    let (output, _) = run(params, test_scope()).await;

    let output = output.expect("the lookup runs");
    assert_eq!(output.result["names"][0]["status"], "timeout");
    assert_eq!(output.result["summary"]["failed"], 1);
    assert!(output.findings.is_empty() && output.artifacts.is_empty());
    assert!(output.coverage.is_empty(), "a name nobody answered for was not looked at: {:?}", output.coverage);
    assert_eq!(IpAddr::V4(SERVER), address.ip());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_zone_transfers_no_transfer_is_covered() {
    let server = dns_server().await;
    let params = json!({"names": ["open.test"], "resolvers": [format!("127.0.0.2:{}", server.port)],
                        "name_server_port": server.port, "zone_transfer": false, "timeout_ms": 5000});

    let (output, _) = run(params, test_scope()).await;

    let output = output.expect("the lookup runs");
    assert!(output.result["zone_transfers"].as_array().is_some_and(Vec::is_empty));
    assert!(covered(&output, "spf_pass_all", "open.test", "SPF"), "the other apex checks ran");
    let axfr = format!("axfr/127.0.0.2:{}", server.port);
    assert!(!covered(&output, "zone_transfer", "open.test", &axfr), "the open transfer stays open");
    assert!(!output.coverage.items().iter().any(|covered| covered.check == "dns_lookup.zone_transfer"));
}

/// A relay on the server's address that passes questions to the server one at a time, and the
/// source ports it saw them from; with `lose_first`, it drops the first datagram of every
/// question (its ID aside).
async fn relay(server: &DnsServer, lose_first: bool) -> (SocketAddr, Arc<Mutex<BTreeSet<u16>>>) {
    let relay = UdpSocket::bind((SERVER, 0)).await.expect("bind the relay");
    let address = relay.local_addr().expect("an address");
    let upstream = SocketAddr::new(IpAddr::V4(SERVER), server.port);
    let ports = Arc::new(Mutex::new(BTreeSet::new()));
    let seen_ports = ports.clone();
    tokio::spawn(async move {
        let mut seen = BTreeSet::new();
        let mut buffer = vec![0_u8; 4096];
        while let Ok((length, from)) = relay.recv_from(&mut buffer).await {
            seen_ports.lock().expect("the ports").insert(from.port());
            if length < 12 || (seen.insert(buffer[2..length].to_vec()) && lose_first) {
                continue;
            }
            let forward = UdpSocket::bind((SERVER, 0)).await.expect("bind the relay's own socket");
            forward.send_to(&buffer[..length], upstream).await.expect("pass the question on");
            let mut answer = vec![0_u8; 4096];
            let received = forward.recv(&mut answer).await.expect("the server answers");
            relay.send_to(&answer[..received], from).await.expect("pass the answer back");
        }
    });
    (address, ports)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_lost_on_the_way_is_asked_again_of_a_lone_resolver() {
    let server = dns_server().await;
    let (address, _) = relay(&server, true).await;
    let params = json!({"names": ["www.good.test"], "types": ["A"], "resolvers": [address.to_string()],
                        "timeout_ms": 200, "zone_transfer": false});

    let (output, _) = run(params, test_scope()).await;

    let output = output.expect("the lookup runs");
    let name = &output.result["names"][0];
    assert_eq!(name["status"], "NOERROR", "{name}");
    assert_eq!(name["records"][0]["value"], "127.0.0.10");
    assert_eq!(output.result["summary"]["failed"], 0);
    // A, SOA and CNAME, each asked twice.
    assert_eq!(output.result["summary"]["queries"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_question_leaves_its_socket_to_the_next_one() {
    let server = dns_server().await;
    let (address, ports) = relay(&server, false).await;
    // One question at a time: A, SOA and CNAME of two names.
    let params = json!({"names": ["www.good.test", "mail.good.test"], "types": ["A"], "resolvers": [address.to_string()],
                        "concurrency": 1, "zone_transfer": false});

    let (output, _) = run(params, test_scope()).await;

    let output = output.expect("the lookup runs");
    assert_eq!(output.result["summary"]["queries"], 6);
    assert_eq!(output.result["summary"]["resolved"], 2);
    assert_eq!(ports.lock().expect("the ports").len(), 1, "every question from one socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_resolvers_are_asked_through_the_outbound_gate_when_a_run_names_none() {
    let server = dns_server().await;
    let tool = DnsLookup::with_resolvers(&[format!("127.0.0.2:{}", server.port)]).expect("a resolver");
    // The organisation's scope has the zone, not the resolver: the server's resolver is no target.
    let params = json!({"names": ["open.test"], "types": ["A", "TXT"], "name_server_port": server.port});

    let outbound = Arc::new(Refusals::default());
    let (output, refusals) = run_tool(&tool, params.clone(), scope(&["open.test"]), Some(outbound.clone())).await;

    let output = output.expect("the lookup runs");
    assert_eq!(records_of(&output.result, "open.test"), set(&[("TXT", "\"v=spf1 a +all\"")]));
    // Its name server is the same address, which the organisation's scope does not have.
    assert_eq!(output.result["zone_transfers"][0]["outcome"], "out_of_scope");
    assert!(refusals.is_empty() && outbound.0.lock().expect("refusals").is_empty());

    let (output, _) = run_tool(&tool, params, scope(&["open.test"]), None).await;
    assert!(output.expect_err("no outbound gate").contains("outbound gate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_names_dealt_out_to_threads_are_each_answered_once() {
    let server = dns_server().await;
    // More names than one thread is given: on a machine with two cores or more, several threads.
    let names: Vec<String> = (0..400).map(|index| format!("h{index}.wild.test")).collect();
    let params = json!({"names": names, "types": ["A"], "resolvers": [format!("127.0.0.2:{}", server.port)],
                        "concurrency": 32, "zone_transfer": false});

    let (output, refusals) = run(params, test_scope()).await;

    let output = output.expect("the lookup runs");
    assert!(refusals.is_empty(), "{refusals:?}");
    let looked_up: Vec<(String, String)> = output.result["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|name| (name["name"].as_str().unwrap_or_default().to_owned(), name["records"][0]["value"].to_string()))
        .collect();
    let mut expected: Vec<(String, String)> =
        names.iter().map(|name| (name.clone(), "\"127.0.0.77\"".to_owned())).collect();
    expected.sort();
    assert_eq!(looked_up, expected, "every name once, in order, with the wildcard's address");
    assert_eq!(output.result["summary"]["resolved"], 400);
    // A, SOA and CNAME of each name, counted over every thread.
    assert_eq!(output.result["summary"]["queries"], 1200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_on_one_socket_reach_their_own_questions_in_any_order_and_forged_ones_are_dropped() {
    // A resolver that waits for the three questions of one name, then answers the last first,
    // each answer preceded by a forged one: the same id, another name.
    let resolver = UdpSocket::bind((SERVER, 0)).await.expect("bind the resolver");
    let address = resolver.local_addr().expect("an address");
    let answering = tokio::spawn(async move {
        let mut questions = Vec::new();
        let mut buffer = vec![0_u8; 4096];
        while questions.len() < 3 {
            let (length, from) = resolver.recv_from(&mut buffer).await.expect("a question");
            questions.push((Message::from_vec(&buffer[..length]).expect("a query"), from));
        }
        let ports: BTreeSet<u16> = questions.iter().map(|(_, from)| from.port()).collect();
        for (question, from) in questions.iter().rev() {
            let query = question.queries[0].clone();
            let mut forged = Message::response(question.metadata.id, OpCode::Query);
            forged.add_query(Query::query(Name::from_ascii("evil.test.").expect("a name"), query.query_type()));
            resolver.send_to(&forged.to_vec().expect("encodes"), from).await.expect("send");
            let mut answer = Message::response(question.metadata.id, OpCode::Query);
            if query.query_type() == RecordType::A {
                answer.add_answer(Record::from_rdata(query.name().clone(), 60, RData::A(A::new(127, 0, 0, 99))));
            }
            answer.add_query(query);
            resolver.send_to(&answer.to_vec().expect("encodes"), from).await.expect("send");
        }
        ports
    });
    let params = json!({"names": ["www.good.test"], "types": ["A"], "resolvers": [address.to_string()],
                        "concurrency": 3, "timeout_ms": 2000, "zone_transfer": false});

    let (output, _) = run(params, test_scope()).await;

    let output = output.expect("the lookup runs");
    let name = &output.result["names"][0];
    assert_eq!(name["status"], "NOERROR", "{name}");
    assert_eq!(name["records"][0]["value"], "127.0.0.99", "{name}");
    assert_eq!(output.result["summary"]["queries"], 3, "every question answered the first time");
    let ports = answering.await.expect("the resolver answered");
    assert_eq!(ports.len(), 1, "three questions in flight on one socket");
}
