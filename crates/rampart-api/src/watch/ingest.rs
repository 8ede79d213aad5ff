//! Sensors report here with their node key (`X-Node-Key`): `POST /api/v1/ingest/events` takes one
//! event, a JSON array or NDJSON of up to 1,000; `POST /api/honeypot-log` and
//! `POST /api/agent-alert` take the single-event bodies deployed sensors already send, and answer
//! as the system they replace did. An answer is sent only once its events are committed.
//!
//! The key is checked from the headers before a byte of the body is read: a request without a
//! valid key is answered 401, 403 or 429 with its body unread. Only then is the body read, frame
//! by frame up to the route's limit, and its events read one by one (core's `read_batch`), never
//! into a tree of the whole body.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use rampart_core::ValidationErrors;
use rampart_core::identity::RequestContext;
use rampart_core::json::{self, JsonError};
use rampart_core::watch::{BatchError, BatchFormat, EventInput, EventKind, Node, read_batch};
use rampart_watch::Ingested;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::dto::{AcceptedView, IngestView, RejectedView};
use crate::AppState;
use crate::auth::Context;
use crate::error::{ApiError, FieldErrorView, Problem};

pub const NODE_KEY_HEADER: &str = "x-node-key";

/// Where sensors send events: batches, so `lib.rs` gives these routes a body limit of their own.
/// OpenCanary's and Cowrie's own bodies are read in `honeypots`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(events))
        .routes(routes!(honeypot_log))
        .routes(routes!(agent_alert))
        .routes(routes!(super::honeypots::opencanary))
        .routes(routes!(super::honeypots::collector_event))
        .routes(routes!(super::honeypots::collector_event_1_0))
        .routes(routes!(super::honeypots::collector))
}

fn node_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(NODE_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("send the node's key as X-Node-Key".into()))
}

/// A sensor, authenticated by the node key its request carries (`X-Node-Key`): the one way every
/// sensor route, whatever its body's format, learns which node is calling. It is taken from the
/// headers alone, so a request without a valid key is answered (401, 403, 429) with its body
/// unread; a handler reads the body only after this extractor has run.
pub struct Sensor {
    /// The node the key belongs to, active.
    pub node: Node,
    /// Who sent the request (address, request id), for the audit of what the node does.
    pub context: RequestContext,
}

impl FromRequestParts<AppState> for Sensor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let Context(context) = Context::from_request_parts(parts, app).await?;
        let node = app.watch.authenticate(node_key(&parts.headers)?, &context).await?;
        Ok(Sensor { node, context })
    }
}

/// The lower-cased media type of the body, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// How the events of the body are written, from its content type.
fn batch_format(headers: &HeaderMap) -> Result<BatchFormat, ApiError> {
    match media_type(headers).as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/json-seq" => Ok(BatchFormat::Ndjson),
        "application/json" => Ok(BatchFormat::Json),
        _ => Err(ApiError::UnsupportedMediaType(
            "send application/json (an event or an array of events) or application/x-ndjson".into(),
        )),
    }
}

