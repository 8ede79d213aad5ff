//! The targets part of the store contract, on SQLite and PostgreSQL.

mod common;

use rampart_core::TargetId;
use rampart_core::targets::{NewTarget, PortRanges, TargetKind};
use rampart_store::{Effects, Seek, Store, StoreError, TargetFilter, TargetPatch};
use rampart_testkit::Backend;

use crate::common::{org, store};
use rstest::rstest;

fn new(value: &str, ports: Option<&str>, exclude: bool, tags: &[&str]) -> NewTarget {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    NewTarget::parse(value, ports, exclude, "", &tags).expect("valid")
}

#[rstest]
#[tokio::test]
async fn targets_are_stored_listed_changed_and_scoped(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, _db) = store(backend).await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let targets = store.targets();

    let net = targets
        .insert(acme, &new("10.0.0.0/16", None, false, &["prod", "dc1"]), None, &|_| Effects::none())
        .await
        .expect("insert");
    targets.insert(acme, &new("10.0.5.0/24", None, true, &[]), None, &|_| Effects::none()).await.expect("exclusion");
    targets
        .insert(acme, &new("*.Example.com", Some("443"), false, &["web"]), None, &|_| Effects::none())
        .await
        .expect("wildcard");
    let again = targets.insert(acme, &new("10.0.9.9/16", None, false, &[]), None, &|_| Effects::none()).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { what: "value" })),
        "the same network spelled otherwise: {again:?}"
    );
    targets
        .insert(other, &new("10.0.0.0/16", None, false, &[]), None, &|_| Effects::none())
        .await
        .expect("another organisation may have it");

    assert_eq!(net.target.tags, ["dc1", "prod"]);
    assert_eq!(targets.get(acme, net.id).await.expect("get"), net);
    assert!(matches!(targets.get(other, net.id).await, Err(StoreError::NotFound)));

    let list =
        |filter: TargetFilter| async move { targets.list(acme, &filter, Seek::first(50)).await.expect("list").len() };
    assert_eq!(list(TargetFilter::default()).await, 3);
    assert_eq!(list(TargetFilter { kind: Some(TargetKind::Wildcard), ..Default::default() }).await, 1);
    assert_eq!(list(TargetFilter { exclude: Some(true), ..Default::default() }).await, 1);
    assert_eq!(list(TargetFilter { tag: Some("PROD".into()), ..Default::default() }).await, 1);
    assert_eq!(list(TargetFilter { tag: Some("pro".into()), ..Default::default() }).await, 0, "whole tags only");
    assert_eq!(list(TargetFilter { search: Some("example".into()), ..Default::default() }).await, 1);
    let first = targets.list(acme, &TargetFilter::default(), Seek::first(1)).await.expect("page");
    let rest =
        targets.list(acme, &TargetFilter::default(), Seek { from: Some(first[0].id), limit: 50 }).await.expect("page");
    assert_eq!((first.len(), rest.len()), (1, 2));

    let patch = TargetPatch {
        ports: Some(Some(PortRanges::parse("22,80").expect("ports"))),
        note: Some("core".into()),
        ..Default::default()
    };
    let changed = targets.update(acme, net.id, &patch, &|_| Effects::none()).await.expect("update");
    assert_eq!(changed.target.ports.map(|p| p.to_string()), Some("22,80".into()));
    assert_eq!(changed.target.note, "core");
    assert!(matches!(targets.update(other, net.id, &patch, &|_| Effects::none()).await, Err(StoreError::NotFound)));

    assert_eq!(targets.scope(acme).await.expect("scope").len(), 3);
    targets.delete(acme, net.id, &Effects::none()).await.expect("delete");
    assert!(matches!(targets.delete(acme, net.id, &Effects::none()).await, Err(StoreError::NotFound)));
    assert!(matches!(targets.delete(acme, TargetId::new(), &Effects::none()).await, Err(StoreError::NotFound)));
}

#[rstest]
#[tokio::test]
async fn a_bulk_import_reports_duplicates_instead_of_doubling_them(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    store
        .targets()
        .insert(acme, &new("192.0.2.1", None, false, &[]), None, &|_| Effects::none())
        .await
        .expect("insert");
    let batch: Vec<NewTarget> = ["192.0.2.1", "192.0.2.2", "host.example.com", "HOST.example.com."]
        .iter()
        .map(|v| new(v, None, false, &[]))
        .collect();

    let inserted = store.targets().insert_many(acme, &batch, None, &|_| Effects::none()).await.expect("bulk");

    let created: Vec<bool> = inserted.iter().map(Option::is_some).collect();
    assert_eq!(created, [false, true, true, false]);
    assert_eq!(store.targets().scope(acme).await.expect("scope").len(), 3);
}
