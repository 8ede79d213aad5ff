//! The honeypots people already run, reporting as they already can: OpenCanary through its
//! webhook logger (`POST /api/v1/ingest/opencanary`, with `X-Node-Key`), Cowrie through its
//! Splunk output (`POST /services/collector/event` and the other paths of Splunk's HTTP Event
//! Collector, with `Authorization: Splunk <node key>`). Each body is read by core
//! (`watch::opencanary`, `watch::cowrie`) and ingested as `/api/v1/ingest/events` is, through the
//! same `Watch::ingest`; each answers as its client expects.
//!
//! As on every sensor route, the key is checked from the headers before a byte of the body is
//! read, and every refused key is audited and limited by address ([`Watch::authenticate`]).
//!
//! [`Watch::authenticate`]: rampart_watch::Watch::authenticate

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::watch::cowrie::{HecError, read_hec};
use rampart_core::watch::opencanary::{Webhook, WebhookEncoding, WebhookError, read_webhook};
use rampart_watch::{NodeRefusal, WatchError};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{AcceptedView, IngestView, RejectedView};
use super::ingest::{Sensor, field_errors, media_type, read_body, refuse_if_empty};
use crate::AppState;
use crate::auth::Context;
use crate::error::{ApiError, Problem};
use crate::middleware::OwnAnswer;

/// The scheme of Splunk's HEC tokens in `Authorization`.
const SPLUNK_SCHEME: &str = "Splunk";

