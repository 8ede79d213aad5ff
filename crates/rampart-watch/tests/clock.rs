//! The watch takes its time from the store's clock: a test sets the clock instead of waiting for
//! an alert's window to pass or a node to fall silent. On SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::orgs::NewOrganisation;
use rampart_core::time::{Clock, ManualClock};
use rampart_core::watch::{DEFAULT_WINDOW, EventInput, NewNode, Node};
use rampart_core::{AlertId, OrgId};
use rampart_scope::{SystemResolver, outbound_gate};
use rampart_store::{ConnectOptions, Effects, Location, SqlStore, Store};
use rampart_testkit::{Backend, TestDatabase};
use rampart_watch::dashboard::ONLINE;
use rampart_watch::{Watch, WatchConfig};
use rstest::rstest;

/// The smallest step of the stored clock.
const MICROSECOND: Duration = Duration::from_micros(1);

struct Setup {
    watch: Watch,
    clock: Arc<ManualClock>,
    org: OrgId,
    node: Node,
    _db: TestDatabase,
}

async fn setup(backend: Backend) -> Setup {
    let db = TestDatabase::create(backend).await;
    let options = ConnectOptions {
        location: Location::from_url(&db.url()).expect("valid"),
        max_connections: 5,
        acquire_timeout: Duration::from_secs(10),
        busy_timeout: Duration::from_secs(5),
    };
    let clock = Arc::new(ManualClock::starting_now());
    let store = SqlStore::connect(&options).await.expect("connect").with_clock(clock.clone());
    store.migrate().await.expect("migrate");
    let store: Arc<dyn Store> = Arc::new(store);
    let org = store.orgs().insert(&NewOrganisation::parse("acme", None).expect("valid")).await.expect("org").id;
    let new = NewNode::parse("trap", "agent", None).expect("valid");
    let node = store.nodes().insert(org, &new, "aaaaaaaaaaaa", "hash", &|_| Effects::none()).await.expect("node");
    let outbound = outbound_gate(store.clone(), Arc::default(), Arc::new(SystemResolver));
    let (watch, writer) = Watch::new(store, WatchConfig::default(), outbound).expect("watch");
    // The writer runs for the test's life; the runtime ends it with the test.
    tokio::spawn(writer.run(tokio_util::sync::CancellationToken::new()));
    Setup { watch, clock, org, node, _db: db }
}

/// A decoy touched by one source, with no time of its own: it happens when it is received.
async fn touch(setup: &Setup) -> (AlertId, bool) {
    let decoy = EventInput {
        kind: Some("decoy".into()),
        decoy_name: Some("aws-keys.txt".into()),
        source_ip: Some("203.0.113.9".into()),
        ..EventInput::default()
    };
    let ingested = setup.watch.ingest(&setup.node, vec![Ok(decoy)]).await.expect("ingested");
    assert!(ingested.rejected.is_empty(), "{:?}", ingested.rejected);
    ingested.accepted[0].alert.expect("a decoy raises an alert")
}

#[rstest]
#[tokio::test]
async fn an_event_joins_its_alert_to_the_end_of_the_window_and_raises_a_new_one_past_it(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let setup = setup(backend).await;
    let raised_at = setup.clock.now();
    let (first, raised) = touch(&setup).await;
    assert!(raised);

    let end_of_window = setup.clock.advance(DEFAULT_WINDOW);
    assert_eq!(touch(&setup).await, (first, false), "at the very end of the window, it joins");
    setup.clock.advance(DEFAULT_WINDOW + MICROSECOND);
    let (second, raised) = touch(&setup).await;
    assert!(raised && second != first, "just past the window after the last event, a new alert");

    let alert = setup.watch.store().watch().alert(setup.org, first).await.expect("alert");
    assert_eq!((alert.events, alert.first_seen, alert.last_seen), (2, raised_at, end_of_window));
}

#[rstest]
#[tokio::test]
async fn a_node_is_online_until_it_has_been_silent_for_five_minutes(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let setup = setup(backend).await;
    let dashboard = setup.watch.dashboard(setup.org).await.expect("dashboard");
    assert_eq!((dashboard.nodes_online, dashboard.nodes_total), (0, 1), "never seen");

    touch(&setup).await;
    let seen = setup.clock.now();
    setup.clock.advance(ONLINE.to_std().expect("a positive period"));
    let dashboard = setup.watch.dashboard(setup.org).await.expect("dashboard");
    assert_eq!(dashboard.generated_at, seen + ONLINE, "as of the clock's time");
    assert_eq!((dashboard.nodes_online, dashboard.events_24h, dashboard.alerts_24h), (1, 1, 1));

    setup.clock.advance(MICROSECOND);
    let dashboard = setup.watch.dashboard(setup.org).await.expect("dashboard");
    assert_eq!(dashboard.nodes_online, 0, "silent for just over five minutes");
}
