//! Sensors' bodies are bounded before they are read: a request without a valid node key is
//! answered from its headers while the client is still sending (its body never read, so the
//! server's memory does not grow with it), and a sensor with a valid key that sends more events
//! than a batch may hold is refused without a tree of its body being built. The bodies here are
//! written from one small buffer over a raw socket, so the test's own memory stays flat too.

use std::sync::Arc;
use std::time::Duration;

use rstest::rstest;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, remember_secret};

const MIB: usize = 1024 * 1024;
/// The sensors' body limit, and the size of every refused body sent here.
const BODY: usize = 16 * MIB;
/// Writes are this long: the body is this buffer, repeated.
const CHUNK: usize = 64 * 1024;
/// The most a test waits for an answer: far beyond any server's need, so it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

/// The peak resident memory of this process (the test server runs in it), in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    let kib: usize = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmHWM in kB");
    kib * 1024
}

/// A JSON array of exactly `size` bytes: `[`, then `element` repeated (each ends with a comma),
/// spaces, and `{}]`. It is written from one small buffer, never held whole.
struct ArrayBody {
    size: usize,
    element: &'static [u8],
}

impl ArrayBody {
    /// The byte at `position`.
    fn byte(&self, position: usize) -> u8 {
        let elements = (self.size - 4) / self.element.len() * self.element.len();
        match position {
            0 => b'[',
            p if p <= elements => self.element[(p - 1) % self.element.len()],
            p if p < self.size - 3 => b' ',
            p => b"{}]"[p - (self.size - 3)],
        }
    }
}

/// Sends a POST of `body` (only its first `send` bytes, when given) with `key`, and reads the
/// status of the answer, which may come while the body is still being written.
async fn raw_post(app: &TestApp, path: &str, key: &str, body: &ArrayBody, send: Option<usize>) -> u16 {
    raw_post_with(app, path, &format!("X-Node-Key: {key}"), body, send).await
}

/// As [`raw_post`], with the key sent in `credential`, a whole header line.
async fn raw_post_with(app: &TestApp, path: &str, credential: &str, body: &ArrayBody, send: Option<usize>) -> u16 {
    let stream = TcpStream::connect(app.addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\n{credential}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        app.addr, body.size
    );
    let body = ArrayBody { size: body.size, element: body.element };
    let to_send = send.unwrap_or(body.size);
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut sent = 0;
        while sent < to_send {
            chunk.clear();
            chunk.extend((sent..to_send.min(sent + CHUNK)).map(|position| body.byte(position)));
            writer.write_all(&chunk).await?;
            sent += chunk.len();
        }
        // Keep the connection open: a partial body stays partial.
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(writer)
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(PATIENCE, async {
        while !answer.windows(4).any(|window| window == b"\r\n\r\n") {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    writing.abort();
    assert!(read.is_ok(), "no answer within {PATIENCE:?}: the server waits for the body");
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer, got {text:?}"))
}

const EVENTS: ArrayBody = ArrayBody { size: BODY, element: br#"{"kind":"honeypot","service":"ssh"},"# };

#[rstest]
#[tokio::test]
async fn a_bad_node_key_is_answered_while_the_body_is_still_being_sent(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    // 64 KiB of a 16 MiB body: a server that reads the body first never answers.
    for path in ["/api/v1/ingest/events", "/api/honeypot-log", "/api/agent-alert", "/api/v1/ingest/opencanary"] {
        for key in ["nk_unknown_0000", "not a key at all"] {
            assert_eq!(raw_post(&app, path, key, &EVENTS, Some(CHUNK)).await, 401, "{path} with {key}");
        }
    }
    // Cowrie's HEC paths: the key as a Splunk token (an unknown token is HEC's 403).
    for path in ["/services/collector/event", "/services/collector/event/1.0", "/services/collector"] {
        for (credential, status) in
            [("Authorization: Splunk nk_unknown_0000", 403), ("Authorization: Bearer nk_unknown_0000", 401)]
        {
            assert_eq!(
                raw_post_with(&app, path, credential, &EVENTS, Some(CHUNK)).await,
                status,
                "{path} {credential}"
            );
        }
    }
}

#[rstest]
#[tokio::test]
async fn bodies_sent_with_a_bad_node_key_leave_the_peak_memory_flat(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let before = peak_rss();
    // Eight 16 MiB arrays at once (4 on the path the replaced system's honeypots use): read and
    // parsed, they would take hundreds of MiB.
    let mut posts = tokio::task::JoinSet::new();
    for path in ["/api/honeypot-log", "/api/v1/ingest/events"] {
        for _ in 0..4 {
            let app = app.clone();
            posts.spawn(async move { raw_post(&app, path, "nk_unknown_0000", &EVENTS, None).await });
        }
    }
    while let Some(status) = posts.join_next().await {
        assert_eq!(status.expect("a post"), 401);
    }
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 32 * MIB, "the peak resident memory grew by {} MiB", grown / MIB);
}

#[rstest]
#[tokio::test]
async fn a_valid_key_with_too_many_events_is_refused_without_building_the_body(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let response =
        app.call("POST", "/api/v1/nodes", Some(&ada.access), Some(&json!({"name": "trap", "kind": "honeypot"}))).await;
    assert_eq!(response.status(), 201);
    let node: serde_json::Value = response.json().await.expect("JSON");
    let key = node["key"].as_str().expect("the key").to_owned();
    remember_secret(key.clone());

    // Two million empty events in 6 MiB: as a tree of values they would take over 64 MiB.
    let before = peak_rss();
    let many = ArrayBody { size: 6 * MIB, element: b"{}," };
    assert_eq!(raw_post(&app, "/api/v1/ingest/events", &key, &many, None).await, 413);
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 32 * MIB, "the peak resident memory grew by {} MiB", grown / MIB);
}
