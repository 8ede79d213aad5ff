//! What the store's test files share: a migrated store over a fresh database, a second store on
//! the same database (another process, as far as PostgreSQL can tell), and an organisation.
//! Each test file uses what it needs of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use rampart_core::OrgId;
use rampart_core::orgs::NewOrganisation;
use rampart_core::time::ManualClock;
use rampart_store::{ConnectOptions, Location, SqlStore, Store};
use rampart_testkit::{Backend, TestDatabase};

/// A store on `url`, not migrated.
pub async fn connect(url: &str, max_connections: u32) -> SqlStore {
    let options = ConnectOptions {
        location: Location::from_url(url).expect("valid"),
        max_connections,
        acquire_timeout: Duration::from_secs(10),
        busy_timeout: Duration::from_secs(5),
    };
    SqlStore::connect(&options).await.expect("connect")
}

/// A migrated store over a fresh database, which lives as long as the `TestDatabase`.
pub async fn store(backend: Backend) -> (Arc<SqlStore>, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    let store = connect(&db.url(), 10).await;
    store.migrate().await.expect("migrate");
    (Arc::new(store), db)
}

/// A migrated store over a fresh database whose clock stands still until the test moves it.
pub async fn store_with_clock(backend: Backend) -> (Arc<SqlStore>, Arc<ManualClock>, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    let clock = Arc::new(ManualClock::starting_now());
    let store = connect(&db.url(), 10).await.with_clock(clock.clone());
    store.migrate().await.expect("migrate");
    (Arc::new(store), clock, db)
}

/// Who follows changes: on PostgreSQL another store, with its listener started, so that notices
/// must cross connections; on SQLite the server is the only writer and notices its own followers.
pub async fn follower(store: &Arc<SqlStore>, db: &TestDatabase, backend: Backend) -> Arc<SqlStore> {
    match backend {
        Backend::Postgres => {
            let follower = connect(&db.url(), 2).await;
            if let Some(listener) = follower.listener() {
                // Stopped with the runtime at the end of the test.
                tokio::spawn(listener.run(tokio_util::sync::CancellationToken::new()));
            }
            Arc::new(follower)
        }
        Backend::Sqlite => store.clone(),
    }
}

pub async fn org(store: &SqlStore, name: &str) -> OrgId {
    store.orgs().insert(&NewOrganisation::parse(name, None).expect("valid")).await.expect("org").id
}
