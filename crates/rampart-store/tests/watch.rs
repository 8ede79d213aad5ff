//! The watch part of the store contract — nodes, the grouped commit of scored events, alerts,
//! profiles, decoys and counters — on SQLite and PostgreSQL.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rampart_core::time::Clock;
use rampart_core::watch::{AlertStatus, AttackerOrder, EventInput, NewNode, Node, NodeStatus, ScoringRules, Signals};
use rampart_core::{EventId, OrgId};
use rampart_store::{
    AlertFilter, Change, Effects, EventFilter, NodeFilter, NodePatch, ScoredEvent, Seek, SqlStore, Store, StoreError,
};
use rampart_testkit::Backend;

use crate::common::{follower, org, store, store_with_clock};
use rstest::rstest;

async fn node(store: &SqlStore, org: OrgId, name: &str, prefix: &str) -> Node {
    let new = NewNode::parse(name, "honeypot", None).expect("valid");
    store.nodes().insert(org, &new, prefix, "hash", &|_| Effects::none()).await.expect("node")
}

const HOUR: Duration = Duration::from_secs(3600);
/// The smallest step of the stored clock.
const MICROSECOND: Duration = Duration::from_micros(1);

/// A scored honeypot event from `ip` at `at`, over the threshold when `alert` is set.
fn scored(org: OrgId, node: &Node, ip: &str, at: DateTime<Utc>, input: EventInput, alert: bool) -> ScoredEvent {
    scored_as_of(rampart_core::time::now(), org, node, ip, at, input, alert)
}

/// [`scored`], received at `now`.
fn scored_as_of(
    now: DateTime<Utc>,
    org: OrgId,
    node: &Node,
    ip: &str,
    at: DateTime<Utc>,
    input: EventInput,
    alert: bool,
) -> ScoredEvent {
    let event = EventInput {
        kind: Some("honeypot".into()),
        source_ip: Some(ip.into()),
        timestamp: Some(at.to_rfc3339()),
        service: input.service.or(Some("ssh".into())),
        ..input
    }
    .parse(None, now)
    .expect("valid");
    let score = ScoringRules::default().score(&event, Signals::default());
    ScoredEvent {
        id: EventId::new(),
        org_id: org,
        node_id: node.id,
        received_at: now,
        event,
        score,
        scorer: "builtin",
        alert_window: alert.then_some(HOUR),
    }
}

#[rstest]
#[tokio::test]
async fn a_legacy_id_is_kept_unique_in_its_organisation_and_each_conflict_is_named(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let imported = |name: &str| {
        NewNode::parse_imported(name, "honeypot", None, Some("node-0123456789abcdef"), None).expect("valid").0
    };
    let insert = |org: OrgId, new: NewNode, prefix: &'static str| {
        let store = &store;
        async move { store.nodes().insert(org, &new, prefix, "hash", &|_| Effects::none()).await }
    };
    let old = insert(acme, imported("old"), "aaaaaaaaaaaa").await.expect("imported");
    assert_eq!(old.legacy_id.as_deref(), Some("node-0123456789abcdef"));
    let (found, _) = store.nodes().find_by_key("aaaaaaaaaaaa").await.expect("find").expect("a node");
    assert_eq!(found.legacy_id.as_deref(), Some("node-0123456789abcdef"));

    let taken = insert(acme, imported("again"), "bbbbbbbbbbbb").await;
    assert!(matches!(taken, Err(StoreError::Conflict { what: "legacy_id" })), "{taken:?}");
    let key = insert(acme, NewNode::parse("plain", "agent", None).expect("valid"), "aaaaaaaaaaaa").await;
    assert!(matches!(key, Err(StoreError::Conflict { what: "key" })), "{key:?}");
    let name = insert(acme, NewNode::parse("old", "agent", None).expect("valid"), "cccccccccccc").await;
    assert!(matches!(name, Err(StoreError::Conflict { what: "name" })), "{name:?}");
    // Another organisation's node may have the same old id; nodes without one never conflict.
    insert(other, imported("old"), "dddddddddddd").await.expect("another organisation's");
    for (name, prefix) in [("a", "eeeeeeeeeeee"), ("b", "ffffffffffff")] {
        let plain = insert(acme, NewNode::parse(name, "agent", None).expect("valid"), prefix).await.expect("plain");
        assert_eq!(plain.legacy_id, None);
    }
}