/// Reads the body frame by frame. The route's body limit counts the bytes as they arrive: past
/// it the reading ends with a 413, so no more than the limit is ever held.
pub(crate) async fn read_body(body: Body) -> Result<Vec<u8>, ApiError> {
    let mut frames = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|error| {
            if is_over_limit(&error) {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        bytes.extend_from_slice(&frame);
    }
    Ok(bytes)
}

/// Whether a body's error is its limit's (the limit layer's error, however deeply wrapped).
fn is_over_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

fn batch_refused(error: BatchError) -> ApiError {
    match error {
        BatchError::Malformed(message) => ApiError::BadRequest(message),
        BatchError::TooMany => ApiError::PayloadTooLarge,
        BatchError::Empty => ValidationErrors::single("body", "holds no event").into(),
    }
}

pub(crate) fn field_errors(errors: ValidationErrors) -> Vec<FieldErrorView> {
    errors.into_iter().map(|error| FieldErrorView { field: error.field, message: error.message }).collect()
}

/// When nothing was taken, the request as a whole is refused, naming each bad field by event.
pub(crate) fn refuse_if_empty(ingested: &mut Ingested, single: bool) -> Result<(), ApiError> {
    if !ingested.accepted.is_empty() {
        return Ok(());
    }
    let mut all = ValidationErrors::new();
    for (index, errors) in std::mem::take(&mut ingested.rejected) {
        for error in errors {
            let field = if single { error.field } else { format!("[{index}].{}", error.field) };
            all.add(field, error.message);
        }
    }
    Err(all.into())
}

/// Report events: one JSON event, a JSON array or NDJSON of up to 1,000. Each is validated on
/// its own: the good ones are committed (before this answer), the bad ones named by index.
#[utoipa::path(
    post,
    path = "/api/v1/ingest/events",
    tag = "ingest",
    params(("X-Node-Key" = String, Header, description = "The node's key, `nk_…`")),
    request_body(content = Object, description = "An event, an array of events, or NDJSON (`application/x-ndjson`)",
        example = json!({"kind": "honeypot", "source_ip": "203.0.113.7", "source_port": 51234, "destination_port": 22,
                         "service": "ssh", "activity": "login_attempt", "usernames": ["root"], "passwords": ["123456"],
                         "timestamp": "2026-11-24T20:00:00Z"})),
    responses(
        (status = 200, description = "Committed, with each event's score; refused events named by index", body = IngestView),
        (status = 413, description = "More than 1,000 events, or too large a body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No event was valid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    State(app): State<AppState>,
    Sensor { node, .. }: Sensor,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestView>, ApiError> {
    let format = batch_format(&headers)?;
    let batch = read_batch(format, &read_body(body).await?).map_err(batch_refused)?;
    let mut ingested = app.watch.ingest(&node, batch.events).await?;
    app.metrics.events_ingested(ingested.accepted.len(), ingested.rejected.len());
    refuse_if_empty(&mut ingested, batch.single)?;
    Ok(Json(IngestView {
        accepted: ingested.accepted.into_iter().map(AcceptedView::from).collect(),
        rejected: ingested
            .rejected
            .into_iter()
            .map(|(index, errors)| RejectedView { index, errors: field_errors(errors) })
            .collect(),
    }))
}

/// The body honeypots of the replaced system send.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"node_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "service": "ssh", "source_ip": "203.0.113.7",
                          "activity": "login_attempt", "payload": "root:123456", "timestamp": "2026-11-24T20:00:00"}))]
pub struct HoneypotLog {
    pub node_id: Option<String>,
    pub service: Option<String>,
    pub source_ip: Option<String>,
    pub activity: Option<String>,
    pub payload: Option<String>,
    pub timestamp: Option<String>,
}

/// The body agents of the replaced system send.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"node_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "hostname": "fin-laptop-3", "username": "jdoe",
                          "file_accessed": "passwords.xlsx", "file_path": "C:/Users/jdoe/Desktop/passwords.xlsx",
                          "action": "open", "timestamp": "2026-11-24T20:00:00"}))]
pub struct AgentAlert {
    pub node_id: Option<String>,
    pub hostname: Option<String>,
    pub username: Option<String>,
    /// The decoy file touched.
    pub file_accessed: Option<String>,
    pub file_path: Option<String>,
    pub action: Option<String>,
    pub timestamp: Option<String>,
}

/// The answer of the replaced system to a sensor's event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "success", "message": "Honeypot log received", "event_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13",
                          "risk_score": 6.0, "attack_type": "credential_attack", "alert_created": false}))]
pub struct LegacyReceipt {
    pub status: &'static str,
    pub message: &'static str,
    pub event_id: Uuid,
    pub risk_score: f64,
    pub attack_type: String,
    /// Whether this event raised a new alert.
    pub alert_created: bool,
}

/// A body of the replaced system's sensors: one JSON object, which may name the node that sent it.
trait LegacyBody: DeserializeOwned {
    fn into_input(self) -> EventInput;
}

/// The node a legacy body names, read on its own so that a claim is checked before the fields.
#[derive(Deserialize)]
struct NodeClaim {
    node_id: Option<String>,
}

