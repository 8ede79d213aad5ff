//! `/api/v1/settings`: the organisation's settings of alerts (`alerts.threshold`,
//! `alerts.window_seconds`) with the value in force. Everyone reads; admins set and reset them,
//! audited. The watch checks the values and applies a change from the next event on.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use rampart_watch::AlertSetting;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Admin, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::{ApiJson, AppState};

/// The organisation's settings of alerts.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(update, delete))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "key": "alerts.threshold", "description": "The score (0 to 10) from which an event raises an alert.",
    "value": 6.5, "default": 7.0, "is_default": false, "updated_at": "2026-11-24T20:00:00Z"
}))]
pub struct SettingView {
    pub key: &'static str,
    pub description: &'static str,
    /// The value in force (every setting is a number).
    #[schema(value_type = f64)]
    pub value: Value,
    /// The value when the organisation sets nothing.
    #[schema(value_type = f64)]
    pub default: Value,
    /// Whether the organisation has set nothing (or reset it), so that the default is in force.
    pub is_default: bool,
    /// When the organisation last set it.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<AlertSetting> for SettingView {
    fn from(setting: AlertSetting) -> Self {
        Self {
            key: setting.info.key,
            description: setting.info.description,
            is_default: setting.stored.is_none(),
            value: setting.value,
            default: setting.default,
            updated_at: setting.stored.map(|stored| stored.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": 6.5}))]
pub struct SettingBody {
    /// `alerts.threshold`: a number from 0 to 10; `alerts.window_seconds`: a whole number from 60
    /// to 604800.
    #[schema(value_type = f64)]
    pub value: Value,
}

/// The organisation's settings of alerts, each with the value in force and its default.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    security(("bearer" = ["viewer"])),
    responses((status = 200, description = "The settings, by key", body = Vec<SettingView>))
)]
pub async fn list(caller: Caller, State(app): State<AppState>) -> Result<Json<Vec<SettingView>>, ApiError> {
    let settings = app.watch.alert_settings(caller.org).await?;
    Ok(Json(settings.into_iter().map(SettingView::from).collect()))
}

/// Sets a setting (admins); audited, and in force from the next event ingested.
#[utoipa::path(
    put,
    path = "/api/v1/settings/{key}",
    tag = "settings",
    security(("bearer" = ["admin"])),
    params(("key" = String, Path, description = "`alerts.threshold` or `alerts.window_seconds`")),
    request_body = SettingBody,
    responses(
        (status = 200, description = "The setting as it now is", body = SettingView),
        (status = 404, description = "No such setting", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value the setting cannot take", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<SettingBody>,
) -> Result<Json<SettingView>, ApiError> {
    Ok(Json(app.watch.set_alert_setting(&caller.acting(context), &key, &body.value).await?.into()))
}

/// Puts a setting back to its default (admins); audited.
#[utoipa::path(
    delete,
    path = "/api/v1/settings/{key}",
    tag = "settings",
    security(("bearer" = ["admin"])),
    params(("key" = String, Path, description = "`alerts.threshold` or `alerts.window_seconds`")),
    responses(
        (status = 200, description = "The setting, back at its default", body = SettingView),
        (status = 404, description = "No such setting", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(key): Path<String>,
) -> Result<Json<SettingView>, ApiError> {
    Ok(Json(app.watch.reset_alert_setting(&caller.acting(context), &key).await?.into()))
}
