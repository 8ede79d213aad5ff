//! Invitations: an admin invites an email address to the organisation
//! (`/api/v1/orgs/{id}/invitations`); the person with that address sees theirs at
//! `/api/v1/invitations` and accepts or declines each. Inviting answers alike whether or not an
//! account has the address.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rampart_core::identity::Invitation;
use rampart_core::{InvitationId, OrgId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::dto::MembershipView;
use crate::auth::{Admin, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::orgs::own_org;
use crate::{ApiJson, AppState};

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "grace@example.com", "role": "analyst"}))]
pub struct NewInvitationBody {
    /// The address to invite; whether an account has it is never told.
    pub email: String,
    /// `admin`, `analyst` or `viewer`.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f14", "org_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12",
    "org_name": "Lovelace Security", "email": "grace@example.com", "role": "analyst",
    "invited_by": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "created_at": "2026-11-24T20:00:00Z",
    "expires_at": "2026-12-01T20:00:00Z"
}))]
pub struct InvitationView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub org_name: String,
    pub email: String,
    pub role: &'static str,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// After this, the invitation can no longer be accepted.
    pub expires_at: DateTime<Utc>,
}

impl From<Invitation> for InvitationView {
    fn from(invitation: Invitation) -> Self {
        Self {
            id: invitation.id.as_uuid(),
            org_id: invitation.org_id.as_uuid(),
            org_name: invitation.org_name,
            email: invitation.email.as_str().to_owned(),
            role: invitation.role.as_str(),
            invited_by: invitation.invited_by.map(|id| id.as_uuid()),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        }
    }
}

/// Invite an email address to the organisation with a role, for 7 days; inviting it again renews
/// the invitation. The answer is the same whether or not an account has the address.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{id}/invitations",
    tag = "orgs",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The organisation's id")),
    request_body = NewInvitationBody,
    responses(
        (status = 201, description = "Invited", body = InvitationView),
        (status = 403, description = "Not an admin, or not a user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too many open invitations", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad address or role, or already a member", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<OrgId>,
    ApiJson(body): ApiJson<NewInvitationBody>,
) -> Result<(StatusCode, Json<InvitationView>), ApiError> {
    own_org(caller.org, id)?;
    let invitation = app.identity.invite(&caller, &body.email, &body.role, &context).await?;
    Ok((StatusCode::CREATED, Json(invitation.into())))
}

/// The organisation's open invitations.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}/invitations",
    tag = "orgs",
    security(("bearer" = ["admin"])),
    params(("id" = Uuid, Path, description = "The organisation's id")),
    responses(
        (status = 200, description = "The open invitations", body = Vec<InvitationView>),
    )
)]
pub async fn list(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Path(id): Path<OrgId>,
) -> Result<Json<Vec<InvitationView>>, ApiError> {
    own_org(caller.org, id)?;
    let invitations = app.identity.org_invitations(&caller).await?;
    Ok(Json(invitations.into_iter().map(InvitationView::from).collect()))
}

/// Withdraw an invitation.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{id}/invitations/{invitation_id}",
    tag = "orgs",
    security(("bearer" = ["admin"])),
    params(
        ("id" = Uuid, Path, description = "The organisation's id"),
        ("invitation_id" = Uuid, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 204, description = "Withdrawn"),
    )
)]
pub async fn revoke(
    caller: Caller<Admin>,
    State(app): State<AppState>,
    Context(context): Context,
    Path((id, invitation_id)): Path<(OrgId, InvitationId)>,
) -> Result<StatusCode, ApiError> {
    own_org(caller.org, id)?;
    app.identity.revoke_invitation(&caller, invitation_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The open invitations addressed to the calling user, from every organisation.
#[utoipa::path(
    get,
    path = "/api/v1/invitations",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    responses(
        (status = 200, description = "Your open invitations", body = Vec<InvitationView>),
        (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn mine(caller: Caller, State(app): State<AppState>) -> Result<Json<Vec<InvitationView>>, ApiError> {
    let invitations = app.identity.my_invitations(&caller).await?;
    Ok(Json(invitations.into_iter().map(InvitationView::from).collect()))
}

/// Accept an invitation addressed to you: you become a member with its role. Switch to the
/// organisation (`/api/v1/auth/switch-org`) to work in it.
#[utoipa::path(
    post,
    path = "/api/v1/invitations/{id}/accept",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Your new membership", body = MembershipView),
        (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No open invitation of yours with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept(
    caller: Caller,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<InvitationId>,
) -> Result<Json<MembershipView>, ApiError> {
    let membership = app.identity.accept_invitation(&caller, id, &context).await?;
    Ok(Json(membership.into()))
}

/// Decline an invitation addressed to you.
#[utoipa::path(
    post,
    path = "/api/v1/invitations/{id}/decline",
    tag = "orgs",
    security(("bearer" = ["viewer"])),
    params(("id" = Uuid, Path, description = "The invitation's id")),
    responses(
        (status = 204, description = "Declined"),
        (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No invitation of yours with this id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decline(
    caller: Caller,
    State(app): State<AppState>,
    Context(context): Context,
    Path(id): Path<InvitationId>,
) -> Result<StatusCode, ApiError> {
    app.identity.decline_invitation(&caller, id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
