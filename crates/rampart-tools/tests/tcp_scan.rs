//! The TCP connect scanner against listeners this test opens on 127.0.0.x. Every scan is held to
//! the ports the test itself opened or has just closed, by the scanner's own `allow` gate (or, for
//! the tool, by its scope and its list of ports), so no other listener on the host is ever probed
//! and nothing leaves 127.0.0.0/8.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::output::{Artifact, Covered, PORTS, Proto};
use rampart_core::targets::{PortRanges, Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink};
use rampart_tools::tcp_scan::{PortState, ScanPlan, ScanReport, TcpScan, check_id, scan, service_name};
use rampart_tools::{Tool, ToolContext};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

/// Long enough that an accept that was going to happen has happened.
const NO_ACCEPT_WAIT: Duration = Duration::from_millis(300);

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn listen(address: IpAddr) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((address, 0)).await.expect("bind a loopback listener");
    let local = listener.local_addr().expect("listener address");
    (listener, local)
}

/// A port that was listening a moment ago and is closed now.
async fn closed_port(address: IpAddr) -> SocketAddr {
    let (listener, local) = listen(address).await;
    drop(listener);
    local
}

fn plan_for(owned: &HashSet<SocketAddr>) -> ScanPlan {
    let addresses: HashSet<IpAddr> = owned.iter().map(SocketAddr::ip).collect();
    let ports: HashSet<u16> = owned.iter().map(SocketAddr::port).collect();
    let mut plan = ScanPlan::new(addresses.into_iter().collect(), ports.into_iter().collect());
    plan.timeout = Duration::from_secs(2);
    plan
}

