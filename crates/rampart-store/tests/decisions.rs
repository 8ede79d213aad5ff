//! Decisions, the allowlist and bouncers on both backends: all-or-none inserts refused by the
//! allowlist, entries that end what they cover, versions read in commit order by another store,
//! tenants apart, and bouncers' keys and pulls.

mod common;

use std::time::Duration;

use chrono::Duration as Span;
use rampart_core::time::Clock;
use rampart_core::watch::decisions::{
    Addresses, AllowEntry, Decision, DecisionKind, DecisionOrigin, NewAllowEntry, NewDecision,
};
use rampart_core::{AllowEntryId, BouncerId, DecisionId, OrgId};
use rampart_store::{Change, DecisionFilter, Effects, Pull, Seek, SqlStore, Store, StoreError};
use rampart_testkit::Backend;
use rstest::rstest;

fn decision(value: &str, minutes: i64, now: chrono::DateTime<chrono::Utc>) -> NewDecision {
    NewDecision {
        kind: DecisionKind::Ban,
        value: Addresses::parse(value).expect("valid"),
        origin: DecisionOrigin::Manual,
        scenario: "test/scan".into(),
        reason: None,
        until: now + Span::minutes(minutes),
        alert: None,
    }
}

async fn decide(store: &SqlStore, org: OrgId, new: &[NewDecision]) -> Vec<Decision> {
    store.decisions().insert(org, new, None, &[], &|_| Effects::none()).await.expect("stored").expect("not allowlisted")
}

async fn allow(store: &SqlStore, org: OrgId, value: &str) -> (AllowEntry, Vec<Decision>) {
    let new = NewAllowEntry::parse(value, Some("office")).expect("valid");
    store.allowlist().insert(org, &new, None, &|_| Effects::none()).await.expect("allowed")
}

#[rstest]
#[tokio::test]
async fn decisions_are_made_listed_filtered_and_ended(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, clock, _db) = common::store_with_clock(backend).await;
    let org = common::org(&store, "acme").await;
    let other = common::org(&store, "other").await;
    let now = clock.now();
    let made = decide(&store, org, &[decision("192.0.2.7", 60, now), decision("198.51.100.0/24", 30, now)]).await;
    assert_eq!(made.len(), 2);
    assert!(made[0].seq < made[1].seq, "numbered in order");
    assert_eq!(made[1].value.to_string(), "198.51.100.0/24");
    decide(&store, other, &[decision("192.0.2.7", 60, now)]).await;

    let all = store.decisions().list(org, &DecisionFilter::default(), Seek::first(10)).await.expect("list");
    let mut newest_first = vec![made[0].id, made[1].id];
    newest_first.sort_by_key(|id| std::cmp::Reverse(id.as_uuid()));
    assert_eq!(all.iter().map(|d| d.id).collect::<Vec<_>>(), newest_first, "newest first");
    let after_newest = Seek { from: Some(newest_first[0]), limit: 10 };
    let page = store.decisions().list(org, &DecisionFilter::default(), after_newest).await.expect("page");
    assert_eq!(page.len(), 1);
    let by_value = DecisionFilter { value: Some(Addresses::parse("192.0.2.7").expect("ip")), ..Default::default() };
    assert_eq!(store.decisions().list(org, &by_value, Seek::first(10)).await.expect("list").len(), 1);
    assert!(matches!(store.decisions().get(other, made[0].id).await, Err(StoreError::NotFound)), "tenants apart");

    clock.advance(Duration::from_secs(31 * 60));
    let active = DecisionFilter { active: Some(true), ..Default::default() };
    let live = store.decisions().list(org, &active, Seek::first(10)).await.expect("list");
    assert_eq!(live.iter().map(|d| d.id).collect::<Vec<_>>(), vec![made[0].id], "the range expired");
    let ended = DecisionFilter { active: Some(false), ..Default::default() };
    assert_eq!(store.decisions().list(org, &ended, Seek::first(10)).await.expect("list")[0].id, made[1].id);

    // Deleting ends what applies now and matches; another tenant's is untouched.
    let gone = store.decisions().delete(org, &by_value, None, 100, &|_| Effects::none()).await.expect("deleted");
    assert_eq!(gone.iter().map(|d| d.id).collect::<Vec<_>>(), vec![made[0].id]);
    assert_eq!(gone[0].deleted_at, Some(clock.now()));
    assert!(!gone[0].is_active(clock.now()));
    let again = store.decisions().delete(org, &by_value, None, 100, &|_| Effects::none()).await.expect("none");
    assert!(again.is_empty(), "an ended decision is not ended twice");
    let others = store.decisions().list(other, &active, Seek::first(10)).await.expect("list");
    assert_eq!(others.len(), 1);
    let by_id = store
        .decisions()
        .delete(org, &DecisionFilter::default(), Some(&[others[0].id, DecisionId::new()]), 100, &|_| Effects::none())
        .await
        .expect("none");
    assert!(by_id.is_empty(), "another tenant's id ends nothing");
}

