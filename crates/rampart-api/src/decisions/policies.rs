//! `/api/v1/policies`: decisions made on their own from alerts. Admins keep them; everyone reads
//! them and what they did (`/api/v1/policies/{id}/hits`, dry runs included).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_core::PolicyId;
use rampart_core::watch::policies::PolicyRule;

use super::dto::{PolicyBody, PolicyHitView, PolicyView};
use crate::auth::{Admin, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery};
use crate::{ApiJson, ApiQuery, AppState};

/// Make a policy: alerts of an attack type past a score or a count ban their source, longer
/// for each repeat.
#[utoipa::path(
    post,
    path = "/api/v1/policies",
    tag = "decisions",
    security(("bearer" = ["admin"])),
    request_body = PolicyBody,
    responses(
        (status = 201, description = "Made", body = PolicyView),
        (status = 409, description = "The organisation has a policy of that name, or 100 policies", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<(StatusCode, Json<PolicyView>), ApiError> {
    let rule = PolicyRule::parse(&body.into())?;
    let policy = app.decisions.create_policy(&caller.acting(context), &rule).await?;
    Ok((StatusCode::CREATED, Json(policy.into())))
}

/// The organisation's policies.
#[utoipa::path(
    get,
    path = "/api/v1/policies",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of policies", body = Page<PolicyView>),
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<PolicyView>>, ApiError> {
    let asked = PageQuery::parse(query.limit, query.cursor.as_deref())?;
    let policies = app.decisions.policies(caller.org, asked.seek()).await?;
    Ok(Json(asked.page(policies, PolicyView::from, |view| view.id)))
}

/// One policy.
#[utoipa::path(
    get,
    path = "/api/v1/policies/{id}",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The policy's id")),
    responses(
        (status = 200, description = "The policy", body = PolicyView),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<PolicyId>,
) -> Result<Json<PolicyView>, ApiError> {
    Ok(Json(app.decisions.policy(caller.org, id).await?.into()))
}

/// Replace a policy (switch it off with `enabled: false`, or to a dry run).
#[utoipa::path(
    put,
    path = "/api/v1/policies/{id}",
    tag = "decisions",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The policy's id")),
    request_body = PolicyBody,
    responses(
        (status = 200, description = "The policy as replaced", body = PolicyView),
        (status = 409, description = "The organisation has a policy of that name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<PolicyId>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<PolicyView>, ApiError> {
    let rule = PolicyRule::parse(&body.into())?;
    Ok(Json(app.decisions.update_policy(&caller.acting(context), id, &rule).await?.into()))
}

/// Delete a policy; the decisions it made stay until they end.
#[utoipa::path(
    delete,
    path = "/api/v1/policies/{id}",
    tag = "decisions",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The policy's id")),
    responses(
        (status = 204, description = "Deleted"),
    )
)]
pub async fn delete(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<PolicyId>,
) -> Result<StatusCode, ApiError> {
    app.decisions.delete_policy(&caller.acting(context), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a policy did with the alerts it took, newest first: decisions made, what a dry run would
/// have made, sources it left alone because the allowlist holds them.
#[utoipa::path(
    get,
    path = "/api/v1/policies/{id}/hits",
    tag = "decisions",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The policy's id")),
    responses(
        (status = 200, description = "Its latest 500 hits", body = Vec<PolicyHitView>),
    )
)]
pub async fn hits(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<PolicyId>,
) -> Result<Json<Vec<PolicyHitView>>, ApiError> {
    let hits = app.decisions.hits(caller.org, id, 500).await?;
    Ok(Json(hits.into_iter().map(PolicyHitView::from).collect()))
}
