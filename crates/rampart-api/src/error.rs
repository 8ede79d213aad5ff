//! Every error leaves the server as RFC 9457 `application/problem+json`, with the request id.
//!
//! Handlers return [`ApiError`]; responses that axum or a middleware produce on their own (404,
//! 405, 413, timeouts) are rewritten into the same shape by the request middleware. A 5xx says
//! "internal error" and nothing more: its cause rides in a response extension that only the
//! request log line reads.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_core::ValidationErrors;
use rampart_identity::IdentityError;
use rampart_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

tokio::task_local! {
    /// The id of the request being handled, set by the request middleware for its whole span.
    pub(crate) static REQUEST_ID: String;
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:rampart:problem:validation",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "the request has invalid fields",
    "request_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12",
    "errors": [{"field": "name", "message": "must not be empty"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The `X-Request-Id` of the response, to quote when reporting a problem.
    pub request_id: String,
    /// Every invalid field, for validation errors (422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorView>,
    /// Extra facts for some problems, such as the health of each component when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub health: Option<serde_json::Value>,
}

/// One invalid field of a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorView {
    /// The path of the field as sent, such as `name` or `ports[2]`.
    pub field: String,
    pub message: String,
}

/// The cause of a server error, for the request log line only.
#[derive(Clone, Debug)]
pub(crate) struct ErrorCause(pub String);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// No credential, or one that is not valid (401, with `WWW-Authenticate`).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("invalid fields: {0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    #[error("{detail}")]
    Unavailable { detail: String, health: Option<serde_json::Value> },
    /// Too much work in flight: retry after `retry_after` seconds (503 with `Retry-After`).
    #[error("the server is busy; retry in {retry_after} s")]
    Overloaded { retry_after: u64 },
    #[error("request timed out")]
    Timeout,
    /// The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } | ApiError::Overloaded { .. } | ApiError::Timeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "urn:rampart:problem:validation",
            ApiError::Timeout => "urn:rampart:problem:timeout",
            ApiError::Unavailable { health: Some(_), .. } => "urn:rampart:problem:not-ready",
            _ => "about:blank",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Validation(errors) if errors.left_out() > 0 => {
                format!("the request has invalid fields; {} more are not listed", errors.left_out())
            }
            ApiError::Validation(_) => "the request has invalid fields".into(),
            ApiError::Internal(_) => "internal error".into(),
            ApiError::NotFound => "no such resource".into(),
            ApiError::MethodNotAllowed => "this method is not allowed on this resource".into(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict { .. } | StoreError::Refused(_) => ApiError::Conflict(error.to_string()),
            StoreError::Unavailable => {
                ApiError::Unavailable { detail: "the database is unavailable".into(), health: None }
            }
            StoreError::Internal(cause) => ApiError::Internal(cause),
            StoreError::Fenced => ApiError::Internal("a write for a lost attempt reached the API".into()),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::InvalidCredentials => ApiError::Unauthorized(error.to_string()),
            IdentityError::Unauthenticated(reason) => ApiError::Unauthorized(reason.into()),
            IdentityError::Forbidden(reason) => ApiError::Forbidden(reason),
            IdentityError::RateLimited { retry_after } => {
                ApiError::TooManyRequests { retry_after: retry_after.as_secs().max(1) }
            }
            IdentityError::Busy { retry_after } => ApiError::Overloaded { retry_after: retry_after.as_secs().max(1) },
            IdentityError::Conflict(reason) => ApiError::Conflict(reason),
            IdentityError::Invalid(errors) => ApiError::Validation(errors),
            IdentityError::Store(error) => error.into(),
        }
    }
}

impl From<rampart_watch::WatchError> for ApiError {
    fn from(error: rampart_watch::WatchError) -> Self {
        use rampart_watch::{NodeRefusal, WatchError};
        match error {
            WatchError::Invalid(errors) => ApiError::Validation(errors),
            WatchError::Busy => ApiError::Overloaded { retry_after: 1 },
            WatchError::RateLimited { retry_after } => {
                ApiError::TooManyRequests { retry_after: retry_after.as_secs().max(1) }
            }
            WatchError::Refused(NodeRefusal::Unknown) => ApiError::Unauthorized(error.to_string()),
            WatchError::Refused(_) | WatchError::BouncerRefused => ApiError::Forbidden(error.to_string()),
            WatchError::Store(error) => error.into(),
        }
    }
}

impl From<rampart_engine::EngineError> for ApiError {
    fn from(error: rampart_engine::EngineError) -> Self {
        use rampart_engine::EngineError;
        match error {
            EngineError::Invalid(errors) => ApiError::Validation(errors),
            EngineError::Store(error) => error.into(),
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let kind = self.kind();
        let detail = self.detail();
        let cause = match &self {
            ApiError::Internal(cause) => Some(ErrorCause(cause.clone())),
            _ => None,
        };
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after } | ApiError::Overloaded { retry_after } => Some(*retry_after),
            _ => None,
        };
        let (errors, health) = match self {
            ApiError::Validation(errors) => {
                (errors.into_iter().map(|e| FieldErrorView { field: e.field, message: e.message }).collect(), None)
            }
            ApiError::Unavailable { health, .. } => (Vec::new(), health),
            _ => (Vec::new(), None),
        };
        let problem = Problem {
            kind,
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            request_id: current_request_id(),
            errors,
            health,
        };
        let mut response = problem_response(status, &problem);
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        let headers = response.headers_mut();
        match status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="rampart""#));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let seconds = match retry_after {
                    Some(seconds) => HeaderValue::from(seconds),
                    None => HeaderValue::from_static("60"),
                };
                headers.insert(header::RETRY_AFTER, seconds);
            }
            _ => {
                if let Some(seconds) = retry_after {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
            }
        }
        response
    }
}

/// A problem for a bare status, used for error responses that carry no problem of their own.
pub(crate) fn status_problem(status: StatusCode, request_id: String) -> Problem {
    let detail = match status {
        StatusCode::NOT_FOUND => "no such resource",
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this resource",
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        s if s.is_server_error() => "internal error",
        s => s.canonical_reason().unwrap_or("error"),
    };
    Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        request_id,
        errors: Vec::new(),
        health: None,
    }
}

pub(crate) fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).expect("a problem always serialises");
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}
