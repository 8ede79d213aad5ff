//! `/api/v1/tools` and `/api/v1/executions`: the tool catalogue, and runs of tools as durable jobs.

pub mod live;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rampart_core::executions::{Execution, ExecutionStatus, LogLine};
use rampart_core::identity::Actor;
use rampart_core::{ExecutionId, ValidationErrors};
use rampart_store::ExecutionFilter;
use rampart_tools::Tool;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Admin, Analyst, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery, parse_filter, text_filter, time_filter};
use crate::{ApiJson, ApiQuery, AppState};

/// The tool catalogue and executions, with their live progress.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tools))
        .routes(routes!(tool, update_tool))
        .routes(routes!(execute))
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(logs))
        .routes(routes!(cancel))
        .routes(routes!(live::events))
        .routes(routes!(live::stream))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "name": "noop", "category": "diagnostics", "description": "Does nothing but wait.", "enabled": true,
    "available": true, "unavailable_reason": null, "default_timeout_seconds": 900,
    "params_schema": {"type": "object", "properties": {"sleep_ms": {"type": "integer"}}}, "result_schema": {"type": "object"}
}))]
pub struct ToolView {
    pub name: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    /// Whether this organisation allows it (`tools.<name>.enabled` in its settings).
    pub enabled: bool,
    /// Whether it can run on this server: false for an external tool whose binary is not
    /// installed (a run of it is refused).
    pub available: bool,
    /// Why it cannot run, when it cannot (`nmap is not installed`).
    pub unavailable_reason: Option<String>,
    pub default_timeout_seconds: u64,
    /// JSON Schema of the parameters.
    #[schema(value_type = Object)]
    pub params_schema: Value,
    /// JSON Schema of the result.
    #[schema(value_type = Object)]
    pub result_schema: Value,
}

fn tool_view(tool: &dyn Tool, enabled: bool) -> ToolView {
    let info = tool.info();
    let unavailable_reason = tool.availability().err();
    ToolView {
        name: info.name,
        category: info.category,
        description: info.description,
        enabled,
        available: unavailable_reason.is_none(),
        unavailable_reason,
        default_timeout_seconds: info.default_timeout.as_secs(),
        params_schema: info.params_schema,
        result_schema: info.result_schema,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ToolQuery {
    pub category: Option<String>,
    pub enabled: Option<bool>,
}

/// The tools this server has, with whether the organisation allows each.
#[utoipa::path(
    get,
    path = "/api/v1/tools",
    tag = "executions",
    security(("bearer" = ["viewer"])),
    params(ToolQuery),
    responses((status = 200, description = "The tools", body = Vec<ToolView>))
)]
pub async fn tools(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<ToolQuery>,
) -> Result<Json<Vec<ToolView>>, ApiError> {
    let disabled = app.engine.disabled_tools(caller.org).await?;
    let mut views = Vec::new();
    for tool in app.engine.tools().all() {
        let info = tool.info();
        let enabled = !disabled.contains(info.name);
        if query.category.as_deref().is_some_and(|c| c != info.category) || query.enabled.is_some_and(|e| e != enabled)
        {
            continue;
        }
        views.push(tool_view(tool.as_ref(), enabled));
    }
    Ok(Json(views))
}

