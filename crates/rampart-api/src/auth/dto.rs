//! Wire types of identity: what clients send and receive.

use chrono::{DateTime, Utc};
use rampart_core::identity::{Membership, User};
use rampart_core::orgs::Organisation;
use rampart_identity::TokenPair;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "email": "ada@example.com",
    "username": "ada",
    "password": "analytical engine 1843",
    "full_name": "Ada Lovelace",
    "org_name": "Lovelace Security"
}))]
pub struct RegisterBody {
    pub email: String,
    /// 3 to 32 letters, digits, `.`, `_` or `-`.
    #[schema(schema_with = crate::schemas::username)]
    pub username: String,
    /// 8 to 128 characters, not a common password.
    #[schema(schema_with = crate::schemas::password)]
    pub password: String,
    #[serde(default)]
    pub full_name: String,
    /// The name of the personal organisation created with the account; the username by default.
    #[serde(default)]
    pub org_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"login": "ada@example.com", "password": "analytical engine 1843"}))]
pub struct LoginBody {
    /// An email address or a username (`email` and `username` are accepted as names of this field).
    #[serde(alias = "email", alias = "username")]
    pub login: String,
    pub password: String,
    /// The organisation to work in, by id or slug; the oldest membership by default.
    #[serde(default)]
    pub org: Option<String>,
}

/// An OAuth2 token request (RFC 6749), as the docs' Authorize button sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "password", "username": "ada", "password": "analytical engine 1843"}))]
pub struct TokenForm {
    /// `password`, or `client_credentials` with an API key as the client secret.
    pub grant_type: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: Option<String>,
    /// An API key (`rk_…`) for `client_credentials`.
    pub client_secret: Option<String>,
    /// Accepted and ignored: what a token may do follows from the role.
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"refresh_token": "rt_Jm9yZ2V0LW1lLW5vdC1hLXJlYWwtdG9rZW4"}))]
pub struct RefreshBody {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"org": "lovelace-security"}))]
pub struct SwitchOrgBody {
    /// The organisation's id or slug.
    pub org: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl",
    "token_type": "bearer",
    "expires_in": 900,
    "refresh_token": "rt_Jm9yZ2V0LW1lLW5vdC1hLXJlYWwtdG9rZW4",
    "org_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12",
    "role": "admin"
}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchanged at `/api/v1/auth/refresh` for a new pair; each is good for one use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub org_id: Uuid,
    /// `admin`, `analyst` or `viewer`.
    pub role: &'static str,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            token_type: "bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token,
            org_id: pair.org.as_uuid(),
            role: pair.role.as_str(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12",
    "email": "ada@example.com",
    "username": "ada",
    "full_name": "Ada Lovelace",
    "is_active": true,
    "is_superuser": false,
    "created_at": "2026-11-24T20:00:00Z",
    "updated_at": "2026-11-24T20:00:00Z"
}))]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            username: user.username.as_str().to_owned(),
            full_name: user.full_name,
            is_active: user.is_active,
            is_superuser: user.is_superuser,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12",
    "name": "Lovelace Security",
    "slug": "lovelace-security",
    "created_at": "2026-11-24T20:00:00Z",
    "updated_at": "2026-11-24T20:00:00Z"
}))]
pub struct OrgView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Organisation> for OrgView {
    fn from(org: Organisation) -> Self {
        Self {
            id: org.id.as_uuid(),
            name: org.name,
            slug: org.slug.as_str().to_owned(),
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub org_id: Uuid,
    pub org_name: String,
    pub org_slug: String,
    pub role: &'static str,
    pub since: DateTime<Utc>,
}

impl From<Membership> for MembershipView {
    fn from(membership: Membership) -> Self {
        Self {
            org_id: membership.org_id.as_uuid(),
            org_name: membership.org_name,
            org_slug: membership.org_slug.as_str().to_owned(),
            role: membership.role.as_str(),
            since: membership.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "user": {"id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "email": "ada@example.com", "username": "ada", "full_name": "Ada Lovelace",
             "is_active": true, "is_superuser": false, "created_at": "2026-11-24T20:00:00Z", "updated_at": "2026-11-24T20:00:00Z"},
    "organisation": {"id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "name": "ada", "slug": "ada",
                     "created_at": "2026-11-24T20:00:00Z", "updated_at": "2026-11-24T20:00:00Z"},
    "tokens": {"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl", "token_type": "bearer", "expires_in": 900,
               "refresh_token": "rt_Jm9yZ2V0LW1lLW5vdC1hLXJlYWwtdG9rZW4", "org_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "role": "admin"}
}))]
pub struct RegisteredView {
    pub user: UserView,
    pub organisation: OrgView,
    pub tokens: TokenResponse,
}

/// The caller: a user with their memberships, or an API key.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "actor": "user",
    "user": {"id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "email": "ada@example.com", "username": "ada", "full_name": "Ada Lovelace",
             "is_active": true, "is_superuser": false, "created_at": "2026-11-24T20:00:00Z", "updated_at": "2026-11-24T20:00:00Z"},
    "api_key_id": null,
    "org_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13",
    "role": "admin",
    "memberships": [{"org_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13", "org_name": "ada", "org_slug": "ada", "role": "admin", "since": "2026-11-24T20:00:00Z"}]
}))]
pub struct MeView {
    /// `user` or `api_key`.
    pub actor: &'static str,
    pub user: Option<UserView>,
    pub api_key_id: Option<Uuid>,
    /// The organisation this credential works in.
    pub org_id: Uuid,
    pub role: &'static str,
    pub memberships: Vec<MembershipView>,
}
