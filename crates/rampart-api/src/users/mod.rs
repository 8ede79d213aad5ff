//! `/api/v1/users`: every account of the server, for superusers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rampart_core::UserId;
use rampart_core::identity::{NewUser, UserPatch};
use rampart_identity::AccountChanges;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::dto::UserView;
use crate::auth::{Caller, Context, Superuser};
use crate::error::{ApiError, Problem};
use crate::pagination::{Page, PageQuery};
use crate::{ApiJson, ApiQuery, AppState};

/// Every account of the server.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, delete)).routes(routes!(deactivate))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "email": "grace@example.com", "username": "grace", "password": "compilers all the way down",
    "full_name": "Grace Hopper", "is_superuser": false
}))]
pub struct NewUserBody {
    pub email: String,
    #[schema(schema_with = crate::schemas::username)]
    pub username: String,
    #[schema(schema_with = crate::schemas::password)]
    pub password: String,
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub is_superuser: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"full_name": "Grace B. Hopper", "is_active": true}))]
pub struct UserPatchBody {
    #[schema(schema_with = crate::schemas::full_name_or_null)]
    pub full_name: Option<String>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
    /// A new password for the account.
    #[schema(schema_with = crate::schemas::password_or_null)]
    pub password: Option<String>,
}

/// Every user, by id.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = ["superuser"])),
    params(PageQuery),
    responses((status = 200, description = "A page of users", body = Page<UserView>))
)]
pub async fn list(
    _caller: Caller<Superuser>,
    State(app): State<AppState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    let asked = PageQuery::parse(page.limit, page.cursor.as_deref())?;
    let users = app.store.users().list(asked.seek()).await?;
    Ok(Json(asked.page(users, UserView::from, |user| user.id)))
}

/// Create an account (with its personal organisation).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = ["superuser"])),
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 422, description = "Invalid or taken fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Superuser>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let mut new = NewUser::parse(&body.email, &body.username, &body.full_name, &body.password)?;
    new.is_superuser = body.is_superuser;
    let user = app.identity.admin_create_user(&caller, new, &body.password, &context).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One user.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = ["superuser"])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    _caller: Caller<Superuser>,
    State(app): State<AppState>,
    Path(id): Path<UserId>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(app.store.users().get(id).await?.into()))
}

/// Change a user's name, status, superuser flag or password. A deactivated user is refused on
/// their very next request; a new password ends every session of the user.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = ["superuser"])),
    params(("id" = Uuid, Path, description = "The user's id")),
    request_body = UserPatchBody,
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    caller: Caller<Superuser>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<UserId>,
    ApiJson(body): ApiJson<UserPatchBody>,
) -> Result<Json<UserView>, ApiError> {
    let changes = AccountChanges {
        patch: UserPatch { full_name: body.full_name, is_active: body.is_active, is_superuser: body.is_superuser },
        password: body.password,
    };
    Ok(Json(app.identity.admin_update_user(&caller, id, changes, &context).await?.into()))
}

/// Deactivate a user: they are refused from their next request on, and cannot log in.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/deactivate",
    tag = "users",
    security(("bearer" = ["superuser"])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, now inactive", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deactivate(
    caller: Caller<Superuser>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<UserId>,
) -> Result<Json<UserView>, ApiError> {
    let changes =
        AccountChanges { patch: UserPatch { is_active: Some(false), ..UserPatch::default() }, password: None };
    Ok(Json(app.identity.admin_update_user(&caller, id, changes, &context).await?.into()))
}

/// Delete a user and the organisations only they belong to. Refused while they are the last
/// admin of an organisation with other members.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = ["superuser"])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last admin of an organisation with other members", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    caller: Caller<Superuser>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<UserId>,
) -> Result<StatusCode, ApiError> {
    app.identity.admin_delete_user(&caller, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
