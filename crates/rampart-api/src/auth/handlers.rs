//! Register, log in (JSON or the OAuth2 form), refresh, log out, who am I, switch organisation.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rampart_core::identity::Actor;
use rampart_identity::{LoginRequest, Registration};

use crate::auth::dto::{
    LoginBody, MeView, MembershipView, RefreshBody, RegisterBody, RegisteredView, SwitchOrgBody, TokenForm,
    TokenResponse, UserView,
};
use crate::auth::{Caller, Context};
use crate::error::{ApiError, Problem};
use crate::{ApiForm, ApiJson, AppState};

/// Create an account and its personal organisation, and log in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered and logged in", body = RegisteredView),
        (status = 403, description = "Registration is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or taken fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<RegisteredView>), ApiError> {
    let registration = Registration {
        email: body.email,
        username: body.username,
        full_name: body.full_name,
        password: body.password,
        org_name: body.org_name,
    };
    let (user, org, tokens) = app.identity.register(registration, &context).await?;
    let view = RegisteredView { user: user.into(), organisation: org.into(), tokens: tokens.into() };
    Ok((StatusCode::CREATED, Json(view)))
}

/// Log in with an email or username and a password.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "An access token and a refresh token", body = TokenResponse),
        (status = 401, description = "Wrong login or password, or inactive account", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the organisation asked for", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let request = LoginRequest { login: body.login, password: body.password, org: body.org };
    Ok(Json(app.identity.login(request, &context).await?.into()))
}

/// OAuth2 token endpoint: `grant_type=password`, or `client_credentials` with an API key as the
/// client secret (in the form or as HTTP Basic credentials).
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token (and, for a password grant, a refresh token)", body = TokenResponse),
        (status = 400, description = "Unsupported grant type", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong credentials", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(
    State(app): State<AppState>,
    Context(context): Context,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = match form.grant_type.as_str() {
        "password" => {
            let (Some(login), Some(password)) = (form.username, form.password) else {
                return Err(ApiError::Validation(rampart_core::ValidationErrors::single(
                    "username",
                    "username and password are required for the password grant",
                )));
            };
            app.identity.login(LoginRequest { login, password, org: None }, &context).await?
        }
        "client_credentials" => {
            let secret = form.client_secret.or_else(|| basic_secret(&headers)).ok_or_else(|| {
                ApiError::Unauthorized("client_credentials needs an API key as the client secret".into())
            })?;
            app.identity.exchange_api_key(&secret, &context).await?
        }
        _ => return Err(ApiError::BadRequest("grant_type must be password or client_credentials".into())),
    };
    Ok(Json(pair.into()))
}

/// The secret of `Authorization: Basic base64(client_id:client_secret)`.
fn basic_secret(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    decoded.split_once(':').map(|(_, secret)| secret.to_owned()).filter(|secret| !secret.is_empty())
}

/// Exchange a refresh token for a new pair. Each refresh token works once; presenting a used one
/// again revokes its whole session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new access token and refresh token", body = TokenResponse),
        (status = 401, description = "Invalid, expired or reused refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    Ok(Json(app.identity.refresh(&body.refresh_token, &context).await?.into()))
}

/// End the session: its refresh token and every access token of it stop working at once.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = ["viewer"])),
    responses(
        (status = 204, description = "Logged out"),
    )
)]
pub async fn logout(
    caller: Caller,
    State(app): State<AppState>,
    Context(context): Context,
) -> Result<StatusCode, ApiError> {
    app.identity.logout(&caller, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is calling: the user and their memberships (or the API key), the current organisation and role.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    security(("bearer" = ["viewer"])),
    responses(
        (status = 200, description = "The caller", body = MeView),
    )
)]
pub async fn me(caller: Caller, State(app): State<AppState>) -> Result<Json<MeView>, ApiError> {
    let view = match caller.actor {
        Actor::User(id) => {
            let (user, memberships) = app.store.users().profile(id).await?;
            MeView {
                actor: "user",
                user: Some(UserView::from(user)),
                api_key_id: None,
                org_id: caller.org.as_uuid(),
                role: caller.role.as_str(),
                memberships: memberships.into_iter().map(MembershipView::from).collect(),
            }
        }
        Actor::ApiKey(id) => MeView {
            actor: "api_key",
            user: None,
            api_key_id: Some(id.as_uuid()),
            org_id: caller.org.as_uuid(),
            role: caller.role.as_str(),
            memberships: Vec::new(),
        },
        Actor::Anonymous | Actor::System => return Err(ApiError::Unauthorized("no caller".into())),
    };
    Ok(Json(view))
}

/// Work in another organisation you belong to: a new session there replaces this one.
#[utoipa::path(
    post,
    path = "/api/v1/auth/switch-org",
    tag = "auth",
    security(("bearer" = ["viewer"])),
    request_body = SwitchOrgBody,
    responses(
        (status = 200, description = "Tokens for the other organisation", body = TokenResponse),
        (status = 403, description = "Not a member of that organisation, or not a user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn switch_org(
    caller: Caller,
    State(app): State<AppState>,
    Context(context): Context,
    ApiJson(body): ApiJson<SwitchOrgBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    Ok(Json(app.identity.switch_org(&caller, &body.org, &context).await?.into()))
}
