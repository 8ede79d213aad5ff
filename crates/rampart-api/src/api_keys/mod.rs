//! `/api/v1/api-keys`: an organisation's keys. The key itself is in the creation answer only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rampart_core::ApiKeyId;
use rampart_core::identity::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Analyst, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::{ApiJson, AppState};

/// The organisation's API keys.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list)).routes(routes!(delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "ci pipeline", "role": "analyst", "expires_at": "2027-01-01T00:00:00Z"}))]
pub struct NewApiKeyBody {
    #[schema(schema_with = crate::schemas::key_name)]
    pub name: String,
    /// `admin`, `analyst` or `viewer`; no higher than your own role.
    #[schema(schema_with = crate::schemas::roles)]
    pub role: String,
    /// When the key stops working; never by default.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "name": "ci pipeline", "prefix": "k3Xo9aQ2ZbLm", "role": "analyst",
    "created_by": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "created_at": "2026-11-24T20:00:00Z", "last_used_at": null,
    "expires_at": "2027-01-01T00:00:00Z"
}))]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The public part of the key, to recognise it: `rk_<prefix>_…`.
    pub prefix: String,
    pub role: &'static str,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name,
            prefix: key.prefix,
            role: key.role.as_str(),
            created_by: key.created_by.map(|id| id.as_uuid()),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            expires_at: key.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "key": "rk_k3Xo9aQ2ZbLm_c2hvd24tb25jZS1uZXZlci1zdG9yZWQtaW4tY2xlYXI",
    "api_key": {"id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "name": "ci pipeline", "prefix": "k3Xo9aQ2ZbLm", "role": "analyst",
                "created_by": null, "created_at": "2026-11-24T20:00:00Z", "last_used_at": null, "expires_at": null}
}))]
pub struct CreatedApiKey {
    /// The key, shown this once: use it as `Authorization: Bearer …` or `X-API-Key: …`.
    pub key: String,
    pub api_key: ApiKeyView,
}

/// Create a key with a role no higher than yours; the answer holds the key, shown once.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    security(("bearer" = ["analyst"])),
    request_body = NewApiKeyBody,
    responses(
        (status = 201, description = "The key, shown once", body = CreatedApiKey),
        (status = 422, description = "Invalid fields, or a role above yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewApiKeyBody>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let (key, secret) = app.identity.create_api_key(&caller, &body.name, &body.role, body.expires_at, &context).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key: secret, api_key: key.into() })))
}

/// The organisation's keys (never the keys themselves).
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    security(("bearer" = ["viewer"])),
    responses((status = 200, description = "The keys", body = Vec<ApiKeyView>))
)]
pub async fn list(caller: Caller, State(app): State<AppState>) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    let keys = app.identity.list_api_keys(&caller).await?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

/// Revoke a key at once. Admins revoke any key; analysts, the keys they made.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    tag = "api-keys",
    security(("bearer" = ["analyst"])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
    )
)]
pub async fn delete(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<ApiKeyId>,
) -> Result<StatusCode, ApiError> {
    app.identity.delete_api_key(&caller, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