/// Scans with a gate that lets through exactly the test's own sockets.
async fn scan_owned(plan: &ScanPlan, owned: &HashSet<SocketAddr>) -> ScanReport {
    let allow = |address: IpAddr, port: u16| owned.contains(&SocketAddr::new(address, port));
    scan(plan, &allow, &|_, _| {}, &CancellationToken::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open_port_is_found_and_closed_ports_are_not_reported() {
    let mut listeners = Vec::new();
    let mut open = HashSet::new();
    for (address, count) in [(loopback(1), 50), (loopback(2), 3), (loopback(3), 3)] {
        for _ in 0..count {
            let (listener, local) = listen(address).await;
            listeners.push(listener);
            open.insert(local);
        }
    }
    let mut closed = HashSet::new();
    for _ in 0..20 {
        closed.insert(closed_port(loopback(1)).await);
    }
    let owned: HashSet<SocketAddr> = open.union(&closed).copied().collect();
    let plan = plan_for(&owned);

    let report = scan_owned(&plan, &owned).await;

    let found: HashSet<SocketAddr> =
        report.open.iter().map(|result| SocketAddr::new(result.address, result.port)).collect();
    assert_eq!(found, open);
    assert_eq!(report.n_open, open.len() as u64);
    assert!(report.open.iter().all(|result| result.state == PortState::Open && result.banner.is_none()));
    assert!(report.open.windows(2).all(|pair| (pair[0].address, pair[0].port) < (pair[1].address, pair[1].port)));
    assert_eq!(report.closed, closed.len() as u64);
    assert_eq!(report.filtered, 0);
    assert_eq!(report.unsent, 0);
    let total = (plan.addresses.len() * plan.ports.len()) as u64;
    assert_eq!(report.refused, total - owned.len() as u64);
    assert!(report.probes >= owned.len() as u64);
    let first = plan.addresses.iter().position(|address| *address == loopback(1)).expect("scanned");
    let counts = report.hosts[first];
    assert_eq!((counts.open, counts.closed, counts.filtered), (50, 20, 0), "each host's ports are counted apart");
    assert_eq!(counts.unknown, plan.ports.len() as u64 - 70, "the ports the gate refused are unknown");
    assert!(!counts.scanned_whole(plan.ports.len()), "a host with refused ports was not scanned whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_keeps_at_most_its_limit_of_open_ports_and_counts_them_all() {
    let mut listeners = Vec::new();
    let mut open = HashSet::new();
    for _ in 0..12 {
        let (listener, local) = listen(loopback(1)).await;
        listeners.push(listener);
        open.insert(local);
    }
    let mut plan = plan_for(&open);
    plan.keep_open = 5;

    let report = scan_owned(&plan, &open).await;

    assert_eq!(report.n_open, 12, "every open port is counted");
    assert_eq!(report.open.len(), 5, "no more are kept than the plan allows");
    assert!(report.open.iter().all(|result| open.contains(&SocketAddr::new(result.address, result.port))));
    assert!(report.open.windows(2).all(|pair| (pair[0].address, pair[0].port) < (pair[1].address, pair[1].port)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_the_gate_refuses_is_never_connected_to() {
    let (refused_listener, refused) = listen(loopback(1)).await;
    let (allowed_listener, allowed) = listen(loopback(1)).await;
    let asked = Mutex::new(Vec::new());
    let allow = |address: IpAddr, port: u16| {
        asked.lock().expect("lock").push(SocketAddr::new(address, port));
        SocketAddr::new(address, port) == allowed
    };
    let plan = ScanPlan::new(vec![loopback(1)], vec![refused.port(), allowed.port()]);

    let report = scan(&plan, &allow, &|_, _| {}, &CancellationToken::new()).await;

    assert_eq!(report.open.len(), 1);
    assert_eq!(report.open[0].port, allowed.port());
    assert_eq!(report.refused, 1);
    assert_eq!(report.probes, 1);
    assert!(asked.lock().expect("lock").contains(&refused));
    // The allowed listener did see the scan, so the silence of the other one means something.
    tokio::time::timeout(NO_ACCEPT_WAIT, allowed_listener.accept())
        .await
        .expect("the allowed port was connected to")
        .expect("accept");
    assert!(tokio::time::timeout(NO_ACCEPT_WAIT, refused_listener.accept()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banner_is_read_from_a_service_that_greets() {
    let (listener, local) = listen(loopback(1)).await;
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { break };
            // The scanner closes with a reset; a failed write is expected, not a test failure.
            let _ = stream.write_all(b"SSH-2.0-test\r\n").await;
        }
    });
    let (_silent_listener, silent) = listen(loopback(1)).await;
    let owned = HashSet::from([local, silent]);
    let mut plan = plan_for(&owned);
    plan.banner = true;

    let report = scan_owned(&plan, &owned).await;
    server.abort();

    assert_eq!(report.open.len(), 2);
    let greeting = report.open.iter().find(|result| result.port == local.port()).expect("greeting port found");
    assert_eq!(greeting.banner.as_deref(), Some("SSH-2.0-test"));
    let quiet = report.open.iter().find(|result| result.port == silent.port()).expect("silent port found");
    assert_eq!(quiet.banner, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_scan_before_it_finishes() {
    let mut listeners = Vec::new();
    let mut owned = HashSet::new();
    for _ in 0..50 {
        let (listener, local) = listen(loopback(1)).await;
        listeners.push(listener);
        owned.insert(local);
    }
    // One connect at a time, each waiting for a greeting that never comes: a slow scan.
    let mut plan = plan_for(&owned);
    plan.concurrency = 1;
    plan.banner = true;
    let cancel = CancellationToken::new();
    let progress = |done: u64, _total: u64| {
        if done >= 3 {
            cancel.cancel();
        }
    };
    let allow = |address: IpAddr, port: u16| owned.contains(&SocketAddr::new(address, port));

    let report = scan(&plan, &allow, &progress, &cancel).await;

    assert!(cancel.is_cancelled());
    assert!(report.open.len() >= 3);
    assert!(report.open.len() < owned.len(), "a cancelled scan stops early");
    assert!(report.probes < owned.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_cancelled_before_it_starts_sends_nothing() {
    let (listener, local) = listen(loopback(1)).await;
    let owned = HashSet::from([local]);
    let plan = plan_for(&owned);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let allow = |address: IpAddr, port: u16| owned.contains(&SocketAddr::new(address, port));

    let report = scan(&plan, &allow, &|_, _| {}, &cancel).await;

    assert_eq!(report.probes, 0);
    assert!(report.open.is_empty());
    assert!(tokio::time::timeout(NO_ACCEPT_WAIT, listener.accept()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_climbs_to_the_total() {
    let mut listeners = Vec::new();
    let mut owned = HashSet::new();
    for _ in 0..30 {
        let (listener, local) = listen(loopback(1)).await;
        listeners.push(listener);
        owned.insert(local);
    }
    for _ in 0..30 {
        owned.insert(closed_port(loopback(1)).await);
    }
    let plan = plan_for(&owned);
    let calls = Mutex::new(Vec::new());
    let progress = |done: u64, total: u64| calls.lock().expect("lock").push((done, total));
    let allow = |address: IpAddr, port: u16| owned.contains(&SocketAddr::new(address, port));

    scan(&plan, &allow, &progress, &CancellationToken::new()).await;

    let calls = calls.into_inner().expect("lock");
    let total = owned.len() as u64;
    assert_eq!(calls.last(), Some(&(total, total)));
    assert!(calls.iter().all(|&(_, reported_total)| reported_total == total));
    assert!(calls.windows(2).all(|pair| pair[0].0 < pair[1].0), "progress only moves forward: {calls:?}");
}

/// A listener with a backlog of one that never accepts, its queue already full: the kernel drops
/// further SYNs without an answer, as a firewall would. A backlog of one holds two connections;
/// the fillers are those two.
async fn full_listener() -> (TcpListener, SocketAddr, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(loopback(1), 0)).expect("bind");
    let listener = socket.listen(1).expect("listen");
    let local = listener.local_addr().expect("listener address");
    let mut fillers = Vec::new();
    for _ in 0..2 {
        let filler = TcpSocket::new_v4().expect("socket");
        fillers.push(filler.connect(local).await.expect("a connection the backlog still had room for"));
    }
    (listener, local, fillers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_drops_connects_is_filtered_not_closed() {
    let (listener, local, fillers) = full_listener().await;
    let owned = HashSet::from([local]);
    let mut plan = plan_for(&owned);
    plan.timeout = Duration::from_millis(200);

    let report = scan_owned(&plan, &owned).await;

    assert_eq!(report.filtered, 1, "{report:?}");
    assert_eq!(report.closed, 0);
    assert!(report.open.is_empty());
    assert_eq!(report.probes, 1 + u64::from(plan.retries));
    drop((fillers, listener));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_answers_only_the_retry_is_open() {
    // As above, the first SYN meets a full queue and is dropped; the queue is emptied while that
    // attempt still waits, so the retry, sent before the first attempt has timed out, connects.
    let (listener, local, fillers) = full_listener().await;
    let owned = HashSet::from([local]);
    // Shorter than the kernel's own first SYN retransmission (one second): only the scanner's
    // retry can connect.
    let mut plan = plan_for(&owned);
    plan.timeout = Duration::from_millis(800);
    let drain = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut accepted = Vec::new();
        for _ in 0..2 {
            accepted.push(listener.accept().await.expect("accept a filler"));
        }
        // Keep the listener open until the scan has connected.
        (listener, accepted)
    });

    let report = scan_owned(&plan, &owned).await;

    assert_eq!(report.open.len(), 1, "{report:?}");
    assert_eq!(report.open[0].port, local.port());
    assert_eq!(report.probes, 2);
    drop((fillers, drain.await.expect("drain the queue")));
}

struct NoRefusals;

#[async_trait]
impl RefusalSink for NoRefusals {
    async fn refused(&self, refusal: &Refusal) {
        panic!("nothing of this scan is out of scope: {refusal:?}");
    }
}

/// A listener on a port with an exposure rule (Redis, memcached, MongoDB, ...), on the first of
/// 127.0.0.200 and up where one of those ports is free.
async fn risky_listener() -> (TcpListener, SocketAddr) {
    for last in 200..=254 {
        for port in [6379, 11211, 27017, 9200, 2375, 5432, 3306, 5900] {
            if let Ok(listener) = TcpListener::bind((loopback(last), port)).await {
                return (listener, SocketAddr::new(loopback(last), port));
            }
        }
    }
    panic!("no risky port is free on 127.0.0.200-254");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_reports_a_service_per_open_port_and_a_finding_per_risky_one() {
    let (_risky, risky) = risky_listener().await;
    let address = risky.ip();
    let (_plain, plain) = listen(address).await;
    let (_other, other) = listen(address).await;
    let closed = closed_port(address).await;
    let open = [risky, plain, other];
    // The scope is the one address; the ports asked for are the test's own.
    let scope = vec![ScopeTarget {
        value: TargetValue::parse(&address.to_string()).expect("an address"),
        ports: None,
        exclude: false,
    }];
    let gate = Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(DenyList::default()),
        Arc::new(rampart_scope::SystemResolver),
        Arc::new(NoRefusals),
    );
    let ports: Vec<String> = open.iter().chain([&closed]).map(|socket| socket.port().to_string()).collect();
    let params = json!({"targets": [address.to_string()], "ports": ports.join(","), "timeout_ms": 2000});
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();

    let output =
        TcpScan.run(params, ToolContext::new(gate, CancellationToken::new(), sender)).await.expect("the scan runs");

    let mut expected: Vec<Artifact> = open
        .iter()
        .map(|socket| Artifact::Service {
            host: address,
            port: socket.port(),
            proto: Proto::Tcp,
            name: service_name(socket.port()).map(str::to_owned),
        })
        .collect();
    expected.sort_by_key(|artifact| match artifact {
        Artifact::Service { port, .. } => *port,
        _ => 0,
    });
    assert_eq!(output.artifacts.items(), expected, "one service per open port, the closed one not among them");
    let findings: Vec<(String, String, String)> = output
        .findings
        .items()
        .iter()
        .map(|finding| (finding.check_id.clone(), finding.asset.clone(), finding.location.clone()))
        .collect();
    let mut risky_ports: Vec<u16> =
        open.iter().map(SocketAddr::port).filter(|&port| check_id(port).is_some()).collect();
    risky_ports.sort_unstable();
    let expected: Vec<(String, String, String)> = risky_ports
        .iter()
        .map(|&port| (check_id(port).expect("a rule"), address.to_string(), format!("tcp/{port}")))
        .collect();
    assert_eq!(findings, expected);
    assert!(findings.iter().any(|(_, _, location)| *location == format!("tcp/{}", risky.port())), "the risky port");
    assert_eq!(output.result["summary"]["open"], 3, "the result is as it was");
    assert_eq!(output.result["hosts"][0]["open"].as_array().map(Vec::len), Some(3));

    // The host was scanned whole: it is covered at exactly the ports asked, so a risky port found
    // closed now would resolve its finding, and a port not asked for resolves nothing.
    let coverage = output.coverage.items();
    assert_eq!(coverage.len(), 2, "the tool's checks and the ports settled: {coverage:?}");
    assert_eq!((coverage[0].check.as_str(), coverage[0].asset.as_str()), ("tcp_scan.*", address.to_string().as_str()));
    assert_eq!((coverage[1].check.as_str(), &coverage[1].locations), (PORTS, &coverage[0].locations));
    let covers = |check: &str, port: u16| coverage[0].covers(check, &address.to_string(), &format!("tcp/{port}"));
    for socket in open.iter().chain([&closed]) {
        assert!(covers("tcp_scan.exposed_redis", socket.port()), "port {} was scanned", socket.port());
    }
    let asked: Vec<u16> = open.iter().chain([&closed]).map(SocketAddr::port).collect();
    let not_asked = (1..=u16::MAX).find(|port| !asked.contains(port)).expect("a port not asked for");
    assert!(!covers("tcp_scan.exposed_redis", not_asked));
    assert!(!coverage[0].covers("tcp_scan.exposed_redis", "127.0.0.199", &format!("tcp/{}", risky.port())));
    assert!(!coverage[0].covers("nmap.exposed_redis", &address.to_string(), &format!("tcp/{}", risky.port())));
}

/// Counts the gate's refusals instead of failing on them.
#[derive(Default)]
struct CountRefusals(Mutex<u64>);

#[async_trait]
impl RefusalSink for CountRefusals {
    async fn refused(&self, _refusal: &Refusal) {
        *self.0.lock().expect("lock") += 1;
    }
}

fn context_for(scope: Vec<ScopeTarget>) -> (ToolContext, Arc<CountRefusals>) {
    let refusals = Arc::new(CountRefusals::default());
    let gate = Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(DenyList::default()),
        Arc::new(rampart_scope::SystemResolver),
        refusals.clone(),
    );
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    (ToolContext::new(gate, CancellationToken::new(), sender), refusals)
}

fn target(address: IpAddr, ports: Option<&str>) -> ScopeTarget {
    ScopeTarget {
        value: TargetValue::Ip(address),
        ports: ports.map(|ports| PortRanges::parse(ports).expect("ports")),
        exclude: false,
    }
}

/// The hosts covered for the tool's findings (each is covered for its ports settled too).
fn covered_hosts(coverage: &[Covered]) -> Vec<String> {
    coverage.iter().filter(|covered| covered.check != PORTS).map(|covered| covered.asset.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_a_port_the_gate_refused_is_not_covered_and_a_whole_one_is() {
    let whole = loopback(41);
    let partial = loopback(42);
    let (_whole_listener, whole_open) = listen(whole).await;
    let whole_closed = closed_port(whole).await;
    let (_partial_listener, partial_open) = listen(partial).await;
    let partial_closed = closed_port(partial).await;
    let ports = [whole_open.port(), whole_closed.port(), partial_open.port(), partial_closed.port()];
    let ports_text: Vec<String> = ports.iter().map(u16::to_string).collect();
    // The second host's scope allows only its own two ports: the other two are refused there.
    let allowed = format!("{},{}", partial_open.port(), partial_closed.port());
    let (context, refusals) = context_for(vec![target(whole, None), target(partial, Some(&allowed))]);
    let params =
        json!({"targets": [whole.to_string(), partial.to_string()], "ports": ports_text.join(","), "timeout_ms": 2000});

    let output = TcpScan.run(params, context).await.expect("the scan runs");

    assert!(*refusals.0.lock().expect("lock") > 0, "the refusal was reported");
    assert_eq!(covered_hosts(output.coverage.items()), [whole.to_string()], "{:?}", output.coverage);
    assert!(ports.iter().all(|port| output.coverage.items()[0].covers(
        "tcp_scan.exposed_redis",
        &whole.to_string(),
        &format!("tcp/{port}")
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_answered_no_port_is_not_covered() {
    // Its only port drops every connect, as a host that is down or unreachable would.
    let (listener, local, fillers) = full_listener().await;
    let (context, _refusals) = context_for(vec![target(local.ip(), None)]);
    let params = json!({"targets": [local.ip().to_string()], "ports": local.port().to_string(), "timeout_ms": 200, "retries": 0});

    let output = TcpScan.run(params, context).await.expect("the scan runs");

    assert_eq!(output.result["summary"]["filtered"], 1, "{}", output.result);
    assert!(output.coverage.is_empty(), "a silent host may be down, not closed: {:?}", output.coverage);
    drop((fillers, listener));
}
