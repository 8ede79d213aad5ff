//! Limits against slow and oversized clients, request ids, security headers, CORS and graceful
//! shutdown, exercised over real TCP connections.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, HELD, SLOW_STARTED, TestApp, TestDatabase, problem, raw_exchange};

async fn spawn(configure: impl FnOnce(&mut rampart::config::Config)) -> TestApp {
    TestApp::spawn_with(TestDatabase::create(Backend::Sqlite).await, configure).await
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_on_any_route() {
    let app = spawn(|config| config.http.body_limit = 1024).await;
    let body = "x".repeat(2000);

    let to_json_route =
        app.client.post(app.url("/api/v1/test/echo")).header("content-type", "application/json").body(body.clone());
    let to_get_route = app.client.get(app.url("/api/v1/health/live")).body(body);

    problem(to_json_route.send().await.expect("sent"), 413).await;
    problem(to_get_route.send().await.expect("sent"), 413).await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let app = spawn(|config| config.http.body_limit = 1024).await;
    let chunk = "a".repeat(600);
    let request = format!(
        "POST /api/v1/test/echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );

    let response = raw_exchange(&app, request.as_bytes()).await;

    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn(|config| config.http.header_read_timeout = Duration::from_secs(1)).await;
    let half = b"GET /api/v1/health/live HTTP/1.1\r\nHost: test\r\n";

    // A head written in parts is served: the connection is not closed merely for arriving in parts.
    let mut patient = TcpStream::connect(app.addr).await.expect("connect");
    patient.set_nodelay(true).expect("no delay");
    for part in [&half[..], b"Connection: close\r\n", b"\r\n"] {
        patient.write_all(part).await.expect("write");
        patient.flush().await.expect("flush");
    }
    let mut answer = Vec::new();
    patient.read_to_end(&mut answer).await.expect("read");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));

    // A head that never ends is cut off instead of holding the connection forever.
    let mut stalled = TcpStream::connect(app.addr).await.expect("connect");
    stalled.write_all(half).await.expect("write");
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stalled.read_to_end(&mut buffer)).await;
    let read = read.expect("the server closes the connection instead of waiting forever");
    // Closed, with at most a 408 said first; never a 200 for a request it never got.
    assert!(read.is_err() || !String::from_utf8_lossy(&buffer).contains("200 OK"));
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_any_other_is_replaced() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let kept = app
        .client
        .get(app.url("/api/v1/health/live"))
        .header("x-request-id", "client-42.a_b")
        .send()
        .await
        .expect("sent");
    let replaced = app
        .client
        .get(app.url("/api/v1/health/live"))
        .header("x-request-id", "bad id;drop")
        .send()
        .await
        .expect("sent");
    let generated = app.get("/api/v1/health/live").await;

    assert_eq!(kept.headers()["x-request-id"], "client-42.a_b");
    let replaced = replaced.headers()["x-request-id"].to_str().expect("ASCII").to_owned();
    assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced}");
    let generated = generated.headers()["x-request-id"].to_str().expect("ASCII").to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    for path in ["/api/v1/health/live", "/api/v1/missing", "/docs", "/docs/swagger-ui.css", "/metrics"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["api-version"], rampart_api::API_VERSION, "{path}");
        assert!(
            headers["content-security-policy"].to_str().expect("ASCII").contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let app = spawn(|config| config.http.cors_origins = vec!["https://soc.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/health"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };

    let allowed = preflight("https://soc.example.com").await.expect("sent");
    let refused = preflight("https://evil.example.net").await.expect("sent");

    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://soc.example.com");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_configured_origins_no_cors_header_is_sent() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app
        .client
        .get(app.url("/api/v1/health/live"))
        .header("origin", "https://soc.example.com")
        .send()
        .await
        .expect("sent");

    assert!(response.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_and_refuses_new_connections() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let in_flight = tokio::spawn(app.client.get(app.url("/api/v1/test/slow?ms=500")).send());
    SLOW_STARTED.notified().await;

    app.shutdown().await;

    let response = in_flight.await.expect("joined").expect("the in-flight request was answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "done");
    assert!(TcpStream::connect(app.addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn after_the_grace_period_remaining_connections_are_closed() {
    let mut app = spawn(|config| config.http.shutdown_grace = Duration::from_millis(200)).await;
    let stuck = tokio::spawn(app.client.get(app.url("/api/v1/test/slow?ms=20000")).send());
    SLOW_STARTED.notified().await;

    app.shutdown().await;

    assert!(stuck.await.expect("joined").is_err(), "the stuck request's connection was closed");
}

/// Waits until the server closes `stream`, reading (and discarding) whatever it says first.
async fn closed_by_the_server(mut stream: TcpStream) -> Result<(), tokio::time::error::Elapsed> {
    let mut buffer = Vec::new();
    // End of stream or a reset: either way the server let go.
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buffer)).await.map(|_| ())
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_within_the_header_read_timeout() {
    let app = spawn(|config| config.http.header_read_timeout = Duration::from_millis(300)).await;

    let silent = TcpStream::connect(app.addr).await.expect("connect");

    closed_by_the_server(silent).await.expect("the server closes a silent connection instead of waiting forever");
}

#[tokio::test]
async fn a_half_sent_http2_preface_is_closed_within_the_header_read_timeout() {
    let app = spawn(|config| config.http.header_read_timeout = Duration::from_millis(300)).await;

    let mut half = TcpStream::connect(app.addr).await.expect("connect");
    half.write_all(b"PRI * HTTP/2.0\r\n").await.expect("write");

    closed_by_the_server(half).await.expect("the server closes a half-sent preface instead of waiting forever");
}

/// Sends a keep-alive request for the liveness check and reads until its answer has come.
async fn served(stream: &mut TcpStream) -> String {
    stream.write_all(b"GET /api/v1/health/live HTTP/1.1\r\nHost: test\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn beyond_max_connections_a_new_connection_waits_until_one_closes() {
    let app = spawn(|config| config.http.max_connections = 2).await;
    let mut first = TcpStream::connect(app.addr).await.expect("connect");
    let mut second = TcpStream::connect(app.addr).await.expect("connect");
    assert!(served(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(served(&mut second).await.starts_with("HTTP/1.1 200"));

    // The third is let into the kernel's queue, but not served while the two stay open.
    let mut third = TcpStream::connect(app.addr).await.expect("connect");
    let waiting = tokio::time::timeout(Duration::from_millis(500), served(&mut third)).await;
    assert!(waiting.is_err(), "a third connection was served beyond the cap: {waiting:?}");

    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            let n = third.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before answering");
            answer.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("served once another connection closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(second);
}

#[tokio::test]
async fn a_keep_alive_connection_idle_beyond_the_idle_timeout_is_closed() {
    let app = spawn(|config| {
        config.http.idle_timeout = Duration::from_millis(300);
        // Longer than the wait below: only the idle limit can close it in time.
        config.http.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut idle = TcpStream::connect(app.addr).await.expect("connect");
    assert!(served(&mut idle).await.starts_with("HTTP/1.1 200"));

    closed_by_the_server(idle).await.expect("the server closes an idle connection instead of keeping it forever");
}

#[tokio::test]
async fn a_request_in_progress_keeps_its_connection_past_the_idle_timeout() {
    let app = spawn(|config| config.http.idle_timeout = Duration::from_millis(200)).await;

    let held = tokio::spawn(app.client.get(app.url("/api/v1/test/held")).send());
    SLOW_STARTED.notified().await;

    // A connection opened after it, idle once answered, is closed for idleness; the held
    // request, as long without a byte, keeps its connection and is answered when released.
    let idle = raw_exchange(&app, b"GET /api/v1/health/live HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert!(idle.starts_with("HTTP/1.1 200"), "{idle}");
    HELD.notify_one();
    let response = held.await.expect("joined").expect("answered");

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("the whole body"), "done");
}
