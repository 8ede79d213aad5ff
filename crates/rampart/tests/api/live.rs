//! Live streams under attack: a stream ends when its caller's access does, streams are capped per
//! user, the followers of one organisation share one reader, and a WebSocket client cannot send
//! an unbounded message.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rstest::rstest;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Backend, TestApp, TestDatabase, create_api_key, gauge, problem, raw_exchange, remember_secret};

/// How long anything here may take; far beyond what it needs.
const PATIENCE: Duration = Duration::from_secs(20);

/// A server whose streams check their caller again every 200 ms.
async fn spawn(backend: Backend, configure: impl FnOnce(&mut rampart::config::Config)) -> TestApp {
    TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.http.stream_recheck = Duration::from_millis(200);
        configure(config);
    })
    .await
}

async fn follow_alerts(app: &TestApp, token: &str) -> reqwest::Response {
    app.call("GET", "/api/v1/alerts/events", Some(token), None).await
}

/// Reads a server-sent stream up to its next alert, returning what it read.
async fn next_alert(events: &mut reqwest::Response) -> String {
    tokio::time::timeout(PATIENCE, async {
        let mut text = String::new();
        while !text.contains("event: alert") {
            let chunk = events.chunk().await.expect("the stream is open").expect("the stream does not end");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    })
    .await
    .expect("the alert arrives")
}

/// Reads a server-sent stream until the server ends it.
async fn until_the_end(mut events: reqwest::Response) {
    let ended = tokio::time::timeout(PATIENCE, async {
        // The end of the body, or a connection cut: either way the stream is over.
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream is still open");
}

/// Reads a WebSocket until the server closes it (or cuts the connection).
async fn until_closed<S>(socket: &mut S)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket is still open");
}

/// Waits until the gauge reads `expected`.
async fn gauge_becomes(app: &TestApp, name: &str, expected: i64) {
    let reached = tokio::time::timeout(PATIENCE, async {
        while gauge(app, name).await != expected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "{name} is {} instead of {expected}", gauge(app, name).await);
}

#[rstest]
#[tokio::test]
async fn a_stream_of_alerts_ends_within_its_recheck_period_after_logout(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;
    let events = follow_alerts(&app, &ada.access).await;
    assert_eq!(events.status(), 200);

    let out = app.call("POST", "/api/v1/auth/logout", Some(&ada.access), None).await;
    assert_eq!(out.status(), 204);

    until_the_end(events).await;
}

#[rstest]
#[tokio::test]
async fn a_websocket_following_a_run_closes_when_its_api_key_is_revoked(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;
    let (key, key_id) = create_api_key(&app, &ada, "dashboard").await;
    // A run that stays open far longer than the test.
    let body = json!({"tool": "noop", "params": {"sleep_ms": 600_000}});
    let created = app.call("POST", "/api/v1/executions", Some(&ada.access), Some(&body)).await;
    assert!(created.status().is_success(), "{}", created.status());
    let run: Value = created.json().await.expect("JSON");
    let url = format!("ws://{}/api/v1/executions/{}/stream", app.addr, run["id"].as_str().expect("id"));
    let mut request = url.into_client_request().expect("a WebSocket request");
    request.headers_mut().insert("x-api-key", key.parse().expect("a header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the upgrade succeeds");
    let first = tokio::time::timeout(PATIENCE, socket.next()).await.expect("the current state comes at once");
    assert!(matches!(first, Some(Ok(Message::Text(_)))), "{first:?}");

    let revoked = app.call("DELETE", &format!("/api/v1/api-keys/{key_id}"), Some(&ada.access), None).await;
    assert_eq!(revoked.status(), 204);

    until_closed(&mut socket).await;
}

#[rstest]
#[tokio::test]
async fn streams_beyond_the_per_user_cap_are_refused_with_429(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |config| config.http.max_streams_per_user = 2).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    // A second session of the same user counts against the same cap.
    let again = app.login(&ada.username, &ada.password, None).await;
    let again: Value = again.json().await.expect("JSON");
    let second_session = again["access_token"].as_str().expect("a token").to_owned();
    remember_secret(second_session.clone());

    let first = follow_alerts(&app, &ada.access).await;
    let second = follow_alerts(&app, &second_session).await;
    let third = follow_alerts(&app, &ada.access).await;
    let others = follow_alerts(&app, &bob.access).await;

    assert_eq!((first.status().as_u16(), second.status().as_u16(), others.status().as_u16()), (200, 200, 200));
    assert!(third.headers().get("retry-after").is_some(), "{:?}", third.headers());
    problem(third, 429).await;
}

#[rstest]
#[tokio::test]
async fn streams_beyond_the_server_cap_are_refused_with_429(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |config| {
        config.http.max_streams = 1;
        config.http.max_streams_per_user = 1;
    })
    .await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;

    let held = follow_alerts(&app, &ada.access).await;
    let refused = follow_alerts(&app, &bob.access).await;

    assert_eq!(held.status(), 200);
    problem(refused, 429).await;
    // A stream that ends gives its place back.
    drop(held);
    gauge_becomes(&app, "rampart_live_streams", 0).await;
    assert_eq!(follow_alerts(&app, &bob.access).await.status(), 200);
}

#[rstest]
#[tokio::test]
async fn followers_of_one_organisation_share_one_reader(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let (ada_key, _) = create_api_key(&app, &ada, "dashboard").await;

    let mut by_token = follow_alerts(&app, &ada.access).await;
    let mut by_key = app.client.get(app.url("/api/v1/alerts/events")).header("x-api-key", &ada_key).send().await;
    let by_key_status = by_key.as_ref().map(reqwest::Response::status).expect("sent");
    assert_eq!((by_token.status().as_u16(), by_key_status.as_u16()), (200, 200));
    assert_eq!(gauge(&app, "rampart_live_readers").await, 1, "two followers of one organisation, one reader");
    assert_eq!(gauge(&app, "rampart_live_streams").await, 2);

    // Both get what the one reader read.
    let body = json!({"name": "trap", "kind": "agent"});
    let node: Value =
        app.call("POST", "/api/v1/nodes", Some(&ada.access), Some(&body)).await.json().await.expect("JSON");
    let node_key = node["key"].as_str().expect("key");
    let decoy = json!({"kind": "decoy", "decoy_name": "aws-keys.txt", "source_ip": "203.0.113.9"});
    let ingested = app.sensor_call("/api/v1/ingest/events", node_key, &decoy).await;
    assert!(ingested.status().is_success(), "{}", ingested.status());
    for events in [&mut by_token, by_key.as_mut().expect("sent")] {
        let arrived = next_alert(events).await;
        assert!(arrived.contains("203.0.113.9"), "{arrived}");
    }

    // Another organisation has a reader of its own.
    let bobs = follow_alerts(&app, &bob.access).await;
    assert_eq!(bobs.status(), 200);
    assert_eq!(gauge(&app, "rampart_live_readers").await, 2);

    // The reader stops with its last follower.
    drop((by_token, by_key, bobs));
    gauge_becomes(&app, "rampart_live_readers", 0).await;
    gauge_becomes(&app, "rampart_live_streams", 0).await;
}

#[rstest]
#[tokio::test]
async fn a_websocket_message_over_64_kib_closes_the_socket(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;
    let mut request =
        format!("ws://{}/api/v1/alerts/stream", app.addr).into_client_request().expect("a WebSocket request");
    request.headers_mut().insert("authorization", format!("Bearer {}", ada.access).parse().expect("a header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the upgrade succeeds");

    // A message within the cap is read and ignored: the socket stays open for the next.
    socket.send(Message::Text("x".repeat(1024).into())).await.expect("sent");
    socket.send(Message::Ping(b"still there?".to_vec().into())).await.expect("sent");
    let pong = tokio::time::timeout(PATIENCE, socket.next()).await.expect("an answer");
    assert!(matches!(pong, Some(Ok(Message::Pong(_)))), "{pong:?}");

    // One over it closes the socket. The send itself may already fail as the server hangs up.
    let _ = socket.send(Message::Text("x".repeat(64 * 1024 + 1).into())).await;
    until_closed(&mut socket).await;
}

#[rstest]
#[tokio::test]
async fn a_stream_is_not_cut_by_the_idle_timeout_of_its_connection(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |config| config.http.idle_timeout = Duration::from_millis(200)).await;
    let ada = app.register("ada").await;
    let body = json!({"name": "trap", "kind": "agent"});
    let node: Value =
        app.call("POST", "/api/v1/nodes", Some(&ada.access), Some(&body)).await.json().await.expect("JSON");
    let mut events = follow_alerts(&app, &ada.access).await;
    assert_eq!(events.status(), 200);

    // A connection opened after the stream, idle once answered, is closed for idleness: the
    // stream, idle as long with nothing to send, is still open, its response in progress.
    let idle = raw_exchange(&app, b"GET /api/v1/health/live HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert!(idle.starts_with("HTTP/1.1 200"), "{idle}");
    let decoy = json!({"kind": "decoy", "decoy_name": "aws-keys.txt", "source_ip": "203.0.113.9"});
    let ingested = app.sensor_call("/api/v1/ingest/events", node["key"].as_str().expect("key"), &decoy).await;
    assert!(ingested.status().is_success(), "{}", ingested.status());

    let arrived = next_alert(&mut events).await;
    assert!(arrived.contains("203.0.113.9"), "{arrived}");
}

#[rstest]
#[tokio::test]
async fn followers_of_one_run_share_one_reader_and_all_see_its_end(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    // Leases renewed quickly, so the worker hears the cancel soon.
    let app = spawn(backend, |config| config.engine.lease = Duration::from_secs(1)).await;
    let ada = app.register("ada").await;
    let body = json!({"tool": "noop", "params": {"sleep_ms": 600_000}});
    let created = app.call("POST", "/api/v1/executions", Some(&ada.access), Some(&body)).await;
    assert!(created.status().is_success(), "{}", created.status());
    let run: Value = created.json().await.expect("JSON");
    let id = run["id"].as_str().expect("id");
    let path = format!("/api/v1/executions/{id}/events");

    let first = app.call("GET", &path, Some(&ada.access), None).await;
    let second = app.call("GET", &path, Some(&ada.access), None).await;
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    assert_eq!(gauge(&app, "rampart_live_readers").await, 1, "two followers of one run, one reader");

    let cancelled = app.call("POST", &format!("/api/v1/executions/{id}/cancel"), Some(&ada.access), None).await;
    assert!(cancelled.status().is_success(), "{}", cancelled.status());
    for follower in [first, second] {
        let text = tokio::time::timeout(PATIENCE, follower.text()).await.expect("the stream ends with the run");
        let text = text.expect("the whole stream");
        assert!(text.contains("\"status\":\"cancelled\""), "{text}");
    }
    gauge_becomes(&app, "rampart_live_readers", 0).await;
}
