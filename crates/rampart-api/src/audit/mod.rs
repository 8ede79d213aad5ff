//! `/api/v1/audit`: the organisation's audit log, newest first, for its admins.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use rampart_core::identity::{Actor, AuditAction, AuditEvent};
use rampart_store::AuditFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery, parse_filter, time_filter};
use crate::{ApiQuery, AppState};

/// The organisation's audit log.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action, such as `auth.login`.
    #[param(schema_with = crate::schemas::audit_actions)]
    pub action: Option<String>,
    /// Only events by this user or API key id.
    pub actor: Option<Uuid>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// How many events, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "at": "2026-11-24T20:00:00Z", "actor_kind": "user",
    "actor_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "action": "api_key.create", "target": "api_key:0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f14",
    "outcome": "success", "ip": "127.0.0.1", "request_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f15", "detail": "role analyst"
}))]
pub struct AuditEventView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `user`, `api_key`, `anonymous` or `system`.
    pub actor_kind: &'static str,
    pub actor_id: Option<Uuid>,
    pub action: &'static str,
    pub target: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: &'static str,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        let actor_id = match event.event.actor {
            Actor::User(id) => Some(id.as_uuid()),
            Actor::ApiKey(id) => Some(id.as_uuid()),
            Actor::Anonymous | Actor::System => None,
        };
        Self {
            id: event.id.as_uuid(),
            at: event.at,
            actor_kind: event.event.actor.kind().as_str(),
            actor_id,
            action: event.event.action.as_str(),
            target: event.event.target,
            outcome: event.event.outcome.as_str(),
            ip: event.event.ip,
            request_id: event.event.request_id,
            detail: event.event.detail,
        }
    }
}

/// The audit log of the organisation, newest first. There is no route to change or delete it.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    security(("bearer" = ["admin"])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEventView>),
    )
)]
pub async fn list(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEventView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let action = parse_filter::<AuditAction>("action", query.action.as_deref())?;
    let (since, until) = (time_filter("since", query.since)?, time_filter("until", query.until)?);
    let filter = AuditFilter { action, actor_id: query.actor, since, until };
    let events = app.store.audit().list(caller.org, &filter, asked.seek()).await?;
    Ok(Json(asked.page(events, AuditEventView::from, |event| event.id)))
}
