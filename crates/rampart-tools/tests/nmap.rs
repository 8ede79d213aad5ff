//! nmap for real, in its sandbox, against listeners this test opens on 127.0.0.x: only the
//! test's own ports are asked for (`-p`), without host discovery or name resolution, and its XML
//! report is read into hosts, services, versions, artifacts and findings. Hostile targets never
//! reach it.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::output::{Artifact, Proto};
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink};
use rampart_tools::external::Sandbox;
use rampart_tools::nmap::Nmap;
use rampart_tools::{Tool, ToolContext, ToolOutput};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";

struct NoRefusals;

#[async_trait]
impl RefusalSink for NoRefusals {
    async fn refused(&self, refusal: &Refusal) {
        panic!("nothing of this scan is out of scope: {refusal:?}");
    }
}

fn gate_for(address: IpAddr) -> Gate {
    let scope = vec![ScopeTarget { value: TargetValue::Ip(address), ports: None, exclude: false }];
    Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(DenyList::default()),
        Arc::new(rampart_scope::SystemResolver),
        Arc::new(NoRefusals),
    )
}

/// A listener that greets every connection as an SSH server would, until the test ends.
async fn ssh_like(listener: TcpListener) {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(BANNER).await;
                // Held open while nmap reads, closed when it hangs up.
                let mut buffer = [0_u8; 512];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
}

/// A listener on a port with an exposure rule, on the first of 127.0.0.210 and up where one is free.
async fn risky_listener() -> TcpListener {
    for last in 210..=254 {
        for port in [6379, 11211, 27017, 9200, 2375, 3306, 5900] {
            if let Ok(listener) = TcpListener::bind((Ipv4Addr::new(127, 0, 0, last), port)).await {
                return listener;
            }
        }
    }
    panic!("no risky port is free on 127.0.0.210-254");
}

