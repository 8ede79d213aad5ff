//! The HTTP server: an accept loop over hyper that bounds what a connection may hold, passes the
//! client address to handlers, and shuts down gracefully — stop accepting, let in-flight requests
//! finish within the grace period, then close what is left.
//!
//! What a connection may hold:
//! - at most `max_connections` at once; beyond, the loop stops accepting, so new connections wait
//!   in the listen backlog (the kernel's queue) until one closes, and are not served before;
//! - its first request (for HTTP/2, the preface too) within the header-read timeout from accept,
//!   or it is closed: this covers the HTTP/1-or-2 sniff, which hyper does without a timer;
//! - no request in progress for `idle_timeout`, and it is closed (HTTP/2 with a `GOAWAY`);
//! - HTTP/2 peers are pinged, and a peer that does not answer is dropped;
//! - a connection upgraded to a WebSocket keeps its place in the count until the socket closes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// How often an HTTP/2 peer is pinged, and how long it has to answer.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// A client must send its whole request head within this time, or the connection is closed;
    /// its first request (after the HTTP/2 preface, if any) within this time from accept.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run on after shutdown begins.
    pub shutdown_grace: Duration,
    /// Connections served at once; beyond, new ones wait to be accepted until one closes.
    pub max_connections: usize,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, app: Router, options: ServeOptions, shutdown: impl Future<Output = ()>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(H2_PING_INTERVAL))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let limit = Arc::new(Semaphore::new(options.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let (stop, stopping) = watch::channel(false);
    // Owns every connection task, so that those still open after the grace period are ended.
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        // A place first, then a connection: at the cap, connections wait in the backlog.
        let next = async {
            let place = limit.clone().acquire_owned().await.expect("the connection limit is never closed");
            (place, listener.accept().await)
        };
        let (place, stream, remote) = tokio::select! {
            Some(_) = connections.join_next() => continue,
            (place, accepted) = next => match accepted {
                Ok((stream, remote)) => (place, stream, remote),
                Err(error) => {
                    // Out of file descriptors or similar: wait a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let accepted = Instant::now();
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new(accepted));
        let app = app.clone();
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let in_progress = requests.begin();
            let response = app.clone().oneshot(request);
            async move {
                let response = response.await?;
                // The request is in progress until its response body is sent (or dropped).
                Ok::<_, Infallible>(response.map(|body| Tracked { body, _in_progress: in_progress }))
            }
        });
        let io = TokioIo::new(Counted { stream, _place: place });
        let connection = builder.serve_connection_with_upgrades(io, service).into_owned();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let mut phase = Phase::Serving;
            let mut deadline = accepted + options.header_read_timeout;
            loop {
                tokio::select! {
                    // A client that goes away or breaks the protocol ends only its own connection.
                    _ = connection.as_mut() => return,
                    _ = stopping.changed(), if phase != Phase::Draining => {
                        if phase == Phase::Serving {
                            connection.as_mut().graceful_shutdown();
                        }
                        phase = Phase::Draining;
                    }
                    // A request began or the last one ended: the clock is set again below.
                    () = activity.changed.notified(), if phase == Phase::Serving => {}
                    () = tokio::time::sleep_until(deadline), if phase != Phase::Draining => {
                        if phase == Phase::ClosingIdle {
                            return;
                        }
                    }
                }
                if phase == Phase::Serving {
                    match activity.due(&options) {
                        Due::At(next) => deadline = next,
                        // Nothing whole was ever asked: there is nothing to finish.
                        Due::Silent => return,
                        Due::Idle => {
                            connection.as_mut().graceful_shutdown();
                            phase = Phase::ClosingIdle;
                            deadline = Instant::now() + options.header_read_timeout;
                        }
                    }
                }
            }
        });
    }

    drop(listener);
    tracing::info!(grace_seconds = options.shutdown_grace.as_secs_f64(), "shutting down: finishing in-flight requests");
    let _ = stop.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    match tokio::time::timeout(options.shutdown_grace, drained).await {
        Ok(()) => tracing::info!("all connections closed"),
        Err(_) => {
            tracing::warn!(connections = connections.len(), "grace period over: closing the remaining connections");
            connections.shutdown().await;
        }
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Idle too long: asked to close, and dropped if it does not within the header-read timeout.
    ClosingIdle,
    /// The server is shutting down: it finishes within the server's grace period.
    Draining,
}

/// What a connection's clock says.
enum Due {
    /// Look again then.
    At(Instant),
    /// No request came within the header-read timeout of accept.
    Silent,
    /// No request in progress for the idle timeout.
    Idle,
}

/// The requests of one connection: how many are in progress, whether any came, since when idle.
struct Activity {
    state: Mutex<ActivityState>,
    /// Told when a request begins or the last one ends.
    changed: Notify,
}

struct ActivityState {
    accepted: Instant,
    in_progress: usize,
    served: bool,
    idle_since: Instant,
}

impl Activity {
    fn new(accepted: Instant) -> Self {
        let state = ActivityState { accepted, in_progress: 0, served: false, idle_since: accepted };
        Self { state: Mutex::new(state), changed: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().expect("a connection's activity is never poisoned")
    }

    fn begin(self: &Arc<Self>) -> InProgress {
        let mut state = self.lock();
        state.in_progress += 1;
        state.served = true;
        self.changed.notify_one();
        InProgress(self.clone())
    }

    fn due(&self, options: &ServeOptions) -> Due {
        let state = self.lock();
        let now = Instant::now();
        if !state.served {
            let limit = state.accepted + options.header_read_timeout;
            return if now >= limit { Due::Silent } else { Due::At(limit) };
        }
        if state.in_progress > 0 {
            // Told when the last one ends; looked at now and then regardless.
            return Due::At(now + options.idle_timeout);
        }
        let limit = state.idle_since + options.idle_timeout;
        if now >= limit { Due::Idle } else { Due::At(limit) }
    }
}

/// One request in progress, until dropped.
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_progress = state.in_progress.saturating_sub(1);
        if state.in_progress == 0 {
            state.idle_since = Instant::now();
            self.0.changed.notify_one();
        }
    }
}

/// A response body that keeps its request in progress until it is sent or dropped.
struct Tracked {
    body: Body,
    _in_progress: InProgress,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection holding its place under the connection cap, wherever it goes (a WebSocket too).
struct Counted {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The address the server is reached on, for handlers that need the client's socket address.
pub type ClientAddr = ConnectInfo<SocketAddr>;
