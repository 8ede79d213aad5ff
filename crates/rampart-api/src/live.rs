//! What the live streams share (a run's progress, an organisation's alerts): waiting for the
//! store's change notice that says "read again", with a fallback period so that a lost notice
//! costs only latency, and sending a stream of updates over a WebSocket until it ends or the
//! client goes. A notice never carries the new value: a reader reads the database.
//!
//! Every stream is counted and checked again while it runs ([`access`]).

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use futures_util::{Stream, StreamExt};
use rampart_store::Change;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::error::ApiError;

pub(crate) mod access;
pub(crate) mod feeds;

/// How long a follower waits for a notice before it reads again anyway.
pub(crate) const FALLBACK: Duration = Duration::from_secs(2);

/// Waits until `wanted` is announced, notices were missed, or the fallback period passed.
pub(crate) async fn next_read(changes: &mut broadcast::Receiver<Change>, wanted: Change) {
    let _ = tokio::time::timeout(FALLBACK, notice(changes, wanted)).await;
}

async fn notice(changes: &mut broadcast::Receiver<Change>, wanted: Change) {
    loop {
        match changes.recv().await {
            Ok(change) if change == wanted => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            // No more notices: the fallback reads remain.
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// The largest message (and frame) a client may send on a WebSocket; a larger one closes it.
pub(crate) const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// The upgrade of a WebSocket route, or a 400 for a plain request. What the client may send is
/// capped at [`MAX_CLIENT_MESSAGE`].
pub(crate) fn upgrade(
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    let upgrade =
        upgrade.map_err(|_| ApiError::BadRequest("this is a WebSocket endpoint: send an upgrade request".into()))?;
    Ok(upgrade.max_message_size(MAX_CLIENT_MESSAGE).max_frame_size(MAX_CLIENT_MESSAGE))
}

/// Sends every update as one JSON text message, then a close. Stops as soon as the client
/// closes or goes away, even while no update is due, so a quiet stream holds nothing for long.
pub(crate) async fn send_json<T: Serialize>(mut socket: WebSocket, updates: impl Stream<Item = T>) {
    futures_util::pin_mut!(updates);
    loop {
        tokio::select! {
            update = updates.next() => {
                let Some(update) = update else { break };
                let Ok(text) = serde_json::to_string(&update) else { break };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            message = socket.recv() => match message {
                // What the client sends is not read; pings are answered by the socket itself. A
                // message over the cap is an error: the socket is closed.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
