//! Access checks in one place: extractors that authenticate the caller and require a minimum role
//! before a handler runs (and before its body is read), and the client's address and request id
//! for the audit log.
//!
//! Credentials are read from `Authorization: Bearer …` or `X-API-Key` only — never from the query
//! string, where they would end up in access logs and browser history.

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rampart_core::identity::Role;
use rampart_identity::{Credential, Principal, RequestContext};

use crate::error::{ApiError, REQUEST_ID};
use crate::state::AppState;

/// A minimum role, as a type, so that a handler's signature states what it needs.
pub trait Requirement: Send + Sync + 'static {
    fn check(principal: &Principal) -> Result<(), ApiError>;
}

macro_rules! role_requirement {
    ($($(#[$meta:meta])* $name:ident => $role:expr,)*) => {$(
        $(#[$meta])*
        pub struct $name;

        impl Requirement for $name {
            fn check(principal: &Principal) -> Result<(), ApiError> {
                principal.require($role).map_err(ApiError::from)
            }
        }
    )*};
}

role_requirement! {
    /// Any member: reads.
    Viewer => Role::Viewer,
    /// Runs tools, handles findings and alerts.
    Analyst => Role::Analyst,
    /// Manages the organisation.
    Admin => Role::Admin,
}

/// Server-wide administration.
pub struct Superuser;

impl Requirement for Superuser {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        principal.require_superuser().map_err(ApiError::from)
    }
}

/// The authenticated caller, holding at least the requirement `R`: 401 without a valid
/// credential, 403 with too low a role.
pub struct Caller<R: Requirement = Viewer> {
    pub principal: Principal,
    _requirement: PhantomData<R>,
}

impl<R: Requirement> Caller<R> {
    /// The caller acting from `context`, as the domain services take it.
    pub fn acting(&self, context: RequestContext) -> rampart_core::identity::Acting {
        rampart_core::identity::Acting { org: self.principal.org, actor: self.principal.actor, context }
    }
}

impl<R: Requirement> std::ops::Deref for Caller<R> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<R: Requirement> FromRequestParts<AppState> for Caller<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let credential = credential(&parts.headers)?;
        let principal = state.identity.authenticate(credential).await?;
        R::check(&principal)?;
        Ok(Self { principal, _requirement: PhantomData })
    }
}

/// A viewer opening a live stream, with the credential it sent: the stream authenticates it again
/// with that credential while it runs, exactly as this extractor did, and ends when that fails.
pub struct StreamCaller {
    pub principal: Principal,
    pub(crate) credential: SentCredential,
}

impl FromRequestParts<AppState> for StreamCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let credential = credential(&parts.headers)?;
        let principal = state.identity.authenticate(credential).await?;
        Viewer::check(&principal)?;
        Ok(Self { principal, credential: SentCredential::from_sent(credential) })
    }
}

/// A credential as sent, kept to authenticate with again. Its `Debug` output is redacted.
#[derive(Clone)]
pub(crate) enum SentCredential {
    Bearer(String),
    ApiKey(String),
}

impl SentCredential {
    fn from_sent(credential: Credential<'_>) -> Self {
        match credential {
            Credential::Bearer(token) => SentCredential::Bearer(token.to_owned()),
            Credential::ApiKey(key) => SentCredential::ApiKey(key.to_owned()),
        }
    }

    pub(crate) fn as_sent(&self) -> Credential<'_> {
        match self {
            SentCredential::Bearer(token) => Credential::Bearer(token),
            SentCredential::ApiKey(key) => Credential::ApiKey(key),
        }
    }
}

impl fmt::Debug for SentCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SentCredential(<redacted>)")
    }
}

fn credential(headers: &HeaderMap) -> Result<Credential<'_>, ApiError> {
    let missing = || ApiError::Unauthorized("this needs a bearer token or an API key".into());
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| missing())?;
        let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthorized("use the Bearer scheme".into()));
        }
        return Ok(Credential::Bearer(token.trim()));
    }
    match headers.get("x-api-key").map(|value| value.to_str()) {
        Some(Ok(key)) if !key.trim().is_empty() => Ok(Credential::ApiKey(key.trim())),
        _ => Err(missing()),
    }
}

/// Where the request came from: the socket's address, or the client named by a trusted proxy.
pub struct Context(pub RequestContext);

impl FromRequestParts<AppState> for Context {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let forwarded = || parts.headers.get_all("x-forwarded-for").iter();
        let ip = peer.map(|peer| {
            rampart_core::forwarded::client_ip(
                peer,
                forwarded().map(|value| value.to_str().ok()),
                &state.trusted_proxies,
            )
        });
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        Ok(Context(RequestContext { ip, request_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn credentials_come_from_headers_only() {
        let mut headers = HeaderMap::new();
        assert!(credential(&headers).is_err());
        headers.insert("x-api-key", HeaderValue::from_static("rk_x"));
        assert!(matches!(credential(&headers), Ok(Credential::ApiKey("rk_x"))));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert!(matches!(credential(&headers), Ok(Credential::Bearer("abc"))));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
        assert!(credential(&headers).is_err());
    }
}
