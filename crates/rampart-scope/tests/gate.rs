//! The network gate against real listeners on 127.0.0.x, with a resolver the test controls.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::{ScriptedResolver, gate, listener, target};
use rampart_core::identity::Acting;
use rampart_core::identity::{Actor, AuditAction, RequestContext};
use rampart_core::orgs::NewOrganisation;
use rampart_core::targets::{NewTarget, ServerPolicy};
use rampart_scope::{DenyList, GateError, ScopeService};
use rampart_store::{AuditFilter, ConnectOptions, Location, SqlStore, Store};
use rampart_testkit::{Backend, TestDatabase};
use rstest::rstest;

#[tokio::test]
async fn a_name_is_resolved_once_and_the_checked_address_is_the_one_connected() {
    let (in_scope, port) = listener("127.0.0.2").await;
    // The first answer is in scope; any later one (a rebinding) points outside.
    let resolver = ScriptedResolver::new(&[("app.example.test", &[&["127.0.0.2"], &["127.0.0.3"]])]);
    let (gate, refusals) = gate(
        vec![target("app.example.test", false), target("127.0.0.2", false)],
        DenyList::default(),
        resolver.clone(),
    );

    let (_stream, connected) =
        gate.connect_tcp("app.example.test", port, Duration::from_secs(5)).await.expect("allowed");
    let (_accepted, peer_seen_by) = in_scope.accept().await.expect("the checked address was reached");

    assert_eq!(connected, SocketAddr::new("127.0.0.2".parse().expect("ip"), port));
    assert_eq!(resolver.lookups(), 1, "one resolution, no second chance for a different answer");
    assert!(peer_seen_by.ip().is_loopback());
    assert!(refusals.all().is_empty());
}

#[tokio::test]
async fn a_name_resolving_outside_the_scope_is_refused_before_any_packet() {
    let (outside, port) = listener("127.0.0.3").await;
    let resolver = ScriptedResolver::new(&[
        ("app.example.test", &[&["127.0.0.3"]]),
        ("split.example.test", &[&["127.0.0.2", "127.0.0.3"]]),
    ]);
    let targets = vec![target("*.example.test", false), target("127.0.0.2", false)];
    let (gate, refusals) = gate(targets, DenyList::default(), resolver);

    let refused = gate.connect_tcp("app.example.test", port, Duration::from_secs(5)).await;
    let split = gate.resolve("split.example.test", port).await;

    assert!(
        matches!(&refused, Err(GateError::Refused(reason)) if reason.contains("resolves to 127.0.0.3")),
        "{refused:?}"
    );
    assert!(matches!(split, Err(GateError::Refused(_))), "every address must be in scope");
    let nothing = tokio::time::timeout(Duration::from_millis(200), outside.accept()).await;
    assert!(nothing.is_err(), "no connection reached the address outside the scope");
    assert_eq!(refusals.all().len(), 2);
}

#[tokio::test]
async fn the_deny_list_and_the_servers_own_socket_win_over_any_target() {
    let own: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
    let deny =
        DenyList::new(ServerPolicy::new(Vec::new(), vec!["169.254.169.254/32".parse().expect("net")]), vec![own]);
    let resolver = ScriptedResolver::new(&[("metadata.example.test", &[&["169.254.169.254"]])]);
    let targets = vec![target("169.254.0.0/16", false), target("127.0.0.0/8", false), target("*.example.test", false)];
    let (gate, refusals) = gate(targets, deny, resolver);

    for (host, port) in
        [("169.254.169.254", 80), ("metadata.example.test", 80), ("127.0.0.1", 8080), ("::ffff:127.0.0.1", 8080)]
    {
        let result = gate.resolve(host, port).await;
        assert!(matches!(result, Err(GateError::Refused(_))), "{host}:{port}: {result:?}");
    }
    assert!(gate.resolve("127.0.0.1", 8081).await.is_ok(), "another port of the same host is fine");
    for bad in ["-oX", "127.1", "10.0.0.1:80", "bad host"] {
        assert!(matches!(gate.resolve(bad, 80).await, Err(GateError::Refused(_))), "{bad}");
    }
    assert_eq!(refusals.all().len(), 8);
}