/// Take one OpenCanary event as its webhook logger sends it: by default a form whose `message`
/// is the event's JSON; with a JSON content type, `{"message": "<the event's JSON>"}` or the
/// event itself. Its `logtype` names the service and activity, its `logdata` is kept as the
/// payload, its credentials as the event's. An event without a visitor (OpenCanary's own boot
/// and status messages) is answered 200 with nothing accepted.
#[utoipa::path(
    post,
    path = "/api/v1/ingest/opencanary",
    tag = "ingest",
    params(("X-Node-Key" = String, Header, description = "The node's key, `nk_…`")),
    request_body(content = Object, description = "OpenCanary's event; `{\"message\": \"<its JSON>\"}`; or, as `application/x-www-form-urlencoded`, a form with the event's JSON as `message`",
        example = json!({"message": "{\"dst_host\": \"10.0.0.5\", \"dst_port\": 22, \"logdata\": {\"PASSWORD\": \"123456\", \"USERNAME\": \"root\"}, \"logtype\": 4002, \"node_id\": \"opencanary-1\", \"src_host\": \"203.0.113.7\", \"src_port\": 51234, \"utc_time\": \"2026-11-24 20:00:00.000000\"}"})),
    responses(
        (status = 200, description = "Committed, with its score; an event without a visitor is taken with nothing to commit", body = IngestView),
        (status = 400, description = "Not JSON, or not a form", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No OpenCanary event, or one with bad fields, each named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn opencanary(
    State(app): State<AppState>,
    Sensor { node, .. }: Sensor,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestView>, ApiError> {
    let encoding = match media_type(&headers).as_str() {
        "application/x-www-form-urlencoded" => WebhookEncoding::Form,
        _ => WebhookEncoding::Json,
    };
    let input = match read_webhook(encoding, &read_body(body).await?) {
        Ok(Webhook::Event(input)) => *input,
        Ok(Webhook::WithoutSource { .. }) => {
            return Ok(Json(IngestView { accepted: Vec::new(), rejected: Vec::new() }));
        }
        Err(WebhookError::Malformed(message)) => return Err(ApiError::BadRequest(message)),
        Err(WebhookError::Invalid(errors)) => return Err(errors.into()),
    };
    let mut ingested = app.watch.ingest(&node, vec![Ok(input)]).await?;
    app.metrics.events_ingested(ingested.accepted.len(), ingested.rejected.len());
    refuse_if_empty(&mut ingested, true)?;
    Ok(Json(IngestView {
        accepted: ingested.accepted.into_iter().map(AcceptedView::from).collect(),
        rejected: Vec::new(),
    }))
}

/// An answer of Splunk's HTTP Event Collector: `code` 0 is success; the others are HEC's own.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"text": "Success", "code": 0}))]
pub struct HecAnswer {
    #[schema(example = "Success")]
    pub text: &'static str,
    /// HEC's status code: 0 success, 1 token disabled, 2 token required, 3 invalid
    /// authorization, 4 invalid token, 5 no data, 6 invalid data format, 12 event field
    /// required, 13 event field blank.
    pub code: u8,
    /// The entry (from 0) a refused body failed at.
    #[serde(rename = "invalid-event-number", skip_serializing_if = "Option::is_none")]
    pub invalid_event_number: Option<usize>,
    /// Events of a taken body that were refused, each with its fields (absent when none was).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedView>,
}

/// A refusal in HEC's words, or any other error as the rest of the API answers it.
pub enum HecRefusal {
    Hec(StatusCode, HecAnswer),
    Api(ApiError),
}

impl HecRefusal {
    fn hec(status: StatusCode, code: u8, text: &'static str, invalid_event_number: Option<usize>) -> Self {
        Self::Hec(status, HecAnswer { text, code, invalid_event_number, rejected: Vec::new() })
    }
}

impl From<ApiError> for HecRefusal {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl IntoResponse for HecRefusal {
    fn into_response(self) -> Response {
        match self {
            Self::Hec(status, answer) => {
                let mut response = (status, Json(answer)).into_response();
                response.extensions_mut().insert(OwnAnswer);
                response
            }
            Self::Api(error) => error.into_response(),
        }
    }
}

/// A sensor authenticated by the node key it sends as a Splunk HEC token
/// (`Authorization: Splunk <node key>`), from the headers alone, before the body is read. A
/// missing or other credential is 401 as HEC answers it; a key no node has, or an inactive
/// node's, 403 (both audited and limited, as on every sensor route).
pub struct HecSensor(pub Sensor);

impl FromRequestParts<AppState> for HecSensor {
    type Rejection = HecRefusal;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(HecRefusal::hec(StatusCode::UNAUTHORIZED, 2, "Token is required", None));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(SPLUNK_SCHEME))
            .map(|(_, key)| key.trim())
            .filter(|key| !key.is_empty())
            .map(str::to_owned);
        let Some(key) = key else {
            return Err(HecRefusal::hec(StatusCode::UNAUTHORIZED, 3, "Invalid authorization", None));
        };
        let Context(context) = Context::from_request_parts(parts, app).await?;
        match app.watch.authenticate(&key, &context).await {
            Ok(node) => Ok(HecSensor(Sensor { node, context })),
            Err(WatchError::Refused(NodeRefusal::Inactive)) => {
                Err(HecRefusal::hec(StatusCode::FORBIDDEN, 1, "Token disabled", None))
            }
            Err(WatchError::Refused(_)) => Err(HecRefusal::hec(StatusCode::FORBIDDEN, 4, "Invalid token", None)),
            Err(error) => Err(ApiError::from(error).into()),
        }
    }
}

fn hec_refused(error: HecError) -> HecRefusal {
    match error {
        HecError::NoData => HecRefusal::hec(StatusCode::BAD_REQUEST, 5, "No data", None),
        HecError::InvalidFormat { index } => {
            HecRefusal::hec(StatusCode::BAD_REQUEST, 6, "Invalid data format", Some(index))
        }
        HecError::EventRequired { index } => {
            HecRefusal::hec(StatusCode::BAD_REQUEST, 12, "Event field is required", Some(index))
        }
        HecError::EventBlank { index } => {
            HecRefusal::hec(StatusCode::BAD_REQUEST, 13, "Event field cannot be blank", Some(index))
        }
        HecError::TooMany => HecRefusal::Api(ApiError::PayloadTooLarge),
    }
}

/// Reads Cowrie's HEC entries and ingests them; the answer is HEC's. Refused events are named by
/// their entry's place in the body.
async fn collect(
    app: &AppState,
    HecSensor(Sensor { node, .. }): HecSensor,
    body: Body,
) -> Result<Json<HecAnswer>, HecRefusal> {
    let read = read_hec(&read_body(body).await?).map_err(hec_refused)?;
    if read.events.is_empty() {
        // Only Cowrie's own operational events: taken, with nothing to score.
        return Ok(Json(HecAnswer { text: "Success", code: 0, invalid_event_number: None, rejected: Vec::new() }));
    }
    let (places, events): (Vec<usize>, Vec<_>) = read.events.into_iter().unzip();
    let ingested = app.watch.ingest(&node, events).await.map_err(ApiError::from)?;
    app.metrics.events_ingested(ingested.accepted.len(), ingested.rejected.len());
    let rejected: Vec<RejectedView> = ingested
        .rejected
        .into_iter()
        .map(|(index, errors)| RejectedView {
            index: places.get(index).copied().unwrap_or(index),
            errors: field_errors(errors),
        })
        .collect();
    if ingested.accepted.is_empty() {
        let first = rejected.first().map_or(0, |rejected| rejected.index);
        return Err(HecRefusal::Hec(
            StatusCode::BAD_REQUEST,
            HecAnswer { text: "Invalid data format", code: 6, invalid_event_number: Some(first), rejected },
        ));
    }
    Ok(Json(HecAnswer { text: "Success", code: 0, invalid_event_number: None, rejected }))
}

/// Take Cowrie's events as its Splunk output sends them: one HEC entry
/// (`{"event": {…}, "sourcetype": …, "time": …}`) or up to 1,000 written one after another.
/// `eventid` names the activity (`cowrie.login.failed`, `cowrie.command.input`…), `protocol` the
/// service; credentials, commands, downloads and client versions are kept. The answer is HEC's.
#[utoipa::path(
    post,
    path = "/services/collector/event",
    tag = "ingest",
    params(("Authorization" = String, Header, description = "`Splunk <node key>`: the node's key as an HEC token")),
    request_body(content = Object, description = "One HEC entry or several concatenated, each with Cowrie's event as `event`",
        example = json!({"event": {"eventid": "cowrie.login.failed", "src_ip": "203.0.113.7", "src_port": 51234, "dst_port": 2222,
                                   "protocol": "ssh", "username": "root", "password": "123456", "session": "a1b2c3d4",
                                   "timestamp": "2026-11-24T20:00:00.000000Z", "sensor": "cowrie-1"},
                         "sourcetype": "cowrie", "host": "cowrie-1"})),
    responses(
        (status = 200, description = "Committed (HEC code 0); events refused among others are named", body = HecAnswer),
        (status = 400, description = "No data (5), not HEC entries (6), an entry without its event (12) or with a blank one (13), or no valid event (6)", body = HecAnswer),
        (status = 401, description = "No `Authorization` (2), or not `Splunk <key>` (3)", body = HecAnswer),
        (status = 403, description = "A key no node has (4), or an inactive node's (1)", body = HecAnswer),
        (status = 413, description = "More than 1,000 entries, or too large a body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This address sent too many refused node keys: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn collector_event(
    State(app): State<AppState>,
    sensor: HecSensor,
    body: Body,
) -> Result<Json<HecAnswer>, HecRefusal> {
    collect(&app, sensor, body).await
}

/// As `/services/collector/event`: HEC's versioned path.
#[utoipa::path(
    post,
    path = "/services/collector/event/1.0",
    tag = "ingest",
    params(("Authorization" = String, Header, description = "`Splunk <node key>`: the node's key as an HEC token")),
    request_body(content = Object, description = "One HEC entry or several concatenated, each with Cowrie's event as `event`"),
    responses(
        (status = 200, description = "Committed (HEC code 0); events refused among others are named", body = HecAnswer),
        (status = 400, description = "No data (5), not HEC entries (6), an entry without its event (12) or with a blank one (13), or no valid event (6)", body = HecAnswer),
        (status = 401, description = "No `Authorization` (2), or not `Splunk <key>` (3)", body = HecAnswer),
        (status = 403, description = "A key no node has (4), or an inactive node's (1)", body = HecAnswer),
        (status = 413, description = "More than 1,000 entries, or too large a body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This address sent too many refused node keys: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn collector_event_1_0(
    State(app): State<AppState>,
    sensor: HecSensor,
    body: Body,
) -> Result<Json<HecAnswer>, HecRefusal> {
    collect(&app, sensor, body).await
}

/// As `/services/collector/event`: HEC's path for JSON events.
#[utoipa::path(
    post,
    path = "/services/collector",
    tag = "ingest",
    params(("Authorization" = String, Header, description = "`Splunk <node key>`: the node's key as an HEC token")),
    request_body(content = Object, description = "One HEC entry or several concatenated, each with Cowrie's event as `event`"),
    responses(
        (status = 200, description = "Committed (HEC code 0); events refused among others are named", body = HecAnswer),
        (status = 400, description = "No data (5), not HEC entries (6), an entry without its event (12) or with a blank one (13), or no valid event (6)", body = HecAnswer),
        (status = 401, description = "No `Authorization` (2), or not `Splunk <key>` (3)", body = HecAnswer),
        (status = 403, description = "A key no node has (4), or an inactive node's (1)", body = HecAnswer),
        (status = 413, description = "More than 1,000 entries, or too large a body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This address sent too many refused node keys: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn collector(
    State(app): State<AppState>,
    sensor: HecSensor,
    body: Body,
) -> Result<Json<HecAnswer>, HecRefusal> {
    collect(&app, sensor, body).await
}
