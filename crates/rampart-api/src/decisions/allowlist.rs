//! `/api/v1/allowlist`: addresses and networks no decision may cover. Admins add and remove
//! entries; adding one ends the decisions that cover it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_core::AllowEntryId;
use rampart_core::watch::decisions::NewAllowEntry;

use super::dto::{AllowAdded, AllowView, NewAllowBody};
use crate::auth::{Admin, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery};
use crate::{ApiJson, ApiQuery, AppState};

/// Allow an address or a network: no decision may cover it, and those that do are ended.
#[utoipa::path(
    post,
    path = "/api/v1/allowlist",
    tag = "decisions",
    security(("bearer" = ["admin"])),
    request_body = NewAllowBody,
    responses(
        (status = 201, description = "Added, with how many decisions it ended", body = AllowAdded),
        (status = 409, description = "The allowlist holds this value already, or is full", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewAllowBody>,
) -> Result<(StatusCode, Json<AllowAdded>), ApiError> {
    let new = NewAllowEntry::parse(&body.value, body.note.as_deref())?;
    let (entry, ended) = app.decisions.allow(&caller.acting(context), &new).await?;
    Ok((StatusCode::CREATED, Json(AllowAdded { entry: entry.into(), ended: ended.len() })))
}

/// The allowlist.
#[utoipa::path(
    get,
    path = "/api/v1/allowlist",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of entries", body = Page<AllowView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<AllowView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let entries = app.decisions.allowlist(caller.org, asked.seek()).await?;
    Ok(Json(asked.page(entries, AllowView::from, |view| view.id)))
}

/// Remove an entry: decisions may cover it again (those it ended stay ended).
#[utoipa::path(
    delete,
    path = "/api/v1/allowlist/{id}",
    tag = "decisions",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The entry's id")),
    responses(
        (status = 204, description = "Removed"),
    )
)]
pub async fn delete(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<AllowEntryId>,
) -> Result<StatusCode, ApiError> {
    app.decisions.disallow(&caller.acting(context), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