#[rstest]
#[tokio::test]
async fn nodes_are_stored_found_by_key_changed_and_scoped(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let trap = node(&store, acme, "trap", "aaaaaaaaaaaa").await;
    assert!(matches!(
        store
            .nodes()
            .insert(acme, &NewNode::parse("trap", "agent", None).expect("valid"), "bbbbbbbbbbbb", "h", &|_| {
                Effects::none()
            })
            .await,
        Err(StoreError::Conflict { what: "name" })
    ));
    node(&store, other, "trap", "cccccccccccc").await;

    let (found, hash) = store.nodes().find_by_key("aaaaaaaaaaaa").await.expect("find").expect("a node");
    assert_eq!((found.id, hash.as_str()), (trap.id, "hash"));
    let patch = NodePatch { status: Some(NodeStatus::Inactive), ..NodePatch::default() };
    assert_eq!(
        store.nodes().update(acme, trap.id, &patch, &Effects::none()).await.expect("update").status,
        NodeStatus::Inactive
    );
    let rotated =
        store.nodes().rotate_key(acme, trap.id, "dddddddddddd", "new", &Effects::none()).await.expect("rotate");
    assert_eq!(rotated.key_prefix, "dddddddddddd");
    assert!(store.nodes().find_by_key("aaaaaaaaaaaa").await.expect("find").is_none(), "the old key is gone");

    let inactive = NodeFilter { status: Some(NodeStatus::Inactive), ..NodeFilter::default() };
    assert_eq!(store.nodes().list(acme, &inactive, Seek::first(10)).await.expect("list").len(), 1);
    assert!(matches!(store.nodes().get(other, trap.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.nodes().delete(other, trap.id, &Effects::none()).await, Err(StoreError::NotFound)));
    store.nodes().delete(acme, trap.id, &Effects::none()).await.expect("delete");
    assert!(store.nodes().list(acme, &NodeFilter::default(), Seek::first(10)).await.expect("list").is_empty());
}

#[rstest]
#[tokio::test]
async fn a_commit_groups_alerts_and_keeps_profiles_and_counters_in_step(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let (one, two) = (node(&store, acme, "one", "aaaaaaaaaaaa").await, node(&store, acme, "two", "bbbbbbbbbbbb").await);
    let t0 = rampart_core::time::now() - chrono::Duration::hours(3);
    let creds = |name: &str| EventInput { usernames: vec![name.into()], ..EventInput::default() };

    // Three events from one source within the window: one alert with three events. A fourth
    // event two hours later opens a second alert; one below the threshold joins none.
    let batch = vec![
        scored(acme, &one, "203.0.113.5", t0, creds("root"), true),
        scored(acme, &two, "203.0.113.5", t0 + chrono::Duration::minutes(10), creds("root"), true),
        scored(acme, &one, "203.0.113.5", t0 + chrono::Duration::minutes(50), creds("admin"), true),
        scored(acme, &one, "203.0.113.5", t0 + chrono::Duration::minutes(170), creds("pi"), true),
        scored(acme, &one, "198.51.100.9", t0, EventInput::default(), false),
    ];
    let done = store.watch().commit(&batch).await.expect("commit");
    let (first, raised) = done[0].alert.expect("alerted");
    assert!(raised);
    assert_eq!(done[1].alert, Some((first, false)));
    assert_eq!(done[2].alert, Some((first, false)));
    let (second, raised_again) = done[3].alert.expect("alerted");
    assert!(second != first && raised_again, "past the window, a new alert");
    assert_eq!(done[4].alert, None);

    // The next commit joins the open alert of its group.
    let later = store
        .watch()
        .commit(&[scored(acme, &two, "203.0.113.5", t0 + chrono::Duration::minutes(175), creds("root"), true)])
        .await
        .expect("commit");
    assert_eq!(later[0].alert, Some((second, false)));

    let alert = store.watch().alert(acme, first).await.expect("alert");
    assert_eq!((alert.events, alert.status, alert.attack_type.as_str()), (3, AlertStatus::Open, "credential_attack"));
    assert_eq!(alert.source_ip, Some("203.0.113.5".parse::<IpAddr>().expect("ip")));
    let by_alert = EventFilter { alert_id: Some(first), ..EventFilter::default() };
    assert_eq!(store.watch().events(acme, &by_alert, Seek::first(50)).await.expect("events").len(), 3);
    assert_eq!(store.watch().alert(acme, second).await.expect("alert").events, 2);

    let profile = store.watch().attacker(acme, "203.0.113.5".parse().expect("ip")).await.expect("profile");
    assert_eq!((profile.attacker.events, profile.attacker.alerts), (5, 2));
    assert_eq!(profile.services, [("ssh".to_owned(), 5)]);
    assert_eq!(profile.nodes.len(), 2);
    assert_eq!(profile.top_usernames[0], ("root".to_owned(), 3));
    let by_risk = store.watch().attackers(acme, AttackerOrder::Risk, 0, 10).await.expect("attackers");
    assert_eq!(by_risk.len(), 2);
    assert_eq!(by_risk[0].source_ip, "203.0.113.5".parse::<IpAddr>().expect("ip"));

    let counts = store.watch().counts(acme, t0 - chrono::Duration::hours(1)).await.expect("counts");
    assert_eq!(counts.iter().map(|c| c.events).sum::<u64>(), 6);
    assert_eq!(counts.iter().map(|c| c.alerts).sum::<u64>(), 2);
    assert!(store.nodes().get(acme, one.id).await.expect("node").last_seen_at.is_some());

    // Resolved alerts take no more events: a repeat raises a new one.
    store
        .watch()
        .set_alert_status(acme, second, AlertStatus::Resolved, None, "blocked", &Effects::none())
        .await
        .expect("resolve");
    let after = store
        .watch()
        .commit(&[scored(acme, &one, "203.0.113.5", t0 + chrono::Duration::minutes(176), creds("x"), true)])
        .await
        .expect("commit");
    assert!(after[0].alert.is_some_and(|(id, raised)| id != second && raised));
    let open = AlertFilter { status: Some(AlertStatus::Open), ..AlertFilter::default() };
    assert_eq!(store.watch().alerts(acme, &open, Seek::first(50)).await.expect("alerts").len(), 2);

    // Nothing of it is visible to another organisation.
    let other = org(&store, "other").await;
    assert!(matches!(store.watch().alert(other, first).await, Err(StoreError::NotFound)));
    assert!(store.watch().alerts(other, &AlertFilter::default(), Seek::first(50)).await.expect("alerts").is_empty());
    assert!(matches!(
        store.watch().attacker(other, "203.0.113.5".parse().expect("ip")).await,
        Err(StoreError::NotFound)
    ));
}

#[rstest]
#[tokio::test]
async fn an_event_joins_its_alert_to_the_end_of_the_window_and_raises_a_new_one_past_it(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, clock, _db) = store_with_clock(backend).await;
    let acme = org(&store, "acme").await;
    let trap = node(&store, acme, "trap", "aaaaaaaaaaaa").await;
    // Each event happens when the clock says, as a sensor's event without a time does.
    let event = |now: DateTime<Utc>| scored_as_of(now, acme, &trap, "203.0.113.5", now, EventInput::default(), true);
    let commit = |now: DateTime<Utc>| {
        let store = store.clone();
        async move { store.watch().commit(&[event(now)]).await.expect("commit")[0].alert.expect("an alert") }
    };

    let raised_at = clock.now();
    let (first, raised) = commit(raised_at).await;
    assert!(raised);
    let end_of_window = clock.advance(HOUR);
    assert_eq!(commit(end_of_window).await, (first, false), "at the very end of the window, it joins");
    let past = clock.advance(HOUR + MICROSECOND);
    let (second, raised) = commit(past).await;
    assert!(raised && second != first, "just past the window after the last event, a new alert");

    // The alerts' own times are the store's clock's.
    let alert = store.watch().alert(acme, first).await.expect("alert");
    assert_eq!((alert.events, alert.first_seen, alert.last_seen), (2, raised_at, end_of_window));
    assert_eq!((alert.created_at, alert.updated_at), (raised_at, end_of_window));
    let alert = store.watch().alert(acme, second).await.expect("alert");
    assert_eq!((alert.events, alert.created_at), (1, past));
}

