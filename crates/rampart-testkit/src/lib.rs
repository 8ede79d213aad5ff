//! Test support shared by every crate's tests: a fresh database per test on SQLite or PostgreSQL.
//!
//! Also git repositories written with gitoxide (`git`), for the tools that read them.
//!
//! PostgreSQL comes from `RAMPART_TEST_DATABASE_URL` when set; otherwise a throw-away cluster is
//! made with the installed server binaries (`initdb` + `pg_ctl` in a temp dir, on a free port),
//! one per test process, and stopped when that process exits. Under `CI=true` a missing
//! PostgreSQL fails the test instead of skipping it.
#![forbid(unsafe_code)]

mod cluster;
pub mod git;

use std::path::PathBuf;
use std::sync::OnceLock;

pub use cluster::PgCluster;

/// The two backends every store-touching test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
#[derive(Debug)]
pub enum TestDatabase {
    /// An SQLite file inside a temp dir, removed when dropped.
    Sqlite { dir: tempfile::TempDir },
    /// A new database on the shared cluster (or on `RAMPART_TEST_DATABASE_URL`).
    Postgres { url: String },
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new().prefix("rampart-test-").tempdir().expect("temp dir for SQLite");
                TestDatabase::Sqlite { dir }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                TestDatabase::Postgres { url: create_database(&admin_url).await }
            }
        }
    }

    /// The data directory a server under test should use (its SQLite file lives there).
    pub fn data_dir(&self) -> Option<PathBuf> {
        match self {
            TestDatabase::Sqlite { dir } => Some(dir.path().to_owned()),
            TestDatabase::Postgres { .. } => None,
        }
    }

    /// The `postgres://` URL, for PostgreSQL.
    pub fn postgres_url(&self) -> Option<&str> {
        match self {
            TestDatabase::Sqlite { .. } => None,
            TestDatabase::Postgres { url } => Some(url),
        }
    }

    /// The URL a store would connect to.
    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite { dir } => format!("sqlite://{}", dir.path().join("rampart.db").display()),
            TestDatabase::Postgres { url } => url.clone(),
        }
    }
}

/// The URL of a PostgreSQL server on which tests may create databases.
fn postgres_admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("RAMPART_TEST_DATABASE_URL") {
            return url;
        }
        // Kept for the life of the process; the cluster stops itself when the process exits.
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(|| PgCluster::start().unwrap_or_else(|why| no_postgres(&why))).admin_url()
    })
    .clone()
}

fn no_postgres(why: &str) -> ! {
    panic!(
        "PostgreSQL is needed for this test and could not be started: {why}. Install the server \
         (`apt-get install postgresql`) or set RAMPART_TEST_DATABASE_URL to a server where databases may be created."
    )
}

/// Creates a uniquely named database and returns its URL.
pub async fn create_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("rampart_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create a test database");
    let (base, _) = admin_url.rsplit_once('/').expect("a PostgreSQL URL has a path");
    format!("{base}/{name}")
}