/// An address of this host other than loopback: the source of a route to TEST-NET-2 (a UDP
/// socket's `connect` sends nothing).
fn host_address() -> IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
    socket.connect("198.51.100.1:9").expect("the host has a route (nothing is sent)");
    socket.local_addr().expect("a local address").ip()
}

#[tokio::test]
async fn a_server_on_a_wildcard_address_is_denied_on_every_address_of_the_host() {
    let host = host_address();
    assert!(!host.is_loopback() && !host.is_unspecified(), "{host}");
    let targets = vec![target("0.0.0.0/1", false), target("128.0.0.0/1", false), target("::1", false)];
    for own in ["0.0.0.0:8080", "[::]:8080"] {
        let own: SocketAddr = own.parse().expect("addr");
        let (gate, _refusals) =
            gate(targets.clone(), DenyList::new(ServerPolicy::default(), vec![own]), ScriptedResolver::new(&[]));
        for (address, port) in [
            ("127.0.0.1", 8080),
            ("127.0.0.53", 8080),
            (&host.to_string(), 8080),
            ("0.0.0.0", 8080),
            ("0.0.0.0", 22),
            ("::ffff:127.0.0.1", 8080),
            ("64:ff9b::7f00:1", 8080),
            ("2002:7f00:1::", 8080),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", 8080),
            ("64:ff9b::a9fe:a9fe", 80),
            ("2002:a9fe:a9fe::1", 80),
        ] {
            let result = gate.resolve(address, port).await;
            assert!(
                matches!(&result, Err(GateError::Refused(reason)) if reason.contains("denied by the server's policy")),
                "{own}: {address}:{port}: {result:?}"
            );
            let socket = SocketAddr::new(address.parse().expect("ip"), port);
            assert!(!gate.permits(socket), "{own}: {socket}");
        }
        assert!(gate.resolve(&host.to_string(), 8081).await.is_ok(), "{own}: another port of the host");
        assert!(gate.resolve("198.51.100.1", 8080).await.is_ok(), "{own}: the same port elsewhere");
    }
    let (gate, _refusals) = gate(
        targets,
        DenyList::new(ServerPolicy::default(), vec!["[::]:8080".parse().expect("addr")]),
        ScriptedResolver::new(&[]),
    );
    assert!(!gate.permits("[::1]:8080".parse().expect("addr")), "IPv6 loopback of a server on [::]");
}

#[rstest]
#[tokio::test]
async fn refusals_are_audited_in_the_organisations_log(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let options = ConnectOptions {
        location: Location::from_url(&database.url()).expect("valid"),
        max_connections: 5,
        acquire_timeout: Duration::from_secs(10),
        busy_timeout: Duration::from_secs(5),
    };
    let store = SqlStore::connect(&options).await.expect("connect");
    store.migrate().await.expect("migrate");
    let store: Arc<dyn Store> = Arc::new(store);
    let org = store.orgs().insert(&NewOrganisation::parse("acme", None).expect("valid")).await.expect("org").id;
    let acting = Acting { org, actor: Actor::System, context: RequestContext::default() };
    let service = ScopeService::new(store.clone(), Arc::new(DenyList::default()));
    service.create(&acting, NewTarget::parse("127.0.0.2", None, false, "", &[]).expect("valid")).await.expect("target");
    let gate = service.gate(&acting, ScriptedResolver::new(&[])).await.expect("gate");

    assert!(gate.resolve("127.0.0.2", 80).await.is_ok());
    assert!(gate.resolve("127.0.0.9", 80).await.is_err());

    let filter = AuditFilter { action: Some(AuditAction::ScopeRefused), ..AuditFilter::default() };
    let events = store.audit().list(org, &filter, rampart_store::Seek::first(10)).await.expect("audit");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.target.as_deref(), Some("127.0.0.9:80"));
    assert!(events[0].event.detail.as_deref().is_some_and(|d| d.contains("no target covers it")));
}
