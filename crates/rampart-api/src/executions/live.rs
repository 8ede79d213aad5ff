//! Following a run live, over server-sent events (`…/events`) or a WebSocket (`…/stream`): the
//! current state at once (so a late subscriber starts from where the run is), then every change
//! and every new log line, ending after the final state. The followers of one run share one
//! reader (`live::feeds`), which reads the run from the database again whenever the store's
//! change notices say it changed (PostgreSQL's `LISTEN/NOTIFY` when several servers share it), so
//! any server can stream any run, whichever worker runs it; it also reads again every few
//! seconds, so a lost notice costs only latency. A follower reads once itself, for where the run
//! is when it starts, then takes what the reader hands out.
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
use rampart_core::executions::{Execution, LogLine};
use rampart_core::{ExecutionId, OrgId};
use rampart_store::{Change, Store, StoreError};
use serde::Serialize;
use tokio::sync::broadcast;

use super::{ExecutionView, LogLineView};
use crate::auth::StreamCaller;
use crate::error::{ApiError, Problem};
use crate::live::feeds::{Feed, Feeds, Reader};
use crate::{AppState, live};

#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
enum Update {
    State(Box<ExecutionView>),
    Log(LogLineView),
}

/// Log lines read at once; a full page is followed by the next at once.
const PAGE: u32 = 500;

/// The readers of the runs followed, one each.
pub(crate) type RunFeeds = Feeds<(OrgId, ExecutionId), Progress>;

/// What a reader of a run found new.
#[derive(Clone, Debug)]
pub(crate) enum Progress {
    State(Box<Execution>),
    Log(LogLine),
}

impl From<Progress> for Update {
    fn from(progress: Progress) -> Self {
        match progress {
            Progress::State(run) => Update::State(Box::new((*run).into())),
            Progress::Log(line) => Update::Log(line.into()),
        }
    }
}

/// How far a reader of a run has come: the last log line and the state it has.
#[derive(Default)]
struct Position {
    after: u32,
    seen: Option<DateTime<Utc>>,
    ended: bool,
}

impl Position {
    /// Reads what is new since this position: the log lines, then the state if it changed. The
    /// run is read first, so a final state comes with every line written before it.
    async fn read(&mut self, store: &dyn Store, org: OrgId, id: ExecutionId) -> Result<Vec<Progress>, StoreError> {
        let run = store.executions().get(org, id).await?;
        let mut news = Vec::new();
        loop {
            let lines = store.executions().logs(org, id, self.after, PAGE).await?;
            let full = lines.len() == PAGE as usize;
            for line in lines {
                self.after = line.seq;
                news.push(Progress::Log(line));
            }
            if !full {
                break;
            }
        }
        if self.seen.is_none_or(|seen| run.updated_at > seen) {
            self.seen = Some(run.updated_at);
            self.ended = run.status.is_final();
            news.push(Progress::State(Box::new(run)));
        }
        Ok(news)
    }

    /// Whether `progress` from the shared reader is news here; taken in if it is.
    fn take(&mut self, progress: &Progress) -> bool {
        match progress {
            Progress::Log(line) if line.seq > self.after => {
                self.after = line.seq;
                true
            }
            Progress::State(run) if self.seen.is_none_or(|seen| run.updated_at > seen) => {
                self.seen = Some(run.updated_at);
                self.ended = run.status.is_final();
                true
            }
            _ => false,
        }
    }
}

/// Reads the run whenever it changes and hands what is new to every follower, until it ends.
async fn read(store: Arc<dyn Store>, org: OrgId, id: ExecutionId, reader: Reader<Progress>) {
    // Subscribed before the first read, so no change can fall between the two.
    let mut changes = store.subscribe().await;
    let mut position = Position::default();
    // Where the run is now is not news: each follower reads that itself. A failed read leaves it
    // to be sent.
    let _ = position.read(store.as_ref(), org, id).await;
    let _ = reader.ready.send(true);
    while !position.ended {
        live::next_read(&mut changes, Change::Execution(id)).await;
        // A failed read is tried again at the next notice or period: the streams stay open.
        for progress in position.read(store.as_ref(), org, id).await.unwrap_or_default() {
            // No follower at this instant is not an error: the last one is leaving.
            let _ = reader.sender.send(progress);
        }
    }
}

struct Follow {
    store: Arc<dyn Store>,
    org: OrgId,
    id: ExecutionId,
    /// Held while following, so the shared reader runs.
    _feed: Arc<Feed<(OrgId, ExecutionId), Progress>>,
    progress: broadcast::Receiver<Progress>,
    position: Position,
    pending: VecDeque<Progress>,
}

/// The updates of a run, from its current state to its end.
async fn follow(app: &AppState, org: OrgId, id: ExecutionId) -> impl Stream<Item = Update> + Send + use<> {
    let store = app.store.clone();
    let reading = store.clone();
    let (feed, progress) = app.run_feeds.follow((org, id), move |reader| read(reading, org, id, reader)).await;
    // The follower's own read, after the reader has its starting point: together they miss nothing.
    let mut position = Position::default();
    let pending = match position.read(store.as_ref(), org, id).await {
        Ok(news) => news.into(),
        // Nothing read: the stream ends at once, as for a run that is gone.
        Err(_) => {
            position.ended = true;
            VecDeque::new()
        }
    };
    let start = Follow { store, org, id, _feed: feed, progress, position, pending };
    stream::unfold(start, |mut follow| async move {
        loop {
            if let Some(progress) = follow.pending.pop_front() {
                return Some((progress.into(), follow));
            }
            if follow.position.ended {
                return None;
            }
            match follow.progress.recv().await {
                Ok(progress) => {
                    if follow.position.take(&progress) {
                        follow.pending.push_back(progress);
                    }
                }
                // Too far behind the reader: read what was missed directly.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let Ok(news) = follow.position.read(follow.store.as_ref(), follow.org, follow.id).await else {
                        return None;
                    };
                    follow.pending.extend(news);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
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
        (status = 429, description = "Too many live streams open for this user or key, or on the server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    caller: StreamCaller,
    State(app): State<AppState>,
    Path(id): Path<ExecutionId>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let org = caller.principal.org;
    app.store.executions().get(org, id).await?;
    let access = app.streams.open(&caller, &app.identity)?;
    let events = access.guard(follow(&app, org, id).await).map(|update| {
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
        (status = 429, description = "Too many live streams open for this user or key, or on the server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stream(
    caller: StreamCaller,
    State(app): State<AppState>,
    Path(id): Path<ExecutionId>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let org = caller.principal.org;
    // The run first: another organisation's run is a 404 whatever the request looks like.
    app.store.executions().get(org, id).await?;
    let upgrade: WebSocketUpgrade = live::upgrade(upgrade)?;
    let access = app.streams.open(&caller, &app.identity)?;
    // Following starts before the answer: the stream starts where the run is at the upgrade.
    let updates = access.guard(follow(&app, org, id).await);
    Ok(upgrade.on_upgrade(move |socket| live::send_json(socket, updates)).into_response())
}