#[rstest]
#[tokio::test]
async fn the_allowlist_refuses_a_whole_batch_and_ends_what_it_covers(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, clock, _db) = common::store_with_clock(backend).await;
    let org = common::org(&store, "acme").await;
    let now = clock.now();
    let (entry, ended) = allow(&store, org, "192.0.2.10").await;
    assert!(ended.is_empty());

    let batch = [decision("203.0.113.1", 60, now), decision("192.0.2.0/24", 60, now)];
    let refused = store.decisions().insert(org, &batch, None, &[], &|_| Effects::none()).await.expect("answered");
    let refused = refused.expect_err("the range covers an allowed address");
    assert_eq!((refused.index, refused.entry.id), (1, entry.id));
    assert!(store.decisions().list(org, &DecisionFilter::default(), Seek::first(10)).await.expect("list").is_empty());

    // A protected address given by the caller (a target) is refused the same way.
    let target =
        AllowEntry { id: AllowEntryId::new(), value: Addresses::parse("203.0.113.0/28").expect("net"), ..entry };
    let refused = store.decisions().insert(org, &batch[..1], None, &[target], &|_| Effects::none()).await;
    assert_eq!(refused.expect("answered").expect_err("protected").index, 0);

    // An entry added later ends the decisions covering it, and only those.
    let made = decide(&store, org, &[decision("198.51.100.0/24", 60, now), decision("198.51.101.1", 60, now)]).await;
    let (_, ended) = allow(&store, org, "198.51.100.77").await;
    assert_eq!(ended.iter().map(|d| d.id).collect::<Vec<_>>(), vec![made[0].id]);
    let live = DecisionFilter { active: Some(true), ..Default::default() };
    let left = store.decisions().list(org, &live, Seek::first(10)).await.expect("list");
    assert_eq!(left.iter().map(|d| d.id).collect::<Vec<_>>(), vec![made[1].id]);

    let duplicate = NewAllowEntry::parse("198.51.100.77", None).expect("valid");
    let again = store.allowlist().insert(org, &duplicate, None, &|_| Effects::none()).await;
    assert!(matches!(again, Err(StoreError::Conflict { what: "value" })));
    assert_eq!(store.allowlist().all(org).await.expect("all").len(), 2);
    let first = store.allowlist().list(org, Seek::first(1)).await.expect("page");
    store.allowlist().delete(org, first[0].id, &Effects::none()).await.expect("deleted");
    assert_eq!(store.allowlist().all(org).await.expect("all").len(), 1);
}