/// Reads the body of an authenticated sensor, checks the `node_id` it names against the key's
/// node, and ingests it. Any content type is read as JSON, as before.
async fn legacy<T: LegacyBody>(
    app: &AppState,
    Sensor { node, context }: Sensor,
    body: Body,
    message: &'static str,
) -> Result<Json<LegacyReceipt>, ApiError> {
    let bytes = read_body(body).await?;
    let claim = match json::from_slice::<NodeClaim>(&bytes) {
        Ok(claim) => claim.node_id,
        Err(JsonError::Malformed(message)) => return Err(ApiError::BadRequest(format!("malformed JSON: {message}"))),
        Err(JsonError::Invalid(_)) => None,
    };
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ValidationErrors::single("body", "must be a JSON object").into());
    }
    if let Some(claimed) = claim {
        // Its id here, or the id it had in the replaced system.
        app.watch.check_claim(&node, &claimed, &context).await?;
    }
    let input = match json::from_slice::<T>(&bytes) {
        Ok(sent) => Ok(sent.into_input()),
        Err(JsonError::Invalid(errors)) => Err(errors),
        Err(JsonError::Malformed(message)) => return Err(ApiError::BadRequest(format!("malformed JSON: {message}"))),
    };
    let mut ingested = app.watch.ingest(&node, vec![input]).await?;
    app.metrics.events_ingested(ingested.accepted.len(), ingested.rejected.len());
    refuse_if_empty(&mut ingested, true)?;
    let accepted = ingested.accepted.remove(0);
    Ok(Json(LegacyReceipt {
        status: "success",
        message,
        event_id: accepted.id.as_uuid(),
        risk_score: accepted.score.score,
        attack_type: accepted.score.attack_type,
        alert_created: accepted.alert.is_some_and(|(_, raised)| raised),
    }))
}

impl LegacyBody for HoneypotLog {
    fn into_input(self) -> EventInput {
        EventInput {
            kind: Some(EventKind::Honeypot.as_str().into()),
            timestamp: self.timestamp,
            source_ip: self.source_ip,
            service: self.service,
            activity: self.activity,
            payload: self.payload,
            ..EventInput::default()
        }
    }
}

/// A `file_accessed` is a decoy touched.
impl LegacyBody for AgentAlert {
    fn into_input(self) -> EventInput {
        let kind = if self.file_accessed.is_some() { EventKind::Decoy } else { EventKind::Agent };
        EventInput {
            kind: Some(kind.as_str().into()),
            timestamp: self.timestamp,
            hostname: self.hostname,
            username: self.username,
            decoy_name: self.file_accessed,
            file_path: self.file_path,
            action: self.action,
            ..EventInput::default()
        }
    }
}

/// The honeypot path of the replaced system: one event, `node_id` in the body and `X-Node-Key`.
#[utoipa::path(
    post,
    path = "/api/honeypot-log",
    tag = "ingest",
    params(("X-Node-Key" = String, Header, description = "The node's key, `nk_…`")),
    request_body = HoneypotLog,
    responses(
        (status = 200, description = "Committed", body = LegacyReceipt),
    )
)]
pub async fn honeypot_log(
    State(app): State<AppState>,
    sensor: Sensor,
    body: Body,
) -> Result<Json<LegacyReceipt>, ApiError> {
    legacy::<HoneypotLog>(&app, sensor, body, "Honeypot log received").await
}

/// The agent path of the replaced system: one event, `node_id` in the body and `X-Node-Key`. A
/// `file_accessed` is a decoy touched.
#[utoipa::path(
    post,
    path = "/api/agent-alert",
    tag = "ingest",
    params(("X-Node-Key" = String, Header, description = "The node's key, `nk_…`")),
    request_body = AgentAlert,
    responses(
        (status = 200, description = "Committed", body = LegacyReceipt),
    )
)]
pub async fn agent_alert(
    State(app): State<AppState>,
    sensor: Sensor,
    body: Body,
) -> Result<Json<LegacyReceipt>, ApiError> {
    legacy::<AgentAlert>(&app, sensor, body, "Agent event received").await
}
