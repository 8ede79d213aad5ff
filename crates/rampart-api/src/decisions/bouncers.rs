//! `/api/v1/bouncers`: the firewalls that pull the organisation's decisions. Admins make and
//! delete them; a bouncer's key is shown once, when it is made.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_core::BouncerId;

use super::dto::{BouncerView, BouncerWithKey, NewBouncerBody};
use crate::auth::{Admin, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery};
use crate::{ApiJson, ApiQuery, AppState};

/// Register a bouncer; the answer carries its key (its `api_key`), shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/bouncers",
    tag = "decisions",
    security(("bearer" = ["admin"])),
    request_body = NewBouncerBody,
    responses(
        (status = 201, description = "Made, with its key", body = BouncerWithKey),
        (status = 409, description = "The organisation has a bouncer of that name, or 1,000 bouncers", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewBouncerBody>,
) -> Result<(StatusCode, Json<BouncerWithKey>), ApiError> {
    let (bouncer, key) = app.decisions.create_bouncer(&caller.acting(context), &body.name).await?;
    Ok((StatusCode::CREATED, Json(BouncerWithKey { bouncer: bouncer.into(), key })))
}

/// The organisation's bouncers, with their last pull.
#[utoipa::path(
    get,
    path = "/api/v1/bouncers",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of bouncers", body = Page<BouncerView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<BouncerView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let bouncers = app.decisions.bouncers(caller.org, asked.seek()).await?;
    Ok(Json(asked.page(bouncers, BouncerView::from, |view| view.id)))
}

/// One bouncer.
#[utoipa::path(
    get,
    path = "/api/v1/bouncers/{id}",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The bouncer's id")),
    responses(
        (status = 200, description = "The bouncer", body = BouncerView),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<BouncerId>,
) -> Result<Json<BouncerView>, ApiError> {
    Ok(Json(app.decisions.bouncer(caller.org, id).await?.into()))
}

/// Delete a bouncer: its key stops working.
#[utoipa::path(
    delete,
    path = "/api/v1/bouncers/{id}",
    tag = "decisions",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The bouncer's id")),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
pub async fn delete(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<BouncerId>,
) -> Result<StatusCode, ApiError> {
    app.decisions.delete_bouncer(&caller.acting(context), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
