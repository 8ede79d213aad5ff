//! Decisions over HTTP: `/api/v1/decisions` (analysts make and end them, everyone reads),
//! `/api/v1/allowlist` and `/api/v1/bouncers` (admins), and the CrowdSec bouncer protocol
//! (`/v1/decisions/stream`, `/v1/decisions`) that firewalls pull with a bouncer's key.

mod allowlist;
mod bouncers;
pub mod dto;
mod policies;
pub(crate) mod protocol;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use rampart_core::watch::decisions::{Addresses, Decision, DecisionInput, DecisionKind, DecisionOrigin};
use rampart_core::watch::export::ExportFormat;
use rampart_core::{AlertId, DecisionId, ValidationErrors};
use rampart_store::DecisionFilter;
use rampart_watch::decisions::Selection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Analyst, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery, parse_filter, text_filter};
use crate::{ApiJson, ApiQuery, AppState};
use dto::{DecisionQuery, DecisionView, DeleteQuery, Deleted, ExportQuery, ImportBody, Imported, NewDecisionBody};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list, delete_matching))
        .routes(routes!(import))
        .routes(routes!(export))
        .routes(routes!(get, delete))
        .routes(routes!(allowlist::add, allowlist::list))
        .routes(routes!(allowlist::delete))
        .routes(routes!(bouncers::create, bouncers::list))
        .routes(routes!(bouncers::get, bouncers::delete))
        .routes(routes!(policies::create, policies::list))
        .routes(routes!(policies::get, policies::update, policies::delete))
        .routes(routes!(policies::hits))
        .routes(routes!(protocol::stream))
        .routes(routes!(protocol::lookup))
}

/// Block an address or a network: a decision firewalls apply until it ends.
#[utoipa::path(
    post,
    path = "/api/v1/decisions",
    tag = "decisions",
    security(("bearer" = ["analyst"])),
    request_body = NewDecisionBody,
    responses(
        (status = 201, description = "Made; bouncers are told on their next pull", body = DecisionView),
        (status = 422, description = "A field is invalid, or the value covers an allowlisted address (the entry is named)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewDecisionBody>,
) -> Result<(StatusCode, Json<DecisionView>), ApiError> {
    let made = app.decisions.make(&caller.acting(context), &[body.into()], DecisionOrigin::Manual).await?;
    let decision = made.into_iter().next().ok_or_else(|| ApiError::Internal("no decision was made".into()))?;
    Ok((StatusCode::CREATED, Json(DecisionView::of(decision, app.decisions.now()))))
}

/// Import up to 10,000 decisions at once, all or none (origin `import`).
#[utoipa::path(
    post,
    path = "/api/v1/decisions/import",
    tag = "decisions",
    security(("bearer" = ["analyst"])),
    request_body = ImportBody,
    responses(
        (status = 201, description = "Made", body = Imported),
        (status = 422, description = "A decision is invalid or covers an allowlisted address (`decisions[i].field`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<ImportBody>,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    if body.decisions.is_empty() {
        return Err(ValidationErrors::single("decisions", "must not be empty").into());
    }
    let inputs: Vec<DecisionInput> = body.decisions.into_iter().map(DecisionInput::from).collect();
    let made = app.decisions.make(&caller.acting(context), &inputs, DecisionOrigin::Import).await?;
    Ok((StatusCode::CREATED, Json(Imported { created: made.len() })))
}

/// The organisation's decisions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/decisions",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(DecisionQuery),
    responses(
        (status = 200, description = "A page of decisions", body = Page<DecisionView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<DecisionQuery>,
) -> Result<Json<Page<DecisionView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let filter = DecisionFilter {
        active: query.active,
        ..filter(&query.value, &query.kind, &query.scope, &query.origin, &query.scenario, query.alert_id)?
    };
    let decisions = app.decisions.list(caller.org, &filter, asked.seek()).await?;
    let now = app.decisions.now();
    Ok(Json(asked.page(decisions, |decision| DecisionView::of(decision, now), |view| view.id)))
}

/// End every decision that applies and matches the filters (at least one), at most 10,000.
#[utoipa::path(
    delete,
    path = "/api/v1/decisions",
    tag = "decisions",
    security(("bearer" = ["analyst"])),
    params(DeleteQuery),
    responses(
        (status = 200, description = "How many were ended", body = Deleted),
        (status = 422, description = "No filter, or an invalid one", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_matching(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<Json<Deleted>, ApiError> {
    let filter = filter(&query.value, &query.kind, &query.scope, &query.origin, &query.scenario, query.alert_id)?;
    let DecisionFilter { value: None, kind: None, scope: None, origin: None, scenario: None, alert: None, .. } = filter
    else {
        let ended = app.decisions.delete_matching(&caller.acting(context), &filter).await?;
        return Ok(Json(Deleted { deleted: ended.len() }));
    };
    Err(ValidationErrors::single("value", "name what to end: value, kind, scope, origin, scenario or alert_id").into())
}

/// The decisions that apply, written for a firewall that pulls nothing: each value once, with
/// the time left of its longest decision.
#[utoipa::path(
    get,
    path = "/api/v1/decisions/export",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(ExportQuery),
    responses(
        (status = 200, description = "The ruleset, the restore input or the list", body = String, content_type = "text/plain"),
    )
)]
pub async fn export(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let format = parse_filter::<ExportFormat>("format", query.format.as_deref())?.unwrap_or(ExportFormat::Plain);
    let kind: DecisionKind = parse_filter("type", query.kind.as_deref())?.unwrap_or(DecisionKind::Ban);
    let selection = Selection { kinds: Some(vec![kind]), ..Selection::default() };
    let applying = app.decisions.applying(caller.org, &selection);
    let decisions: Vec<&Decision> = applying.iter().map(AsRef::as_ref).collect();
    let text = rampart_core::watch::export::export(format, &decisions, app.decisions.now());
    Ok(([(header::CONTENT_TYPE, format.content_type())], text))
}

/// One decision.
#[utoipa::path(
    get,
    path = "/api/v1/decisions/{id}",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The decision's id")),
    responses(
        (status = 200, description = "The decision", body = DecisionView),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<DecisionId>,
) -> Result<Json<DecisionView>, ApiError> {
    let decision = app.decisions.get(caller.org, id).await?;
    Ok(Json(DecisionView::of(decision, app.decisions.now())))
}

/// End a decision before its end: bouncers lift it on their next pull.
#[utoipa::path(
    delete,
    path = "/api/v1/decisions/{id}",
    tag = "decisions",
    security(("bearer" = ["analyst"])),
    params(("id" = Uuid, Path, description = "The decision's id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No decision of the organisation that applies has this id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<DecisionId>,
) -> Result<StatusCode, ApiError> {
    app.decisions.delete(&caller.acting(context), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads the filters shared by the list and the bulk delete, every bad one named.
fn filter(
    value: &Option<String>,
    kind: &Option<String>,
    scope: &Option<String>,
    origin: &Option<String>,
    scenario: &Option<String>,
    alert: Option<uuid::Uuid>,
) -> Result<DecisionFilter, ApiError> {
    let value = match value.as_deref() {
        Some(value) => Some(Addresses::parse(value).map_err(|message| ValidationErrors::single("value", message))?),
        None => None,
    };
    Ok(DecisionFilter {
        value,
        kind: parse_filter("kind", kind.as_deref())?,
        scope: parse_filter("scope", scope.as_deref())?,
        origin: parse_filter("origin", origin.as_deref())?,
        scenario: text_filter("scenario", scenario.as_deref())?,
        alert: alert.map(AlertId::from_uuid),
        active: None,
    })
}
