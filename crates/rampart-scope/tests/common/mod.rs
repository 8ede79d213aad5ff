//! What the gate's test files share: a resolver the test scripts, a sink that keeps refusals,
//! listeners on 127.0.0.x, a small HTTP server that counts what reaches it, and the check that
//! nothing reached a listener. Each test file uses what it needs of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink, Resolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers from a script: each name gives its answers in turn, the last one repeated — so a
/// name can change its answer between two lookups, as DNS rebinding does.
pub struct ScriptedResolver {
    answers: Mutex<HashMap<String, Vec<Vec<IpAddr>>>>,
    lookups: Mutex<usize>,
}

impl ScriptedResolver {
    pub fn new(script: &[(&str, &[&[&str]])]) -> Arc<Self> {
        let answers = script
            .iter()
            .map(|(name, turns)| {
                let turns =
                    turns.iter().map(|turn| turn.iter().map(|ip| ip.parse().expect("address")).collect()).collect();
                ((*name).to_owned(), turns)
            })
            .collect();
        Arc::new(Self { answers: Mutex::new(answers), lookups: Mutex::new(0) })
    }

    pub fn lookups(&self) -> usize {
        *self.lookups.lock().expect("lock")
    }
}

#[async_trait]
impl Resolver for ScriptedResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        *self.lookups.lock().expect("lock") += 1;
        let mut answers = self.answers.lock().expect("lock");
        let turns = answers.get_mut(name).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"))?;
        Ok(if turns.len() > 1 { turns.remove(0) } else { turns[0].clone() })
    }
}

/// Keeps every refusal.
#[derive(Default)]
pub struct Collected(Mutex<Vec<Refusal>>);

impl Collected {
    pub fn all(&self) -> Vec<Refusal> {
        self.0.lock().expect("lock").clone()
    }
}

#[async_trait]
impl RefusalSink for Collected {
    async fn refused(&self, refusal: &Refusal) {
        self.0.lock().expect("lock").push(refusal.clone());
    }
}

pub fn target(value: &str, exclude: bool) -> ScopeTarget {
    ScopeTarget { value: TargetValue::parse(value).expect("valid"), ports: None, exclude }
}

/// An organisation's gate over `targets`.
pub fn gate(targets: Vec<ScopeTarget>, deny: DenyList, resolver: Arc<dyn Resolver>) -> (Gate, Arc<Collected>) {
    let refusals = Arc::new(Collected::default());
    (Gate::new(Arc::new(Scope::new(targets)), Arc::new(deny), resolver, refusals.clone()), refusals)
}

pub async fn listener(ip: &str) -> (TcpListener, u16) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind on loopback");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

/// Asserts that no connection reached `listener` before this call: the test connects itself,
/// and the first connection waiting to be accepted must be its own (the queue is in order).
pub async fn assert_never_reached(listener: &TcpListener) {
    let marker = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("the test connects");
    let (_accepted, peer) = listener.accept().await.expect("accept");
    assert_eq!(peer, marker.local_addr().expect("addr"), "something connected to the listener before the test did");
}

/// A small HTTP/1.1 server: each request is answered with what `answer` gives for its path (a
/// whole response), on a connection then closed. It counts the requests that reach it.
pub struct HttpServer {
    pub address: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl HttpServer {
    pub async fn spawn(listener: TcpListener, answer: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        let address = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let (counter, answer) = (hits.clone(), Arc::new(answer));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (counter, answer) = (counter.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0; 1024];
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    let _ = stream.write_all(answer(&path).as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { address, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A whole response: `status` with `body`, or a redirect to `location`.
pub fn response(status: &str, location: Option<&str>, body: &str) -> String {
    let location = location.map(|to| format!("Location: {to}\r\n")).unwrap_or_default();
    format!("HTTP/1.1 {status}\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}