#[rstest]
#[tokio::test]
async fn another_server_reads_every_change_by_version_in_commit_order(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, clock, db) = common::store_with_clock(backend).await;
    let follower = common::follower(&store, &db, backend).await;
    let mut notices = follower.subscribe().await;
    let org = common::org(&store, "acme").await;
    let now = clock.now();
    let start = follower.decisions().version().await.expect("version");

    // Writers race; each change takes one version, and the versions tell every row.
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let new: Vec<NewDecision> =
                    (0..5).map(|n| decision(&format!("203.0.113.{}", writer * 10 + n), 60, now)).collect();
                decide(&store, org, &new).await
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let ended = store
        .decisions()
        .delete(org, &DecisionFilter::default(), None, 3, &|_| Effects::none())
        .await
        .expect("deleted");
    assert_eq!(ended.len(), 3);

    let mut seen = Vec::new();
    let mut after = start;
    loop {
        let changed = follower.decisions().changed(after, 2).await.expect("changed");
        let Some(last) = changed.last() else { break };
        assert!(changed.windows(2).all(|pair| pair[0].version <= pair[1].version));
        after = last.version;
        seen.extend(changed);
    }
    let versions: std::collections::BTreeSet<i64> = seen.iter().map(|row| row.version).collect();
    assert_eq!(versions.len(), 9, "eight inserts and a delete");
    assert_eq!(*versions.last().expect("some"), follower.decisions().version().await.expect("version"));
    // The three ended decisions are read again at the delete's version, as ended.
    let last_version = *versions.last().expect("some");
    let at_delete: Vec<&Decision> =
        seen.iter().filter(|row| row.version == last_version).map(|row| &row.decision).collect();
    assert_eq!(at_delete.len(), 3);
    assert!(at_delete.iter().all(|decision| decision.deleted_at.is_some()));

    let (version, live) = follower.decisions().live(clock.now(), clock.now() - Span::hours(1)).await.expect("live");
    assert_eq!(version, last_version);
    assert_eq!(live.len(), 40, "37 apply, 3 ended within the hour");
    let notice = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Change::Decisions) = notices.recv().await {
                return;
            }
        }
    });
    notice.await.expect("a notice of decisions reaches the follower");

    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(store.decisions().prune(clock.now() - Span::minutes(30), 1000).await.expect("pruned"), 40);
}

#[rstest]
#[tokio::test]
async fn bouncers_have_keys_pulls_and_tenants(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, clock, _db) = common::store_with_clock(backend).await;
    let org = common::org(&store, "acme").await;
    let other = common::org(&store, "other").await;
    let bouncers = store.bouncers();
    let edge = bouncers.insert(org, "edge", "bk_aaaa", "hash-1", None, &|_| Effects::none()).await.expect("made");
    let same_name = bouncers.insert(org, "edge", "bk_bbbb", "hash-2", None, &|_| Effects::none()).await;
    assert!(matches!(same_name, Err(StoreError::Conflict { what: "name" })));
    let theirs = bouncers.insert(other, "edge", "bk_cccc", "hash-3", None, &|_| Effects::none()).await.expect("made");

    let keys = bouncers.keys().await.expect("keys");
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().any(|(bouncer, hash)| bouncer.id == edge.id && hash == "hash-1"));
    assert!(matches!(bouncers.get(other, edge.id).await, Err(StoreError::NotFound)));
    assert!(matches!(bouncers.delete(other, edge.id, &Effects::none()).await, Err(StoreError::NotFound)));

    let at = clock.now();
    let pull = |at| Pull { bouncer: edge.id, at, ip: Some("192.0.2.1".into()), user_agent: Some("fw/v1".into()) };
    bouncers.record_pulls(&[pull(at), Pull { bouncer: BouncerId::new(), ..pull(at) }]).await.expect("recorded");
    bouncers.record_pulls(&[pull(at - Span::minutes(1))]).await.expect("an older pull is not kept");
    let seen = bouncers.get(org, edge.id).await.expect("get");
    assert_eq!((seen.last_pull_at, seen.last_ip.as_deref()), (Some(at), Some("192.0.2.1")));
    assert_eq!(bouncers.list(org, Seek::first(10)).await.expect("list").len(), 1);

    bouncers.delete(org, edge.id, &Effects::none()).await.expect("deleted");
    let keys = bouncers.keys().await.expect("keys");
    assert_eq!(keys.iter().map(|(bouncer, _)| bouncer.id).collect::<Vec<_>>(), vec![theirs.id]);
}
