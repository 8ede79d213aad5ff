//! The CrowdSec bouncer protocol, so the firewall bouncers people run work against Rampart
//! unchanged: `GET|HEAD /v1/decisions/stream` and `GET|HEAD /v1/decisions`, authenticated by a
//! bouncer's key in `X-Api-Key` and answered from the server's copy of the decisions, without
//! the database. Refusals are CrowdSec's: `{"message": …}` with 403 for a bad key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::OrgId;
use rampart_core::watch::decisions::{Addresses, Bouncer, Decision, DecisionKind, DecisionScope};
use rampart_watch::WatchError;
use rampart_watch::decisions::{Lookup, PullFrom, Selection};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::{LookupQuery, StreamQuery, StreamView, WireDecision};
use crate::auth::Context;
use crate::{ApiQuery, AppState};

/// The header a bouncer sends its key in.
const KEY_HEADER: &str = "x-api-key";
/// The most characters of a user agent kept as a bouncer's.
const USER_AGENT_MAX: usize = 200;

/// A refusal as CrowdSec words it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WireMessage {
    pub message: String,
}

/// A refusal of the bouncer protocol: a status and CrowdSec's body.
pub struct WireError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl WireError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after: None }
    }

    fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "access forbidden")
    }
}

impl From<WatchError> for WireError {
    fn from(error: WatchError) -> Self {
        match error {
            WatchError::BouncerRefused => Self::forbidden(),
            WatchError::RateLimited { retry_after } => Self {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too many refused keys from this address")
            },
            WatchError::Invalid(_) => Self::new(StatusCode::BAD_REQUEST, "invalid request"),
            _ => Self::new(StatusCode::SERVICE_UNAVAILABLE, "decisions are unavailable"),
        }
    }
}

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(WireMessage { message: self.message })).into_response();
        response.extensions_mut().insert(crate::middleware::OwnAnswer);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The bouncer whose key the request carries, checked before anything else is read.
pub struct BouncerKey {
    bouncer: Arc<Bouncer>,
    from: PullFrom,
}

impl FromRequestParts<AppState> for BouncerKey {
    type Rejection = WireError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let context = Context::from_request_parts(parts, app).await.map(|Context(context)| context).unwrap_or_default();
        // No key at all is refused as CrowdSec refuses it; only a key that is wrong is audited.
        let key = parts.headers.get(KEY_HEADER).and_then(|value| value.to_str().ok()).filter(|key| !key.is_empty());
        let bouncer = app.decisions.authenticate(key.ok_or_else(WireError::forbidden)?, &context).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().filter(|c| !c.is_control()).take(USER_AGENT_MAX).collect());
        Ok(Self { bouncer, from: PullFrom { ip: context.ip, user_agent } })
    }
}

/// Comma-separated words, trimmed, empty ones left out.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|word| !word.is_empty())
}

/// Scopes as the protocol writes them; one this server does not know matches nothing.
fn scopes(text: &str) -> Vec<DecisionScope> {
    words(text).filter_map(DecisionScope::parse_any_case).collect()
}

fn kinds(text: &str) -> Vec<DecisionKind> {
    words(text).filter_map(|word| word.to_ascii_lowercase().parse().ok()).collect()
}

fn lowercase(text: Option<&str>) -> Vec<String> {
    text.map(|text| words(text).map(str::to_lowercase).collect()).unwrap_or_default()
}

/// Startup answers as sent, each kept for the second and the copy's tick it was made at: a fleet
/// of bouncers starting at once (or a bouncer asking for everything every time) costs one
/// answer a second per organisation and selection, not one each.
#[derive(Debug, Default)]
pub(crate) struct StartupBodies(Mutex<HashMap<(OrgId, Selection), Kept>>);

#[derive(Debug)]
struct Kept {
    tick: u64,
    second: i64,
    body: Bytes,
}

/// The most startup answers kept at once, and the most bytes they hold together: past either,
/// all are dropped (each is made again within its second anyway).
const BODIES_MAX: usize = 64;
const BODIES_BYTES_MAX: usize = 64 * 1024 * 1024;

impl StartupBodies {
    fn get(&self, org: OrgId, selection: &Selection, tick: u64, second: i64) -> Option<Bytes> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(&(org, selection.clone()))
            .filter(|kept| kept.tick == tick && kept.second == second)
            .map(|kept| kept.body.clone())
    }

    fn put(&self, org: OrgId, selection: Selection, tick: u64, second: i64, body: Bytes) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let held: usize = kept.values().map(|kept| kept.body.len()).sum();
        if kept.len() >= BODIES_MAX || held.saturating_add(body.len()) > BODIES_BYTES_MAX {
            kept.clear();
        }
        if body.len() <= BODIES_BYTES_MAX {
            kept.insert((org, selection), Kept { tick, second, body });
        }
    }
}

