//! The HTTP server: an accept loop over hyper that enforces a header-read timeout (hyper's needs a
//! timer to fire), passes the client address to handlers, and shuts down gracefully — stop
//! accepting, let in-flight requests finish within the grace period, then close what is left.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// A client must send its whole request head within this time, or the connection is closed.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run on after shutdown begins.
    pub shutdown_grace: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, app: Router, options: ServeOptions, shutdown: impl Future<Output = ()>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    // Owns every connection task, so that those still open after the grace period are ended.
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, remote) = tokio::select! {
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or similar: wait a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            app.clone().oneshot(request)
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            // A client that goes away or breaks the protocol ends only its own connection.
            let _ = connection.await;
        });
    }

    drop(listener);
    tracing::info!(grace_seconds = options.shutdown_grace.as_secs_f64(), "shutting down: finishing in-flight requests");
    match tokio::time::timeout(options.shutdown_grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("all connections closed"),
        Err(_) => {
            tracing::warn!(connections = connections.len(), "grace period over: closing the remaining connections");
            connections.shutdown().await;
        }
    }
}

/// The address the server is reached on, for handlers that need the client's socket address.
pub type ClientAddr = ConnectInfo<SocketAddr>;
