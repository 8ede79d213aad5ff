//! `/api/v1/orgs`: organisations and their members. A credential works in one organisation: the
//! `{id}` of these routes must be that one (others are 404; switch organisation first). People
//! join by invitation (see [`invitations`]); only a superuser adds a member directly.

pub mod invitations;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rampart_core::identity::Role;
use rampart_core::orgs::NewOrganisation;
use rampart_core::{OrgId, UserId, ValidationErrors};
use rampart_store::Member;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::dto::{MembershipView, OrgView};
use crate::auth::{Admin, Caller, Context, Superuser};
use crate::error::{ApiError, Problem};
use crate::{ApiJson, AppState};

/// Organisations, their members and invitations.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update))
        .routes(routes!(members, add_member))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(leave))
        .routes(routes!(invitations::create, invitations::list))
        .routes(routes!(invitations::revoke))
        .routes(routes!(invitations::mine))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::decline))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Blue Team", "slug": "blue-team"}))]
pub struct OrgBody {
    pub name: String,
    /// Lowercase letters, digits and hyphens; derived from the name when absent.
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "grace@example.com", "role": "analyst"}))]
pub struct NewMemberBody {
    /// The email of an existing account.
    pub email: String,
    #[schema(schema_with = crate::schemas::roles)]
    pub role: String,
}

/// A member's account as the organisation sees it: never whether they are a superuser.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberUserView {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub is_active: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"role": "viewer"}))]
pub struct MemberPatchBody {
    #[schema(schema_with = crate::schemas::roles)]
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "user": {"id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "email": "grace@example.com", "username": "grace",
             "full_name": "Grace Hopper", "is_active": true},
    "role": "analyst", "since": "2026-11-24T20:00:00Z"
}))]
pub struct MemberView {
    pub user: MemberUserView,
    pub role: &'static str,
    pub since: DateTime<Utc>,
}

impl From<Member> for MemberView {
    fn from(member: Member) -> Self {
        let user = member.user;
        Self {
            user: MemberUserView {
                id: user.id.as_uuid(),
                email: user.email.as_str().to_owned(),
                username: user.username.as_str().to_owned(),
                full_name: user.full_name,
                is_active: user.is_active,
            },
            role: member.role.as_str(),
            since: member.since,
        }
    }
}

fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse::<Role>().map_err(|message| ApiError::from(ValidationErrors::single("role", message)))
}

/// The organisation of the path, which must be the caller's own.
pub(crate) fn own_org(caller_org: OrgId, id: OrgId) -> Result<OrgId, ApiError> {
    if caller_org == id { Ok(caller_org) } else { Err(ApiError::NotFound) }
}

/// The organisations the calling user belongs to.
#[utoipa::path(
    get,
    path = "/api/v1/orgs",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    responses((status = 200, description = "The caller's memberships", body = Vec<MembershipView>))
)]
pub async fn list(caller: Caller, State(app): State<AppState>) -> Result<Json<Vec<MembershipView>>, ApiError> {
    let memberships = match caller.user_id() {
        Some(user) => app.store.users().memberships(user).await?,
        None => Vec::new(),
    };
    Ok(Json(memberships.into_iter().map(MembershipView::from).collect()))
}

/// Create an organisation; the calling user becomes its admin.
#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    request_body = OrgBody,
    responses(
        (status = 201, description = "Created", body = OrgView),
        (status = 403, description = "Not a user (an API key cannot create organisations)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or taken fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<OrgBody>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    let new = NewOrganisation::parse(&body.name, body.slug.as_deref())?;
    let org = app.identity.create_org(&caller, new, &context).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// The caller's organisation.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The organisation's id")),
    responses(
        (status = 200, description = "The organisation", body = OrgView),
    )
)]
pub async fn get(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<OrgId>,
) -> Result<Json<OrgView>, ApiError> {
    let org = own_org(caller.org, id)?;
    Ok(Json(app.store.orgs().get(org).await?.into()))
}

/// Rename the organisation.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{id}",
    tag = "orgs",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The organisation's id")),
    request_body = OrgBody,
    responses(
        (status = 200, description = "The organisation as changed", body = OrgView),
        (status = 422, description = "Invalid or taken fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<OrgId>,
    ApiJson(body): ApiJson<OrgBody>,
) -> Result<Json<OrgView>, ApiError> {
    own_org(caller.org, id)?;
    let changes = NewOrganisation::parse(&body.name, body.slug.as_deref())?;
    Ok(Json(app.identity.update_org(&caller, changes, &context).await?.into()))
}

/// The members of the organisation.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}/members",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The organisation's id")),
    responses(
        (status = 200, description = "The members", body = Vec<MemberView>),
    )
)]
pub async fn members(
    caller: Caller,
    State(app): State<AppState>,
    Path(id): Path<OrgId>,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    let org = own_org(caller.org, id)?;
    Ok(Json(app.store.members().list(org).await?.into_iter().map(MemberView::from).collect()))
}

/// Add an existing user, by email, with a role, without an invitation: for superusers only,
/// in any organisation. Everyone else invites (`POST /api/v1/orgs/{id}/invitations`).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{id}/members",
    tag = "orgs",
    security(("bearer" = ["superuser"])),
    params(("id" = Uuid, Path, description = "The organisation's id")),
    request_body = NewMemberBody,
    responses(
        (status = 201, description = "Added", body = MemberView),
        (status = 403, description = "Not a superuser", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such account, already a member, or a bad role", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_member(
    caller: Caller<Superuser>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<OrgId>,
    ApiJson(body): ApiJson<NewMemberBody>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let role = parse_role(&body.role)?;
    let member = app.identity.add_member(&caller, id, &body.email, role, &context).await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

/// Leave the organisation: the calling user stops being a member, and their sessions in it end.
/// Its last admin cannot leave.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{id}/leave",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The organisation's id")),
    responses(
        (status = 204, description = "Left"),
        (status = 403, description = "Not a user (an API key belongs to its organisation)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last admin cannot leave", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn leave(
    caller: Caller,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<OrgId>,
) -> Result<StatusCode, ApiError> {
    own_org(caller.org, id)?;
    app.identity.leave_org(&caller, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change a member's role. The last admin cannot be demoted.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{id}/members/{user_id}",
    tag = "orgs",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The organisation's id"), ("user_id" = Uuid, Path, description = "The member's user id")),
    request_body = MemberPatchBody,
    responses(
        (status = 200, description = "The member as changed", body = MemberView),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave the organisation without an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_member(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path((id, user_id)): Path<(OrgId, UserId)>,
    ApiJson(body): ApiJson<MemberPatchBody>,
) -> Result<Json<MemberView>, ApiError> {
    own_org(caller.org, id)?;
    let role = parse_role(&body.role)?;
    Ok(Json(app.identity.set_member_role(&caller, user_id, role, &context).await?.into()))
}

/// Remove a member. The last admin cannot be removed.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{id}/members/{user_id}",
    tag = "orgs",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The organisation's id"), ("user_id" = Uuid, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed; their sessions in this organisation end at once"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave the organisation without an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path((id, user_id)): Path<(OrgId, UserId)>,
) -> Result<StatusCode, ApiError> {
    own_org(caller.org, id)?;
    app.identity.remove_member(&caller, user_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
