//! Following the organisation's alerts live, over server-sent events (`/api/v1/alerts/events`)
//! or a WebSocket (`/api/v1/alerts/stream`): every alert as it is raised or changes (grows,
//! is acknowledged, resolved). A new follower gets nothing old: it starts with what changes after
//! it subscribed (the dashboard reads `/api/v1/alerts/recent` for the past).
//!
//! The followers of one organisation share one reader (`live::feeds`): it starts with the first
//! follower, ends with the last, and hands every alert to all of them through a broadcast
//! channel, so the database is read once per organisation however many follow it. A follower too
//! slow to keep up is closed (it reconnects and reads `/api/v1/alerts/recent`), never stalls the
//! others. Each stream is counted and its caller checked again while it runs (`live::access`).
//!
//! The reader reads from the database whenever the store's notices say the organisation's alerts
//! changed, and every few seconds anyway. It reads the
//! alerts changed since the latest change it saw, page by page in the order they changed. An
//! alert's `updated_at` is the writer's clock, taken before its transaction commits, so a commit
//! may become visible after a later-stamped one: each read looks back [`LOOKBACK`] before the
//! latest change seen and skips what it already sent, so such an alert is sent late, not lost.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use futures_util::{Stream, StreamExt, stream};
use rampart_core::watch::Alert;
use rampart_core::{AlertId, OrgId};
use rampart_store::{Change, Store, StoreError};
use serde::Serialize;
use tokio::sync::broadcast;

use super::dto::AlertView;
use crate::auth::StreamCaller;
use crate::error::{ApiError, Problem};
use crate::live::feeds::{Feeds, Reader};
use crate::{AppState, live};

/// How far before the latest change seen each read starts again.
const LOOKBACK: Duration = Duration::seconds(10);
/// Alerts read at once; a full page is followed by the next at once.
const PAGE: u32 = 200;

#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
enum Update {
    Alert(Box<AlertView>),
}

struct Follow {
    store: Arc<dyn Store>,
    changes: broadcast::Receiver<Change>,
    org: OrgId,
    /// The latest `updated_at` seen (at first, when the follower subscribed).
    latest: DateTime<Utc>,
    /// What was sent (or was already there at the start) within the look-back: id → `updated_at`.
    seen: HashMap<AlertId, DateTime<Utc>>,
    pending: VecDeque<Alert>,
}

impl Follow {
    /// Reads what changed since the look-back before the latest change seen; queues what is new
    /// when `send`, else only remembers it.
    async fn read(&mut self, send: bool) -> Result<(), StoreError> {
        let mut after = (self.latest - LOOKBACK, None);
        loop {
            let page = self.store.watch().alerts_changed_since(self.org, after, PAGE).await?;
            let full = page.len() == PAGE as usize;
            for alert in page {
                after = (alert.updated_at, Some(alert.id));
                self.latest = self.latest.max(alert.updated_at);
                if self.seen.get(&alert.id).is_some_and(|seen| *seen >= alert.updated_at) {
                    continue;
                }
                self.seen.insert(alert.id, alert.updated_at);
                if send {
                    self.pending.push_back(alert);
                }
            }
            if !full {
                break;
            }
        }
        let horizon = self.latest - LOOKBACK;
        self.seen.retain(|_, updated_at| *updated_at >= horizon);
        Ok(())
    }
}

/// The readers of the organisations followed, one each.
pub(crate) type AlertFeeds = Feeds<OrgId, Alert>;

/// The organisation's alerts as they are raised or change, from now on; ends only if the follower
/// falls too far behind.
async fn follow(app: &AppState, org: OrgId) -> impl Stream<Item = Update> + Send + use<> {
    let store = app.store.clone();
    let (feed, alerts) = app.alert_feeds.follow(org, move |reader| read(store, org, reader)).await;
    stream::unfold((feed, alerts), |(feed, mut alerts)| async move {
        match alerts.recv().await {
            Ok(alert) => Some((Update::Alert(Box::new(alert.into())), (feed, alerts))),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "a live follower of alerts fell behind: closing it");
                None
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// Reads the organisation's changed alerts and hands each to every follower; runs until aborted.
async fn read(store: Arc<dyn Store>, org: OrgId, reader: Reader<Alert>) {
    // Subscribed before the first read, so no change can fall between the two.
    let changes = store.subscribe().await;
    let latest = store.clock().now();
    let mut follow = Follow { store, changes, org, latest, seen: HashMap::new(), pending: VecDeque::new() };
    // What changed just before is not news; a failed read leaves it to be sent.
    let _ = follow.read(false).await;
    let _ = reader.ready.send(true);
    loop {
        live::next_read(&mut follow.changes, Change::Alerts(follow.org)).await;
        // A failed read is tried again at the next notice or period: the streams stay open.
        let _ = follow.read(true).await;
        for alert in follow.pending.drain(..) {
            // No follower at this instant is not an error: the last one is leaving.
            let _ = reader.sender.send(alert);
        }
    }
}

/// The organisation's alerts live, as server-sent `alert` events carrying the alert.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/events",
    tag = "alerts",
    security(("bearer" = ["viewer"])),
    responses(
        (status = 200, description = "A text/event-stream of `alert` events, each an alert raised or changed since subscribing; it ends when the caller's access does (checked again periodically)", content_type = "text/event-stream", body = String),
        (status = 429, description = "Too many live streams open for this user or key, or on the server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    caller: StreamCaller,
    State(app): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let access = app.streams.open(&caller, &app.identity)?;
    let updates = access.guard(follow(&app, caller.principal.org).await);
    let events = updates.map(|Update::Alert(alert)| {
        Ok(Event::default().event("alert").data(serde_json::to_string(&alert).unwrap_or_default()))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The same over a WebSocket: one JSON message per alert, `{"type": "alert", "data": …}`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/stream",
    tag = "alerts",
    security(("bearer" = ["viewer"])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not an upgrade request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many live streams open for this user or key, or on the server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stream(
    caller: StreamCaller,
    State(app): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = live::upgrade(upgrade)?;
    let access = app.streams.open(&caller, &app.identity)?;
    // Following starts before the answer, so nothing raised after the upgrade can be missed.
    let updates = access.guard(follow(&app, caller.principal.org).await);
    Ok(upgrade.on_upgrade(move |socket| live::send_json(socket, updates)).into_response())
}