#[rstest]
#[tokio::test]
async fn decoys_are_counted_per_node_and_name(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let agent = node(&store, acme, "laptop", "aaaaaaaaaaaa").await;
    let now = rampart_core::time::now();
    let decoy = |name: &str| {
        let event =
            EventInput { decoy_name: Some(name.into()), hostname: Some("laptop".into()), ..EventInput::default() }
                .parse(Some(rampart_core::watch::EventKind::Decoy), now)
                .expect("valid");
        let score = ScoringRules::default().score(&event, Signals::default());
        ScoredEvent {
            id: EventId::new(),
            org_id: acme,
            node_id: agent.id,
            received_at: now,
            event,
            score,
            scorer: "builtin",
            alert_window: None,
        }
    };
    store.watch().commit(&[decoy("keys.txt"), decoy("keys.txt"), decoy("payroll.xlsx")]).await.expect("commit");
    store.watch().commit(&[decoy("keys.txt")]).await.expect("commit");
    let decoys = store.nodes().decoys(acme, agent.id).await.expect("decoys");
    let mut counts: Vec<(&str, u64)> = decoys.iter().map(|d| (d.name.as_str(), d.accesses)).collect();
    counts.sort();
    assert_eq!(counts, [("keys.txt", 3), ("payroll.xlsx", 1)]);
    let events = store.watch().events(acme, &EventFilter::default(), Seek::first(10)).await.expect("events");
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|event| event.event.source_ip.is_none() && event.score.attack_type == "decoy_access"));
}

