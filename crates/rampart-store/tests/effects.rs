//! The unit of work on SQLite and PostgreSQL: a change, its audit event and its outbox records
//! commit together or not at all. Each half is made to fail in turn, and neither is then visible.

mod common;

use rampart_core::identity::{Acting, Actor, AuditAction, RequestContext};
use rampart_core::outbox::{NewOutboxRecord, PAYLOAD_MAX, Topic};
use rampart_core::targets::NewTarget;
use rampart_core::{OrgId, UserId};
use rampart_store::{AuditFilter, Effects, Seek, Store, StoreError, StoredTarget, TargetFilter};
use rampart_testkit::{Backend, TestDatabase};
use rstest::rstest;
use serde_json::json;

use crate::common::{org, store};

fn target(value: &str) -> NewTarget {
    NewTarget::parse(value, None, false, "", &[]).expect("valid")
}

fn acting(org: OrgId) -> Acting {
    let context = RequestContext { ip: Some("192.0.2.7".parse().expect("ip")), request_id: Some("req-1".into()) };
    Acting { org, actor: Actor::User(UserId::new()), context }
}

/// The audit event and an outbox record of a created target, as the scope service makes them.
fn created(acting: &Acting) -> impl Fn(&StoredTarget) -> Effects + Send + Sync + '_ {
    move |stored| {
        Effects::audit(acting.event(AuditAction::TargetCreate).target(format!("target:{}", stored.id)))
            .record(NewOutboxRecord::new(Topic::AlertRaised, Some(acting.org), json!({ "target": stored.id })))
    }
}

async fn n_targets(store: &dyn Store, org: OrgId) -> usize {
    store.targets().list(org, &TargetFilter::default(), Seek::first(100)).await.expect("list").len()
}

async fn n_events(store: &dyn Store, org: OrgId) -> usize {
    store.audit().list(org, &AuditFilter::default(), Seek::first(100)).await.expect("audit").len()
}

async fn n_records(store: &dyn Store) -> usize {
    store.outbox().read(0, 100).await.expect("outbox").len()
}

/// Makes every later audit write fail in the database, as a full disk or a lost connection would.
async fn refuse_audit_writes(db: &TestDatabase, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url()).await.expect("connect");
            sqlx::query(
                "CREATE TRIGGER audit_events_refused BEFORE INSERT ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            )
            .execute(&pool)
            .await
            .expect("trigger");
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url()).await.expect("connect");
            sqlx::query(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused by the test'; END; $$",
            )
            .execute(&pool)
            .await
            .expect("function");
            sqlx::query(
                "CREATE TRIGGER audit_events_refused BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
            )
            .execute(&pool)
            .await
            .expect("trigger");
            pool.close().await;
        }
    }
}

#[rstest]
#[tokio::test]
async fn a_change_commits_with_its_audit_event_and_outbox_record(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let acting = acting(acme);

    let stored = store.targets().insert(acme, &target("192.0.2.1"), None, &created(&acting)).await.expect("insert");

    assert_eq!(n_targets(store.as_ref(), acme).await, 1);
    let events = store.audit().list(acme, &AuditFilter::default(), Seek::first(10)).await.expect("audit");
    assert_eq!(events.len(), 1);
    let expected = format!("target:{}", stored.id);
    assert_eq!(events[0].event.target.as_deref(), Some(expected.as_str()));
    assert_eq!(
        (events[0].event.ip.as_deref(), events[0].event.request_id.as_deref()),
        (Some("192.0.2.7"), Some("req-1")),
        "the request's context is kept"
    );
    let records = store.outbox().read(0, 10).await.expect("outbox");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record.payload, json!({ "target": stored.id }));
}

#[rstest]
#[tokio::test]
async fn a_refused_change_leaves_no_audit_event_and_no_record(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let acting = acting(acme);
    store.targets().insert(acme, &target("192.0.2.1"), None, &created(&acting)).await.expect("insert");

    let again = store.targets().insert(acme, &target("192.0.2.1"), None, &created(&acting)).await;

    assert!(matches!(again, Err(StoreError::Conflict { what: "value" })), "{again:?}");
    assert_eq!(n_events(store.as_ref(), acme).await, 1, "only the first change was audited");
    assert_eq!(n_records(store.as_ref()).await, 1);
}

#[rstest]
#[tokio::test]
async fn a_failed_audit_write_rolls_the_change_back(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let acting = acting(acme);
    let kept = store.targets().insert(acme, &target("192.0.2.9"), None, &|_| Effects::none()).await.expect("insert");
    refuse_audit_writes(&db, backend).await;

    let refused = store.targets().insert(acme, &target("192.0.2.1"), None, &created(&acting)).await;
    let audited_delete = Effects::audit(acting.event(AuditAction::TargetDelete));
    let deleted = store.targets().delete(acme, kept.id, &audited_delete).await;

    assert!(matches!(refused, Err(StoreError::Internal(_))), "{refused:?}");
    assert!(matches!(deleted, Err(StoreError::Internal(_))), "{deleted:?}");
    let left = store.targets().list(acme, &TargetFilter::default(), Seek::first(10)).await.expect("list");
    assert_eq!(left, vec![kept], "the new target was not stored, and the deleted one is still there");
    assert_eq!(n_records(store.as_ref()).await, 0, "nor the outbox record");
}

#[rstest]
#[tokio::test]
async fn a_failed_outbox_write_rolls_back_the_change_and_its_audit_event(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let acting = acting(acme);
    let oversized = |stored: &StoredTarget| {
        created(&acting)(stored).record(NewOutboxRecord::new(
            Topic::AlertChanged,
            Some(acme),
            json!("x".repeat(PAYLOAD_MAX)),
        ))
    };

    let refused = store.targets().insert(acme, &target("192.0.2.1"), None, &oversized).await;

    assert!(matches!(refused, Err(StoreError::Internal(_))), "{refused:?}");
    assert_eq!(n_targets(store.as_ref(), acme).await, 0, "the target was not stored");
    assert_eq!(n_events(store.as_ref(), acme).await, 0, "nor its audit event");
    assert_eq!(n_records(store.as_ref()).await, 0, "nor its first outbox record");
}
