//! Sensors report here with their node key (`X-Node-Key`): `POST /api/v1/ingest/events` takes one
//! event, a JSON array or NDJSON of up to 1,000; `POST /api/honeypot-log` and
//! `POST /api/agent-alert` take the single-event bodies deployed sensors already send, and answer
//! as the system they replace did. An answer is sent only once its events are committed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use rampart_core::NodeId;
use rampart_core::ValidationErrors;
use rampart_core::watch::{EventInput, EventKind, Node};
use rampart_watch::{BATCH_MAX, Ingested};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{AcceptedView, IngestView, RejectedView};
use crate::AppState;
use crate::auth::Context;
use crate::body::{from_value, parse};
use crate::error::{ApiError, FieldErrorView, Problem};

pub const NODE_KEY_HEADER: &str = "x-node-key";

fn node_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(NODE_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("send the node's key as X-Node-Key".into()))
}

async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    context: &rampart_core::identity::RequestContext,
    claimed: Option<&str>,
) -> Result<Node, ApiError> {
    let key = node_key(headers)?;
    // A node id that is not even an id names no node this key could belong to.
    let claimed = claimed.map(|text| text.parse::<NodeId>().unwrap_or_else(|_| NodeId::from_uuid(Uuid::nil())));
    Ok(app.watch.authenticate(key, claimed, context).await?)
}

/// The events of a body — a JSON object, a JSON array, or NDJSON (one object per line) — and
/// whether it was a single object rather than a batch.
fn events_of(headers: &HeaderMap, body: &[u8]) -> Result<(Vec<Value>, bool), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (values, single) = match essence.as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/json-seq" => {
            let mut values = Vec::new();
            for (number, line) in body.split(|byte| *byte == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let value = serde_json::from_slice::<Value>(line)
                    .map_err(|_| ApiError::BadRequest(format!("line {} is not JSON", number + 1)))?;
                values.push(value);
            }
            (values, false)
        }
        "application/json" => match parse::<Value>(body)? {
            Value::Array(values) => (values, false),
            value => (vec![value], true),
        },
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send application/json (an event or an array of events) or application/x-ndjson".into(),
            ));
        }
    };
    if values.is_empty() {
        return Err(ValidationErrors::single("body", "holds no event").into());
    }
    if values.len() > BATCH_MAX {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok((values, single))
}

fn field_errors(errors: ValidationErrors) -> Vec<FieldErrorView> {
    errors.into_iter().map(|error| FieldErrorView { field: error.field, message: error.message }).collect()
}

/// When nothing was taken, the request as a whole is refused, naming each bad field by event.
fn refuse_if_empty(ingested: &mut Ingested, single: bool) -> Result<(), ApiError> {
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
        (status = 401, description = "No or unknown node key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The node is inactive", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 1,000 events, or too large a body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No event was valid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The pipeline is full: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    State(app): State<AppState>,
    Context(context): Context,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IngestView>, ApiError> {
    let node = authenticate(&app, &headers, &context, None).await?;
    let (values, single) = events_of(&headers, &body)?;
    let inputs = values.into_iter().map(from_value::<EventInput>).collect();
    let mut ingested = app.watch.ingest(&node, inputs).await?;
    app.metrics.events_ingested(ingested.accepted.len(), ingested.rejected.len());
    refuse_if_empty(&mut ingested, single)?;
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

/// Reads a legacy body, checks the node key against the `node_id` it names, and ingests it.
async fn legacy(
    app: &AppState,
    context: &rampart_core::identity::RequestContext,
    headers: &HeaderMap,
    body: &[u8],
    node_id: impl FnOnce(&Value) -> Option<String>,
    to_input: impl FnOnce(Value) -> Result<EventInput, ValidationErrors>,
    message: &'static str,
) -> Result<Json<LegacyReceipt>, ApiError> {
    let value = parse::<Value>(body)?;
    if !value.is_object() {
        return Err(ValidationErrors::single("body", "must be a JSON object").into());
    }
    let node = authenticate(app, headers, context, node_id(&value).as_deref()).await?;
    let mut ingested = app.watch.ingest(&node, vec![to_input(value)]).await?;
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

fn node_id_of(value: &Value) -> Option<String> {
    value.get("node_id").and_then(Value::as_str).map(str::to_owned)
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
        (status = 401, description = "No or unknown node key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is another node's, or the node is inactive", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The pipeline is full: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn honeypot_log(
    State(app): State<AppState>,
    Context(context): Context,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<LegacyReceipt>, ApiError> {
    let to_input = |value: Value| {
        let log: HoneypotLog = from_value(value)?;
        Ok(EventInput {
            kind: Some(EventKind::Honeypot.as_str().into()),
            timestamp: log.timestamp,
            source_ip: log.source_ip,
            service: log.service,
            activity: log.activity,
            payload: log.payload,
            ..EventInput::default()
        })
    };
    legacy(&app, &context, &headers, &body, node_id_of, to_input, "Honeypot log received").await
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
        (status = 401, description = "No or unknown node key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key is another node's, or the node is inactive", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The pipeline is full: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn agent_alert(
    State(app): State<AppState>,
    Context(context): Context,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<LegacyReceipt>, ApiError> {
    let to_input = |value: Value| {
        let alert: AgentAlert = from_value(value)?;
        let kind = if alert.file_accessed.is_some() { EventKind::Decoy } else { EventKind::Agent };
        Ok(EventInput {
            kind: Some(kind.as_str().into()),
            timestamp: alert.timestamp,
            hostname: alert.hostname,
            username: alert.username,
            decoy_name: alert.file_accessed,
            file_path: alert.file_path,
            action: alert.action,
            ..EventInput::default()
        })
    };
    legacy(&app, &context, &headers, &body, node_id_of, to_input, "Agent event received").await
}
