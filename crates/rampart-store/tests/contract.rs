//! The store contract: every behaviour the rest of Rampart relies on, run against SQLite and
//! PostgreSQL alike.

use std::time::Duration;

use rampart_core::OrgId;
use rampart_core::orgs::{NewOrganisation, Slug};
use rampart_core::settings::SettingKey;
use rampart_store::{ConnectOptions, Effects, SqlStore, Store, StoreError};
use rampart_testkit::{Backend, TestDatabase};
use rstest::rstest;
use serde_json::json;

struct Fixture {
    store: SqlStore,
    _db: TestDatabase,
}

async fn store(backend: Backend) -> Fixture {
    let db = TestDatabase::create(backend).await;
    let location = rampart_store::Location::from_url(&db.url()).expect("test URLs are valid");
    let store = SqlStore::connect(&ConnectOptions {
        location,
        max_connections: 5,
        acquire_timeout: Duration::from_secs(10),
        busy_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect");
    store.migrate().await.expect("migrate");
    Fixture { store, _db: db }
}

fn key(name: &str) -> SettingKey {
    SettingKey::parse(name).expect("valid key")
}

#[rstest]
#[tokio::test]
async fn migrating_twice_changes_nothing(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let fixture = store(backend).await;
    fixture.store.migrate().await.expect("second migration is a no-op");
    fixture.store.ping().await.expect("ping");
}

#[rstest]
#[tokio::test]
async fn organisations_are_stored_and_found(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let fixture = store(backend).await;
    let orgs = fixture.store.orgs();
    let new = NewOrganisation::parse("Acme Security", None).expect("valid");

    let created = orgs.insert(&new).await.expect("insert");

    assert_eq!(created.name, "Acme Security");
    assert_eq!(orgs.get(created.id).await.expect("get"), created);
    assert_eq!(orgs.find_by_slug(&created.slug).await.expect("find"), Some(created.clone()));
    let unknown = Slug::parse("nobody").expect("valid slug");
    assert_eq!(orgs.find_by_slug(&unknown).await.expect("find"), None);
    assert!(matches!(orgs.get(OrgId::new()).await, Err(StoreError::NotFound)));
}

#[rstest]
#[tokio::test]
async fn a_taken_slug_is_a_conflict(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let fixture = store(backend).await;
    let orgs = fixture.store.orgs();
    orgs.insert(&NewOrganisation::parse("Acme", None).expect("valid")).await.expect("first");

    let second = orgs.insert(&NewOrganisation::parse("Other", Some("acme")).expect("valid")).await;

    assert!(matches!(second, Err(StoreError::Conflict { what: "slug" })), "{second:?}");
}

#[rstest]
#[tokio::test]
async fn settings_are_scoped_by_organisation(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let fixture = store(backend).await;
    let orgs = fixture.store.orgs();
    let settings = fixture.store.settings();
    let acme = orgs.insert(&NewOrganisation::parse("Acme", None).expect("valid")).await.expect("acme");
    let other = orgs.insert(&NewOrganisation::parse("Other", None).expect("valid")).await.expect("other");

    let first = settings.put(acme.id, &key("alerts.threshold"), &json!(7), &Effects::none()).await.expect("put");
    let updated =
        settings.put(acme.id, &key("alerts.threshold"), &json!({"score": 8}), &Effects::none()).await.expect("update");
    settings.put(acme.id, &key("alerts.window"), &json!("1h"), &Effects::none()).await.expect("put");

    assert_eq!(updated.value, json!({"score": 8}));
    assert_eq!(updated.created_at, first.created_at);
    assert!(updated.updated_at >= first.updated_at);
    let found = settings.find(acme.id, &key("alerts.threshold")).await.expect("find");
    assert_eq!(found, Some(updated));
    let keys: Vec<_> = settings.list(acme.id).await.expect("list").into_iter().map(|s| s.key).collect();
    assert_eq!(keys, [key("alerts.threshold"), key("alerts.window")]);

    assert_eq!(settings.find(other.id, &key("alerts.threshold")).await.expect("find"), None);
    assert!(settings.list(other.id).await.expect("list").is_empty());
    assert!(matches!(
        settings.delete(other.id, &key("alerts.threshold"), &Effects::none()).await,
        Err(StoreError::NotFound)
    ));

    settings.delete(acme.id, &key("alerts.threshold"), &Effects::none()).await.expect("delete");
    assert_eq!(settings.find(acme.id, &key("alerts.threshold")).await.expect("find"), None);
}

#[rstest]
#[tokio::test]
async fn a_setting_for_an_unknown_organisation_is_not_found(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let fixture = store(backend).await;

    let result =
        fixture.store.settings().put(OrgId::new(), &key("alerts.threshold"), &json!(7), &Effects::none()).await;

    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
}

#[rstest]
#[tokio::test]
async fn the_first_secret_written_wins(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let fixture = store(backend).await;
    let secrets = fixture.store.secrets();

    let (a, b) =
        tokio::join!(secrets.get_or_insert("signing_key", "first"), secrets.get_or_insert("signing_key", "second"));
    let (a, b) = (a.expect("a"), b.expect("b"));

    assert_eq!(a, b);
    assert_eq!(secrets.get_or_insert("signing_key", "third").await.expect("again"), a);
}

#[rstest]
#[tokio::test]
async fn a_closed_store_is_unavailable(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let fixture = store(backend).await;

    fixture.store.close().await;

    assert!(matches!(fixture.store.ping().await, Err(StoreError::Unavailable)));
}