async fn run(tool: &Nmap, gate: Gate, params: Value) -> Result<ToolOutput, String> {
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    tool.run(params, ToolContext::new(gate, CancellationToken::new(), sender)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nmap_finds_the_test_listeners_with_their_services_and_versions() {
    let risky = risky_listener().await;
    let risky_socket = risky.local_addr().expect("an address");
    let address = risky_socket.ip();
    let plain = TcpListener::bind((address, 0)).await.expect("a listener");
    let plain_socket = plain.local_addr().expect("an address");
    let closed = TcpListener::bind((address, 0)).await.expect("a listener");
    let closed_port = closed.local_addr().expect("an address").port();
    drop(closed);
    ssh_like(risky).await;
    ssh_like(plain).await;
    let ports = format!("{},{},{closed_port}", risky_socket.port(), plain_socket.port());
    let params = json!({"targets": [address.to_string()], "ports": ports, "service_detection": true});

    let output = run(&Nmap::default(), gate_for(address), params).await.expect("nmap runs");

    assert_eq!(output.result["sandbox"], "bubblewrap");
    assert_eq!(output.result["open"], 2);
    let host = &output.result["hosts"][0];
    assert_eq!(host["address"], address.to_string());
    let mut states: Vec<(u64, String)> = host["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|port| (port["port"].as_u64().unwrap_or(0), port["state"].as_str().unwrap_or_default().to_owned()))
        .collect();
    states.sort();
    let mut expected = vec![
        (u64::from(risky_socket.port()), "open".to_owned()),
        (u64::from(plain_socket.port()), "open".to_owned()),
        (u64::from(closed_port), "closed".to_owned()),
    ];
    expected.sort();
    assert_eq!(states, expected);
    for port in host["ports"].as_array().expect("ports").iter().filter(|port| port["state"] == "open") {
        assert_eq!((&port["service"], &port["product"]), (&json!("ssh"), &json!("OpenSSH")), "{port}");
    }

    let mut services: Vec<Artifact> =
        output.artifacts.items().iter().filter(|artifact| artifact.kind() == "service").cloned().collect();
    services.sort_by_key(|artifact| match artifact {
        Artifact::Service { port, .. } => *port,
        _ => 0,
    });
    let mut expected: Vec<Artifact> = [risky_socket, plain_socket]
        .iter()
        .map(|socket| Artifact::Service {
            host: address,
            port: socket.port(),
            proto: Proto::Tcp,
            name: Some("ssh".into()),
        })
        .collect();
    expected.sort_by_key(|artifact| match artifact {
        Artifact::Service { port, .. } => *port,
        _ => 0,
    });
    assert_eq!(services, expected);
    assert!(output.artifacts.items().contains(&Artifact::Host { address }));
    let checks: Vec<(&str, &str)> =
        output.findings.items().iter().map(|finding| (finding.check_id.as_str(), finding.location.as_str())).collect();
    let risky_location = format!("tcp/{}", risky_socket.port());
    assert!(
        checks.iter().any(|(check, location)| check.starts_with("nmap.exposed_") && *location == risky_location),
        "the risky exposure is a finding: {checks:?}"
    );
    assert!(
        checks.iter().any(|(check, location)| *check == "nmap.service_version" && *location == risky_location),
        "the identified version is a finding: {checks:?}"
    );

    // nmap settled every port asked and the host answered: it is covered at exactly those ports,
    // for the exposures and the versions asked for, not for scripts that did not run.
    let covers = |check: &str, port: u16| {
        output
            .coverage
            .items()
            .iter()
            .any(|covered| covered.covers(check, &address.to_string(), &format!("tcp/{port}")))
    };
    for port in [risky_socket.port(), plain_socket.port(), closed_port] {
        assert!(covers("nmap.exposed_redis", port) && covers("nmap.service_version", port), "port {port}");
        assert!(!covers("nmap.script.banner", port), "no script ran");
    }
    let asked = [risky_socket.port(), plain_socket.port(), closed_port];
    let not_asked = (1..=u16::MAX).find(|port| !asked.contains(port)).expect("a port not asked for");
    assert!(!covers("nmap.exposed_redis", not_asked));
    assert!(!covers("tcp_scan.exposed_redis", risky_socket.port()), "another tool's findings are its own");
}

#[tokio::test]
async fn argv_injection_in_a_target_is_refused_before_nmap_is_spawned() {
    let address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    // A binary that is not nmap and would leave no trace: the run must not get as far as it.
    let nmap = Nmap::new("/nonexistent/nmap-must-not-run", Sandbox::detect());
    for hostile in
        ["-oN /tmp/x", ";id", "$(id)", "--script=http-title", "127.0.0.1 --script=http-title", "127.0.0.1/8/x"]
    {
        let params = json!({"targets": [hostile], "ports": "22"});
        let errors = Nmap::default().check(&params).expect_err("refused by the check");
        assert_eq!(errors.iter().next().map(|error| error.field.as_str()), Some("params.targets[0]"), "{hostile:?}");
        let error = run(&Nmap::default(), gate_for(address), params.clone()).await.expect_err("refused by the run");
        assert!(error.contains("params.targets[0]"), "{hostile:?}: {error}");
        let error = run(&nmap, gate_for(address), params).await.expect_err("refused");
        assert!(error.contains("unavailable"), "the binary is checked first, and the target before any spawn: {error}");
    }
}

#[tokio::test]
async fn a_missing_nmap_is_unavailable_with_its_reason() {
    let nmap = Nmap::new("/nonexistent/nmap", Sandbox::detect());
    let reason = nmap.availability().expect_err("unavailable");
    assert_eq!(reason, "nmap is not installed");
    assert!(Nmap::default().availability().is_ok(), "nmap is installed where the tests run");
    let error = run(&nmap, gate_for(IpAddr::V4(Ipv4Addr::LOCALHOST)), json!({"targets": ["127.0.0.1"], "ports": "1"}))
        .await
        .expect_err("no run");
    assert_eq!(error, "nmap is unavailable: nmap is not installed");
}
