//! Health over HTTP: the report with the database's latency, liveness and readiness on both backends,
//! and readiness failing while PostgreSQL is stopped and recovering when it is back.

use rampart_testkit::PgCluster;
use rstest::rstest;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestDatabase, problem};

#[rstest]
#[tokio::test]
async fn health_reports_the_database_with_its_latency(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.get("/api/v1/health").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_seconds"].is_u64());
    let database = &body["components"][0];
    assert_eq!(database["name"], "database");
    assert_eq!(database["status"], "ok");
    assert_eq!(database["detail"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
    assert!(database["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
}

#[rstest]
#[tokio::test]
async fn live_and_ready_answer_200_when_all_is_up(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let live = app.get("/api/v1/health/live").await;
    let ready = app.get("/api/v1/health/ready").await;

    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<Value>().await.expect("JSON")["status"], "ok");
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.expect("JSON")["components"][0]["status"], "ok");
}

#[tokio::test]
async fn ready_fails_while_postgres_is_stopped_and_recovers_without_a_restart() {
    // A cluster of this test's own, since it is stopped halfway.
    let cluster = PgCluster::start().unwrap_or_else(|why| panic!("PostgreSQL is needed: {why}"));
    let url = rampart_testkit::create_database(&cluster.admin_url()).await;
    let app = TestApp::spawn_with(TestDatabase::Postgres { url }, |config| {
        config.database.acquire_timeout = std::time::Duration::from_millis(500);
        config.database.health_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    assert_eq!(app.get("/api/v1/health/ready").await.status(), 200);

    cluster.stop();
    let down = problem(app.get("/api/v1/health/ready").await, 503).await;
    let health = app.get("/api/v1/health").await;

    assert_eq!(down["type"], "urn:rampart:problem:not-ready");
    assert!(down["detail"].as_str().is_some_and(|d| d.contains("database")), "{down}");
    assert_eq!(down["health"]["components"][0]["name"], "database");
    assert_eq!(down["health"]["components"][0]["status"], "down");
    assert_eq!(health.status(), 200, "the health report itself still answers");
    assert_eq!(health.json::<Value>().await.expect("JSON")["status"], "down");
    assert_eq!(app.get("/api/v1/health/live").await.status(), 200, "liveness does not depend on the database");

    cluster.restart();
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/api/v1/health/ready").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "ready again once PostgreSQL is back");
}
