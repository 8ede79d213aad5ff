//! Following a run live, over server-sent events (`…/events`) or a WebSocket (`…/stream`): the
//! current state at once (so a late subscriber starts from where the run is), then every change
//! and every new log line, ending after the final state. A follower reads the run from the
//! database again whenever the store's change notices say it changed (PostgreSQL's
//! `LISTEN/NOTIFY` when several servers share it), so any server can stream any run, whichever
//! worker runs it; it also reads again every few seconds, so a lost notice costs only latency.
//! Each stream is counted and its caller checked again while it runs (`live::access`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, stream};
use rampart_core::{ExecutionId, OrgId};
use rampart_store::{Change, Store};
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{ExecutionView, LogLineView};
use crate::auth::StreamCaller;
use crate::error::{ApiError, Problem};
use crate::{AppState, live};

#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
enum Update {
    State(Box<ExecutionView>),
    Log(LogLineView),
}

struct Follow {
    store: Arc<dyn Store>,
    changes: broadcast::Receiver<Change>,
    org: OrgId,
    id: ExecutionId,
    seen: Option<DateTime<Utc>>,
    after: u32,
    pending: VecDeque<Update>,
    ended: bool,
}

/// The updates of a run, from its current state to its end.
async fn follow(store: Arc<dyn Store>, org: OrgId, id: ExecutionId) -> impl Stream<Item = Update> + Send {
    // Subscribed before the first read, so no change can fall between the two.
    let changes = store.subscribe().await;
    let start = Follow { store, changes, org, id, seen: None, after: 0, pending: VecDeque::new(), ended: false };
    stream::unfold(start, |mut follow| async move {
        loop {
            if let Some(update) = follow.pending.pop_front() {
                return Some((update, follow));
            }
            if follow.ended {
                return None;
            }
            let Ok(run) = follow.store.executions().get(follow.org, follow.id).await else { return None };
            let lines =
                follow.store.executions().logs(follow.org, follow.id, follow.after, 500).await.unwrap_or_default();
            for line in lines {
                follow.after = line.seq;
                follow.pending.push_back(Update::Log(line.into()));
            }
            if follow.seen != Some(run.updated_at) {
                follow.seen = Some(run.updated_at);
                follow.ended = run.status.is_final();
                follow.pending.push_back(Update::State(Box::new(run.into())));
            }
            if follow.pending.is_empty() {
                live::next_read(&mut follow.changes, Change::Execution(follow.id)).await;
            }
        }
    })
}

/// A run's progress as server-sent events: `state` (the run) and `log` (a line), until it ends.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}/events",
    tag = "executions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 200, description = "A text/event-stream of `state` and `log` events; the first is the current state. It ends after the final state, or when the caller's access does (checked again periodically)", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such run in this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many live streams open for this user or key, or on the server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    caller: StreamCaller,
    State(app): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = ExecutionId::from_uuid(id);
    let org = caller.principal.org;
    app.store.executions().get(org, id).await?;
    let access = app.streams.open(&caller, &app.identity)?;
    let events = access.guard(follow(app.store.clone(), org, id).await).map(|update| {
        let (name, data) = match &update {
            Update::State(run) => ("state", serde_json::to_string(run)),
            Update::Log(line) => ("log", serde_json::to_string(line)),
        };
        Ok(Event::default().event(name).data(data.unwrap_or_default()))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The same over a WebSocket: one JSON message per update, `{"type": "state" | "log", "data": …}`.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}/stream",
    tag = "executions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 404, description = "No such run in this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many live streams open for this user or key, or on the server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stream(
    caller: StreamCaller,
    State(app): State<AppState>,
    Path(id): Path<Uuid>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let id = ExecutionId::from_uuid(id);
    let org = caller.principal.org;
    // The run first: another organisation's run is a 404 whatever the request looks like.
    app.store.executions().get(org, id).await?;
    let upgrade: WebSocketUpgrade = live::upgrade(upgrade)?;
    let access = app.streams.open(&caller, &app.identity)?;
    let store = app.store.clone();
    Ok(upgrade
        .on_upgrade(
            move |socket| async move { live::send_json(socket, access.guard(follow(store, org, id).await)).await },
        )
        .into_response())
}