#[rstest]
#[tokio::test]
async fn changed_alerts_are_read_in_the_order_they_changed_page_by_page(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let trap = node(&store, acme, "trap", "aaaaaaaaaaaa").await;
    let start = rampart_core::time::now() - chrono::Duration::seconds(1);
    let t0 = rampart_core::time::now() - chrono::Duration::hours(1);

    // One commit raises three alerts, all changed at the same instant.
    let batch: Vec<ScoredEvent> = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .into_iter()
        .map(|ip| scored(acme, &trap, ip, t0, EventInput::default(), true))
        .collect();
    store.watch().commit(&batch).await.expect("commit");

    let first = store.watch().alerts_changed_since(acme, (start, None), 2).await.expect("changes");
    assert_eq!(first.len(), 2);
    let last = first.last().expect("two");
    let rest = store.watch().alerts_changed_since(acme, (last.updated_at, Some(last.id)), 2).await.expect("changes");
    assert_eq!(rest.len(), 1, "the page after the last read holds the third alert");
    let mut ids: Vec<_> = first.iter().chain(&rest).map(|alert| alert.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);

    // A change of status moves an alert to the end.
    let moved = rest[0].id;
    let changed =
        store.watch().set_alert_status(acme, first[0].id, AlertStatus::Acknowledged, None, "", &Effects::none()).await;
    let changed = changed.expect("acknowledge");
    let after = (rest[0].updated_at, Some(moved));
    let newer = store.watch().alerts_changed_since(acme, after, 10).await.expect("changes");
    assert_eq!(newer.iter().map(|alert| alert.id).collect::<Vec<_>>(), [changed.id]);
    assert_eq!(newer[0].status, AlertStatus::Acknowledged);

    assert!(store.watch().alerts_changed_since(other, (start, None), 10).await.expect("changes").is_empty());
}

