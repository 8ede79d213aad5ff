//! `/api/v1/targets` and `/api/v1/scope/check`: the organisation's authorised targets, and what a
//! scan would be allowed to touch.

mod dto;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use rampart_core::targets::{NewTarget, TargetKind, parse_note, parse_ports, parse_tags};
use rampart_core::{TargetId, ValidationErrors};
use rampart_scope::BULK_MAX;
use rampart_store::{TargetFilter, TargetPatch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use dto::*;

use crate::auth::{Analyst, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery, parse_filter, text_filter};
use crate::{ApiJson, ApiQuery, AppState};

/// The authorised targets and the scope check.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, update, delete))
        .routes(routes!(bulk))
        .routes(routes!(check))
}

impl From<rampart_scope::TargetError> for ApiError {
    fn from(error: rampart_scope::TargetError) -> Self {
        match error {
            rampart_scope::TargetError::Invalid(errors) => errors.into(),
            rampart_scope::TargetError::Store(error) => error.into(),
        }
    }
}

/// Authorise a target: an address, a network, a host name or `*.domain`, optionally limited to
/// ports, or excluded (a hole in what is included). The server's policy decides what may be
/// authorised at all: a value outside it is refused on `value`.
#[utoipa::path(
    post,
    path = "/api/v1/targets",
    tag = "targets",
    security(("bearer" = ["analyst"])),
    request_body = NewTargetBody,
    responses(
        (status = 201, description = "Stored, normalised", body = TargetView),
        (status = 409, description = "The organisation has this target already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewTargetBody>,
) -> Result<(StatusCode, Json<TargetView>), ApiError> {
    let target = NewTarget::parse(&body.value, body.ports.as_deref(), body.exclude, &body.note, &body.tags)?;
    let stored = app.scope.create(&caller.acting(context), target).await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// The organisation's targets, with filters.
#[utoipa::path(
    get,
    path = "/api/v1/targets",
    tag = "targets",
    security(("bearer" = ["viewer"])),
    params(TargetQuery),
    responses(
        (status = 200, description = "A page of targets", body = Page<TargetView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<TargetQuery>,
) -> Result<Json<Page<TargetView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let kind = parse_filter::<TargetKind>("kind", query.kind.as_deref())?;
    let tag = text_filter("tag", query.tag.as_deref())?;
    let search = text_filter("q", query.q.as_deref())?;
    let filter = TargetFilter { kind, exclude: query.exclude, tag, search };
    let targets = app.store.targets().list(caller.org, &filter, asked.seek()).await?;
    Ok(Json(asked.page(targets, TargetView::from, |target| target.id)))
}

/// One target.
#[utoipa::path(
    get,
    path = "/api/v1/targets/{id}",
    tag = "targets",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The target's id")),
    responses(
        (status = 200, description = "The target", body = TargetView),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<TargetId>,
) -> Result<Json<TargetView>, ApiError> {
    Ok(Json(app.store.targets().get(caller.org, id).await?.into()))
}

/// Change a target's ports, exclusion, note or tags (its value is fixed: delete and create instead).
#[utoipa::path(
    patch,
    path = "/api/v1/targets/{id}",
    tag = "targets",
    security(("bearer" = ["analyst"])),
    params(("id" = Uuid, Path, description = "The target's id")),
    request_body = TargetPatchBody,
    responses(
        (status = 200, description = "The target as changed", body = TargetView),
        (status = 409, description = "The same value already exists with that exclusion", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<TargetId>,
    ApiJson(body): ApiJson<TargetPatchBody>,
) -> Result<Json<TargetView>, ApiError> {
    let mut errors = ValidationErrors::new();
    let ports = match body.ports {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => errors.check("ports", parse_ports(&text)).map(Some),
    };
    let note = body.note.as_deref().and_then(|note| errors.check("note", parse_note(note)));
    let tags = body.tags.as_deref().and_then(|tags| errors.check("tags", parse_tags(tags)));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let patch = TargetPatch { ports, exclude: body.exclude, note, tags };
    Ok(Json(app.scope.update(&caller.acting(context), id, patch).await?.into()))
}

/// Remove a target from the scope.
#[utoipa::path(
    delete,
    path = "/api/v1/targets/{id}",
    tag = "targets",
    security(("bearer" = ["analyst"])),
    params(("id" = Uuid, Path, description = "The target's id")),
    responses(
        (status = 204, description = "Removed"),
    )
)]
pub async fn delete(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<TargetId>,
) -> Result<StatusCode, ApiError> {
    app.scope.delete(&caller.acting(context), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Import up to 10,000 targets: newline-separated text (`text/plain`; blank lines and `#`
/// comments skipped) or a JSON array of strings. Valid lines are created; each rejected or
/// duplicate line is reported. Query parameters give every imported target its ports, tags or
/// exclusion.
#[utoipa::path(
    post,
    path = "/api/v1/targets/bulk",
    tag = "targets",
    security(("bearer" = ["analyst"])),
    params(BulkQuery),
    request_body(content = Vec<String>, description = "A JSON array of target values, or the same as text/plain lines",
        example = json!(["10.0.0.0/16", "*.example.com", "db.example.com", "10.0.0.0/33"])),
    responses(
        (status = 200, description = "What was created, what was a duplicate, what was refused and why", body = BulkReport),
        (status = 413, description = "More than 10,000 lines", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor text", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn bulk(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiQuery(query): ApiQuery<BulkQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BulkReport>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let bulk = match essence.as_str() {
        "application/json" => crate::body::parse::<BulkLines>(&body)?,
        "text/plain" => BulkLines::of_text(
            std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the text is not UTF-8".into()))?,
        ),
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send application/json (an array of strings) or text/plain (one target a line)".into(),
            ));
        }
    };
    if bulk.total > BULK_MAX {
        return Err(ApiError::PayloadTooLarge);
    }
    let lines = bulk.kept;
    let tags: Vec<String> =
        query.tags.as_deref().map(|t| t.split(',').map(str::to_owned).collect()).unwrap_or_default();
    // The template's value is a placeholder: each line brings its own.
    let template =
        NewTarget::parse("template.invalid", query.ports.as_deref(), query.exclude.unwrap_or(false), "", &tags)?;
    let report = app.scope.import(&caller.acting(context), &lines, &template).await?;
    Ok(Json(report.into()))
}

/// What a scan would be allowed to touch: in or out of scope, and why, for each `host[:port]`.
/// Names are checked as written; when a tool runs, each address they resolve to is checked too.
#[utoipa::path(
    post,
    path = "/api/v1/scope/check",
    tag = "targets",
    security(("bearer" = ["viewer"])),
    request_body = ScopeCheckBody,
    responses(
        (status = 200, description = "One answer per input, in order", body = ScopeCheckResponse),
        (status = 422, description = "Too many inputs", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check(
    caller: Caller,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<ScopeCheckBody>,
) -> Result<Json<ScopeCheckResponse>, ApiError> {
    if !(1..=CHECK_MAX).contains(&body.targets.total) {
        return Err(ValidationErrors::single("targets", format!("give 1 to {CHECK_MAX} entries")).into());
    }
    let results = app.scope.check(caller.org, &body.targets.kept).await?;
    Ok(Json(ScopeCheckResponse { results: results.into_iter().map(ScopeCheckView::from).collect() }))
}