fn json(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What changed since this bouncer's last pull, or (`startup=true`) everything that applies and
/// what was lifted lately. `HEAD` answers the same headers and leaves the last pull as it was.
#[utoipa::path(
    method(get, head),
    path = "/v1/decisions/stream",
    tag = "bouncers",
    params(("X-Api-Key" = String, Header, description = "The bouncer's key, `bk_…`"), StreamQuery),
    responses(
        (status = 200, description = "Decisions to apply (`new`) and to lift (`deleted`)", body = StreamView),
        (status = 403, description = "No bouncer has this key", body = WireMessage),
        (status = 429, description = "Too many refused keys from this address", body = WireMessage),
    )
)]
pub async fn stream(
    key: BouncerKey,
    method: Method,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Response {
    let selection = Selection {
        scopes: Some(query.scopes.as_deref().map_or(vec![DecisionScope::Ip, DecisionScope::Range], scopes)),
        origins: query.origins.as_deref().map(|text| words(text).map(str::to_owned).collect()),
        kinds: query.kind.as_deref().map(kinds),
        scenarios_containing: lowercase(query.scenarios_containing.as_deref()),
        scenarios_not_containing: lowercase(query.scenarios_not_containing.as_deref()),
    };
    let startup = query.startup.unwrap_or(false);
    let advance = method != Method::HEAD;
    let org = key.bouncer.org_id;
    if startup {
        let (tick, now) = (app.decisions.tick(), app.decisions.now());
        if let Some(body) = app.startup_bodies.get(org, &selection, tick, now.timestamp()) {
            if advance {
                app.decisions.record_pull(&key.bouncer, tick, now, key.from);
            }
            return json(body);
        }
    }
    let pulled = app.decisions.stream(&key.bouncer, startup, &selection, key.from, advance);
    let wire =
        |decisions: &[Arc<Decision>]| decisions.iter().map(|decision| WireDecision::of(decision, pulled.now)).collect();
    let view = StreamView { deleted: wire(&pulled.delta.deleted), new: wire(&pulled.delta.new) };
    let body = match serde_json::to_vec(&view) {
        Ok(body) => Bytes::from(body),
        Err(_) => return WireError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot write the answer").into_response(),
    };
    if startup {
        app.startup_bodies.put(org, selection, pulled.tick, pulled.now.timestamp(), body.clone());
    }
    json(body)
}

/// The decisions that apply to an address, a network or a value: `null` when none does.
#[utoipa::path(
    method(get, head),
    path = "/v1/decisions",
    tag = "bouncers",
    params(("X-Api-Key" = String, Header, description = "The bouncer's key, `bk_…`"), LookupQuery),
    responses(
        (status = 200, description = "The decisions that apply, or `null`", body = Option<Vec<WireDecision>>),
        (status = 400, description = "`ip`, `range` or `value` is not an address or a network", body = WireMessage),
        (status = 403, description = "No bouncer has this key", body = WireMessage),
        (status = 429, description = "Too many refused keys from this address", body = WireMessage),
    )
)]
pub async fn lookup(
    key: BouncerKey,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<LookupQuery>,
) -> Result<Json<Option<Vec<WireDecision>>>, WireError> {
    let invalid = |what: &str, text: &str| WireError::new(StatusCode::BAD_REQUEST, format!("invalid {what} '{text}'"));
    let value = match (&query.ip, &query.range, &query.value) {
        (Some(ip), _, _) => match Addresses::parse(ip) {
            Ok(value) if value.scope() == DecisionScope::Ip => Some(value),
            _ => return Err(invalid("ip", ip)),
        },
        (None, Some(range), _) => Some(Addresses::parse(range).map_err(|_| invalid("range", range))?),
        (None, None, Some(value)) => Some(Addresses::parse(value).map_err(|_| invalid("value", value))?),
        (None, None, None) => None,
    };
    let mut asked_scopes = Vec::new();
    asked_scopes.extend(query.scope.as_deref().map(scopes));
    asked_scopes.extend(query.scopes.as_deref().map(scopes));
    let lookup = Lookup {
        value,
        contains: query.contains.unwrap_or(true),
        scopes: (!asked_scopes.is_empty()).then(|| asked_scopes.concat()),
        kinds: query.kind.as_deref().map(kinds),
    };
    let now = app.decisions.now();
    let found = app.decisions.lookup(&key.bouncer, &lookup);
    if found.is_empty() {
        return Ok(Json(None));
    }
    Ok(Json(Some(found.iter().map(|decision| WireDecision::of(decision, now)).collect())))
}