#[rstest]
#[tokio::test]
async fn totals_count_every_event_by_service_and_every_source(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let trap = node(&store, acme, "trap", "aaaaaaaaaaaa").await;
    let days_ago = rampart_core::time::now() - chrono::Duration::days(90);
    let http = EventInput { service: Some("http".into()), ..EventInput::default() };
    let batch = vec![
        scored(acme, &trap, "203.0.113.1", days_ago, EventInput::default(), true),
        scored(acme, &trap, "203.0.113.1", rampart_core::time::now(), EventInput::default(), false),
        scored(acme, &trap, "203.0.113.2", rampart_core::time::now(), http, false),
    ];
    store.watch().commit(&batch).await.expect("commit");

    let totals = store.watch().totals(acme).await.expect("totals");
    assert_eq!(totals.attackers, 2);
    assert_eq!(totals.services, [("ssh".to_owned(), 2, 1), ("http".to_owned(), 1, 0)]);
    assert_eq!(store.watch().totals(other).await.expect("totals"), rampart_store::WatchTotals::default());
}

#[rstest]
#[tokio::test]
async fn a_raised_or_changed_alert_is_noticed_by_every_follower(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, db) = store(backend).await;
    let follower = follower(&store, &db, backend).await;
    let mut changes = follower.subscribe().await;
    let acme = org(&store, "acme").await;
    let trap = node(&store, acme, "trap", "aaaaaaaaaaaa").await;
    let noticed = |changes: &mut tokio::sync::broadcast::Receiver<Change>| {
        let mut changes = changes.resubscribe();
        async move {
            tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    if let Ok(Change::Alerts(org)) = changes.recv().await
                        && org == acme
                    {
                        return;
                    }
                }
            })
            .await
            .is_ok()
        }
    };

    let waiting = noticed(&mut changes);
    let done = store
        .watch()
        .commit(&[scored(acme, &trap, "203.0.113.5", rampart_core::time::now(), EventInput::default(), true)])
        .await
        .expect("commit");
    assert!(waiting.await, "a raised alert is noticed");
    let (alert, _) = done[0].alert.expect("alerted");
    let waiting = noticed(&mut changes);
    store
        .watch()
        .set_alert_status(acme, alert, AlertStatus::Acknowledged, None, "", &Effects::none())
        .await
        .expect("acknowledge");
    assert!(waiting.await, "a changed alert is noticed");
}

#[rstest]
#[tokio::test]
async fn an_alert_raised_then_grown_appends_its_outbox_records_with_the_commit(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use rampart_core::outbox::Topic;

    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let trap = node(&store, acme, "trap", "eeeeeeeeeeee").await;
    let now = rampart_core::time::now();
    let attempt = || EventInput { username: Some("root".into()), ..EventInput::default() };

    let first =
        store.watch().commit(&[scored(acme, &trap, "203.0.113.9", now, attempt(), true)]).await.expect("commit");
    let second = store
        .watch()
        .commit(&[scored(acme, &trap, "203.0.113.9", now + chrono::Duration::seconds(1), attempt(), true)])
        .await
        .expect("commit");
    store.watch().commit(&[scored(acme, &trap, "198.51.100.1", now, attempt(), false)]).await.expect("commit");

    let (alert, raised) = first[0].alert.expect("an alert");
    assert!(raised);
    assert_eq!(second[0].alert, Some((alert, false)), "the second event joined it");
    let records = store.outbox().read(0, 10).await.expect("outbox");
    let seen: Vec<(Topic, serde_json::Value)> =
        records.iter().map(|record| (record.record.topic, record.record.payload["alert"].clone())).collect();
    let id = serde_json::json!(alert);
    assert_eq!(seen, vec![(Topic::AlertRaised, id.clone()), (Topic::AlertChanged, id)], "none for no alert");
    assert!(records.iter().all(|record| record.record.org == Some(acme)));
}
