//! Nothing secret reaches a log line or a response: not the signing key, not a password or token
//! sent by a client, not SQL, not a backtrace. (Every test also checks this when its app drops.)

use rstest::rstest;
use serde_json::json;

use crate::helpers::{Backend, TEST_PASSWORD, TestApp, assert_no_secret, captured_logs, signing_key};

#[rstest]
#[tokio::test]
async fn logs_and_responses_hold_no_secret(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = signing_key(app.store.as_ref()).await;
    assert!(key.len() >= 40, "a 256-bit key is kept");
    let bearer = format!("Bearer {TEST_PASSWORD}");

    let mut bodies = Vec::new();
    for response in [
        app.client.get(app.url("/api/v1/health")).header("authorization", &bearer).send().await.expect("sent"),
        app.client.get(app.url(&format!("/api/v1/health/ready?token={TEST_PASSWORD}"))).send().await.expect("sent"),
        app.client.get(app.url("/api/v1/missing")).header("x-api-key", TEST_PASSWORD).send().await.expect("sent"),
        app.post_json("/api/v1/test/echo", &json!({"name": "n", "count": 1, "password": TEST_PASSWORD})).await,
        app.post_json("/api/v1/test/echo", &json!({"name": "n", "count": TEST_PASSWORD})).await,
        app.get("/api/v1/test/panic").await,
        app.get("/metrics").await,
        app.get("/api/v1/openapi.json").await,
    ] {
        bodies.push(response.text().await.expect("body"));
    }

    let logs = captured_logs();
    assert!(logs.contains("\"route\":\"/api/v1/health\""), "one line per request is logged: {logs}");
    assert!(logs.contains("\"status\":500"), "the panic's request is logged");
    assert!(!logs.contains(&key), "the signing key is never logged");
    for body in &bodies {
        assert!(!body.contains(&key), "the signing key is never sent");
        assert_no_secret(body);
    }
    assert_no_secret(&logs);
}

#[rstest]
#[tokio::test]
async fn the_signing_key_survives_a_restart(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let database = rampart_testkit::TestDatabase::create(backend).await;
    let config = crate::helpers::test_config(&database);
    let first = rampart::serve::open_store(&config).await.expect("store");
    let (_, before) = rampart::services::identity(&config, first.clone()).await.expect("identity");
    first.close().await;

    let second = rampart::serve::open_store(&config).await.expect("store");
    let (_, after) = rampart::services::identity(&config, second).await.expect("identity");

    assert_eq!(before.expose(), after.expose());
    assert_eq!(before.expose().len(), 32);
    assert_eq!(format!("{after:?}"), "SigningKey(<redacted>)");
}
