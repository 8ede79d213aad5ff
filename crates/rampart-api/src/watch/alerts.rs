//! `/api/v1/alerts`: what the scores raised, grouped by source and attack type; analysts move
//! them along `open → acknowledged → resolved`.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use rampart_core::watch::{AlertStatus, Event, EventDetail};
use rampart_core::{AlertId, NodeId, ValidationErrors};
use rampart_store::{AlertFilter, EventFilter, Seek};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{AlertView, ReasonView};
use crate::auth::{Analyst, Caller, Context};
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery, parse_filter, time_filter};
use crate::{ApiJson, ApiQuery, AppState};

/// Most events shown with an alert.
const ALERT_EVENTS: u32 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// `open`, `acknowledged` or `resolved`.
    #[param(schema_with = crate::schemas::alert_statuses)]
    pub status: Option<String>,
    /// Alerts whose highest score is at least this.
    #[param(minimum = 0, maximum = 10)]
    pub min_score: Option<f64>,
    /// Alerts raised by this source address.
    #[param(schema_with = crate::schemas::ip_address)]
    pub source_ip: Option<String>,
    /// The node of the event that raised it.
    pub node: Option<Uuid>,
    /// Last seen at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

impl AlertQuery {
    pub(crate) fn filter(&self) -> Result<AlertFilter, ApiError> {
        let mut errors = ValidationErrors::new();
        if self.min_score.is_some_and(|score| !(0.0..=10.0).contains(&score)) {
            errors.add("min_score", "must be from 0 to 10");
        }
        let source_ip = self.source_ip.as_deref().and_then(|ip| {
            errors.check("source_ip", ip.parse().map_err(|_| "must be an IPv4 or IPv6 address".to_owned()))
        });
        if !errors.is_empty() {
            return Err(errors.into());
        }
        Ok(AlertFilter {
            status: parse_filter::<AlertStatus>("status", self.status.as_deref())?,
            min_score: self.min_score,
            source_ip,
            node_id: self.node.map(NodeId::from_uuid),
            since: time_filter("since", self.since)?,
        })
    }
}

/// The organisation's alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    security(("bearer" = ["viewer"])),
    params(AlertQuery),
    responses(
        (status = 200, description = "A page of alerts", body = Page<AlertView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<AlertQuery>,
) -> Result<Json<Page<AlertView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let filter = query.filter()?;
    let alerts = app.store.watch().alerts(caller.org, &filter, asked.seek()).await?;
    Ok(Json(asked.page(alerts, AlertView::from, |alert| alert.id)))
}

/// An event as an alert shows it.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    pub node_id: Option<Uuid>,
    /// `honeypot`, `agent` or `decoy`.
    pub kind: &'static str,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub source_port: Option<u16>,
    pub destination_port: Option<u16>,
    pub service: String,
    pub activity: Option<String>,
    pub payload: Option<String>,
    pub usernames: Vec<String>,
    pub hostname: Option<String>,
    pub username: Option<String>,
    pub process: Option<String>,
    pub file_path: Option<String>,
    pub action: Option<String>,
    pub decoy_name: Option<String>,
    pub decoy_type: Option<String>,
    pub score: f64,
    pub attack_type: String,
    pub reasons: Vec<ReasonView>,
    pub scorer: String,
}

impl From<Event> for EventView {
    fn from(stored: Event) -> Self {
        let service = stored.event.service().to_owned();
        let kind = stored.event.kind().as_str();
        let mut view = Self {
            id: stored.id.as_uuid(),
            node_id: stored.node_id.map(|id| id.as_uuid()),
            kind,
            occurred_at: stored.event.occurred_at,
            received_at: stored.received_at,
            source_ip: stored.event.source_ip.map(|ip| ip.to_string()),
            service,
            score: stored.score.score,
            attack_type: stored.score.attack_type,
            reasons: stored.score.reasons.into_iter().map(ReasonView::from).collect(),
            scorer: stored.scorer,
            ..Self::default()
        };
        match stored.event.detail {
            // Passwords tried are kept, but not shown in lists: they may be someone's real ones.
            EventDetail::Honeypot { source_port, destination_port, activity, payload, usernames, .. } => {
                view.source_port = source_port;
                view.destination_port = destination_port;
                view.activity = Some(activity);
                view.payload = Some(payload);
                view.usernames = usernames;
            }
            EventDetail::Agent { hostname, username, process, file_path, action } => {
                view.hostname = Some(hostname);
                view.username = username;
                view.process = process;
                view.file_path = file_path;
                view.action = Some(action);
            }
            EventDetail::Decoy { name, decoy_type, hostname, username, file_path, action } => {
                view.decoy_name = Some(name);
                view.decoy_type = Some(decoy_type);
                view.hostname = hostname;
                view.username = username;
                view.file_path = file_path;
                view.action = action;
            }
        }
        view
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertWithEvents {
    #[serde(flatten)]
    pub alert: AlertView,
    /// Its latest events, at most 100.
    pub recent_events: Vec<EventView>,
}

/// One alert with its latest events.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert", body = AlertWithEvents),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<AlertId>,
) -> Result<Json<AlertWithEvents>, ApiError> {
    let alert = app.store.watch().alert(caller.org, id).await?;
    let filter = EventFilter { alert_id: Some(id), ..EventFilter::default() };
    let events = app.store.watch().events(caller.org, &filter, Seek::first(ALERT_EVENTS)).await?;
    Ok(Json(AlertWithEvents { alert: alert.into(), recent_events: events.into_iter().map(EventView::from).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "acknowledged", "note": "looking into it"}))]
pub struct AlertPatchBody {
    /// `open`, `acknowledged` or `resolved`.
    #[schema(schema_with = crate::schemas::alert_statuses)]
    pub status: String,
    /// Why, for the record (at most 1,000 characters).
    #[serde(default)]
    #[schema(schema_with = crate::schemas::note)]
    pub note: String,
}

/// Acknowledge, resolve or reopen an alert (analysts); audited.
#[utoipa::path(
    patch,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    security(("bearer" = ["analyst"])),
    params(("id" = Uuid, Path, description = "The alert's id")),
    request_body = AlertPatchBody,
    responses(
        (status = 200, description = "The alert as changed", body = AlertView),
    )
)]
pub async fn update(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<AlertId>,
    ApiJson(body): ApiJson<AlertPatchBody>,
) -> Result<Json<AlertView>, ApiError> {
    let mut errors = ValidationErrors::new();
    let status = errors.check("status", body.status.parse::<AlertStatus>());
    errors.check("note", rampart_core::validation::check_free_text(&body.note, rampart_core::targets::NOTE_MAX));
    let Some(status) = status.filter(|_| errors.is_empty()) else { return Err(errors.into()) };
    let alert = app.watch.set_alert_status(&caller.acting(context), id, status, &body.note).await?;
    Ok(Json(alert.into()))
}