/// One tool, with the JSON Schemas of its parameters and result.
#[utoipa::path(
    get,
    path = "/api/v1/tools/{name}",
    tag = "executions",
    security(("bearer" = ["viewer"])),
    params(("name" = String, Path, description = "The tool's name")),
    responses(
        (status = 200, description = "The tool", body = ToolView),
        (status = 404, description = "No such tool", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn tool(
    caller: Caller,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ToolView>, ApiError> {
    let tool = app.engine.tools().get(&name).ok_or(ApiError::NotFound)?;
    let enabled = app.engine.enabled(caller.org, &name).await?;
    Ok(Json(tool_view(tool.as_ref(), enabled)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct ToolPatch {
    /// Whether members of this organisation may run it.
    pub enabled: bool,
}

/// Switches a tool on or off for the organisation (admins); audited.
#[utoipa::path(
    patch,
    path = "/api/v1/tools/{name}",
    tag = "executions",
    security(("bearer" = ["admin"])),
    params(("name" = String, Path, description = "The tool's name")),
    request_body = ToolPatch,
    responses(
        (status = 200, description = "The tool, as the organisation now sees it", body = ToolView),
        (status = 404, description = "No such tool", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_tool(
    caller: Caller<Admin>,
    Context(context): Context,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<ToolPatch>,
) -> Result<Json<ToolView>, ApiError> {
    let tool = app.engine.tools().get(&name).ok_or(ApiError::NotFound)?;
    app.engine.set_enabled(&caller.acting(context), &name, patch.enabled).await?;
    Ok(Json(tool_view(tool.as_ref(), patch.enabled)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"tool": "noop", "params": {"sleep_ms": 100}}))]
pub struct NewExecutionBody {
    pub tool: String,
    /// The tool's parameters, as its `params_schema` describes: an object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// A time limit for this run, 1 to 86400 seconds; the tool's default when absent.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 86400)]
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "tool": "noop", "params": {"sleep_ms": 100}, "status": "running",
    "progress": 40, "progress_message": "40 of 100 ms", "result": null, "error": null, "actor_kind": "user",
    "actor_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "attempt": 1, "max_attempts": 3, "timeout_seconds": 900,
    "cancel_requested": false, "log_lines": 1, "log_truncated": false, "created_at": "2026-11-24T20:00:00Z",
    "started_at": "2026-11-24T20:00:00Z", "finished_at": null, "duration_ms": null
}))]
pub struct ExecutionView {
    pub id: Uuid,
    pub tool: String,
    #[schema(value_type = Object)]
    pub params: Value,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled` or `timed_out`.
    pub status: &'static str,
    pub progress: u8,
    pub progress_message: String,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    pub actor_kind: &'static str,
    pub actor_id: Option<Uuid>,
    pub attempt: u32,
    pub max_attempts: u32,
    pub timeout_seconds: u64,
    pub cancel_requested: bool,
    pub log_lines: u32,
    pub log_truncated: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From start to end, once ended.
    pub duration_ms: Option<i64>,
}

impl From<Execution> for ExecutionView {
    fn from(execution: Execution) -> Self {
        let actor_id = match execution.actor {
            Actor::User(id) => Some(id.as_uuid()),
            Actor::ApiKey(id) => Some(id.as_uuid()),
            Actor::Anonymous | Actor::System => None,
        };
        let duration_ms =
            execution.started_at.zip(execution.finished_at).map(|(start, end)| (end - start).num_milliseconds());
        Self {
            id: execution.id.as_uuid(),
            tool: execution.tool,
            params: execution.params,
            status: execution.status.as_str(),
            progress: execution.progress,
            progress_message: execution.progress_message,
            result: execution.result,
            error: execution.error,
            actor_kind: execution.actor.kind().as_str(),
            actor_id,
            attempt: execution.attempt,
            max_attempts: execution.max_attempts,
            timeout_seconds: execution.timeout.as_secs(),
            cancel_requested: execution.cancel_requested,
            log_lines: execution.log_lines,
            log_truncated: execution.log_truncated,
            created_at: execution.created_at,
            started_at: execution.started_at,
            finished_at: execution.finished_at,
            duration_ms,
        }
    }
}

/// Run a tool: parameters are validated and every target is checked against the scope before
/// anything is queued. Answers at once with the queued run; follow it by polling.
#[utoipa::path(
    post,
    path = "/api/v1/executions",
    tag = "executions",
    security(("bearer" = ["analyst"])),
    request_body = NewExecutionBody,
    responses(
        (status = 202, description = "Queued", body = ExecutionView),
        (status = 422, description = "Unknown or disabled tool, bad parameters, or targets out of scope (each named); nothing was queued", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewExecutionBody>,
) -> Result<(StatusCode, Json<ExecutionView>), ApiError> {
    let timeout = body.timeout_seconds.map(std::time::Duration::from_secs);
    let execution = app.engine.submit(&caller.acting(context), &body.tool, Value::Object(body.params), timeout).await?;
    Ok((StatusCode::ACCEPTED, Json(execution.into())))
}

/// Run this tool with these parameters (the body is the parameters).
#[utoipa::path(
    post,
    path = "/api/v1/tools/{name}/execute",
    tag = "executions",
    security(("bearer" = ["analyst"])),
    params(("name" = String, Path, description = "The tool's name")),
    request_body(content = Object, description = "The tool's parameters: an object, as its `params_schema` describes", example = json!({"sleep_ms": 100})),
    responses(
        (status = 202, description = "Queued", body = ExecutionView),
        (status = 404, description = "No such tool", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A disabled tool, parameters that are not an object or are bad, or targets out of scope; nothing was queued", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn execute(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(name): Path<String>,
    ApiJson(params): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<ExecutionView>), ApiError> {
    // The tool is the resource this path names: one the server does not have is not found.
    app.engine.tools().get(&name).ok_or(ApiError::NotFound)?;
    let execution = app.engine.submit(&caller.acting(context), &name, Value::Object(params), None).await?;
    Ok((StatusCode::ACCEPTED, Json(execution.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionQuery {
    #[param(schema_with = crate::schemas::filter_text)]
    pub tool: Option<String>,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled` or `timed_out`.
    #[param(schema_with = crate::schemas::execution_statuses)]
    pub status: Option<String>,
    /// Runs asked for by this user or API key.
    pub user: Option<Uuid>,
    /// Runs created at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// How many, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// The organisation's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/executions",
    tag = "executions",
    security(("bearer" = ["viewer"])),
    params(ExecutionQuery),
    responses(
        (status = 200, description = "A page of runs", body = Page<ExecutionView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<ExecutionQuery>,
) -> Result<Json<Page<ExecutionView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let status = parse_filter::<ExecutionStatus>("status", query.status.as_deref())?;
    let tool = text_filter("tool", query.tool.as_deref())?;
    let since = time_filter("since", query.since)?;
    let filter = ExecutionFilter { tool, status, actor_id: query.user, since };
    let runs = app.store.executions().list(caller.org, &filter, asked.seek()).await?;
    Ok(Json(asked.page(runs, ExecutionView::from, |run| run.id)))
}

/// One run: status, progress, result, who and when.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}",
    tag = "executions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = ExecutionView),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<ExecutionId>,
) -> Result<Json<ExecutionView>, ApiError> {
    Ok(Json(app.store.executions().get(caller.org, id).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Lines after this number (0 for the first page).
    #[param(value_type = Option<u64>, maximum = 4294967295.0)]
    pub after: Option<u32>,
    /// How many lines, 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    pub seq: u32,
    pub at: DateTime<Utc>,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    pub line: String,
}

impl From<LogLine> for LogLineView {
    fn from(line: LogLine) -> Self {
        Self { seq: line.seq, at: line.at, stream: line.stream.as_str(), line: line.line }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"seq": 1, "at": "2026-11-24T20:00:00Z", "stream": "stdout", "line": "waiting 100 ms"}], "next_after": null, "truncated": false}))]
pub struct LogPage {
    pub items: Vec<LogLineView>,
    /// Pass as `after` for the next page; absent when these were the last lines so far.
    pub next_after: Option<u32>,
    /// Lines beyond the cap were dropped.
    pub truncated: bool,
}

/// A run's log lines, in order.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}/logs",
    tag = "executions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The run's id"), LogQuery),
    responses(
        (status = 200, description = "A page of lines", body = LogPage),
    )
)]
pub async fn logs(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<ExecutionId>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    let limit = query.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ValidationErrors::single("limit", "must be between 1 and 1000").into());
    }
    let run = app.store.executions().get(caller.org, id).await?;
    let lines = app.store.executions().logs(caller.org, id, query.after.unwrap_or(0), limit + 1).await?;
    let more = lines.len() > limit as usize;
    let items: Vec<LogLineView> = lines.into_iter().take(limit as usize).map(LogLineView::from).collect();
    let next_after = if more { items.last().map(|line| line.seq) } else { None };
    Ok(Json(LogPage { items, next_after, truncated: run.log_truncated }))
}

/// Cancel a run: a queued one at once, a running one as soon as its worker hears of it.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{id}/cancel",
    tag = "executions",
    security(("bearer" = ["analyst"])),
    params(("id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 202, description = "Cancelled, or asked to stop", body = ExecutionView),
    )
)]
pub async fn cancel(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<ExecutionId>,
) -> Result<(StatusCode, Json<ExecutionView>), ApiError> {
    let execution = app.engine.cancel(&caller.acting(context), id).await?;
    Ok((StatusCode::ACCEPTED, Json(execution.into())))
}
