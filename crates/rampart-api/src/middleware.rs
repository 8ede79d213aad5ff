//! The request middleware that every response passes through: request id, time limit, problem+json
//! for every error, security headers, one log line and the metrics.
//!
//! The log line names the method, the matched route template, the status, the latency and the
//! request id — never a header value, a body, a query string, a token or a password.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCause, PROBLEM_JSON, REQUEST_ID, problem_response, status_problem};
use crate::metrics::Metrics;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("api-version");
pub const API_VERSION: &str = "1";

/// The policy for API responses: they load nothing and may not be framed. HTML pages set their own.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

pub(crate) struct RequestContext {
    pub metrics: Arc<Metrics>,
    pub request_timeout: Duration,
}

/// Marks an error answer written in a client's own protocol (CrowdSec's `{"message"}` for
/// bouncers, Splunk HEC's `{"text", "code"}` for Cowrie): it is sent as it is, not replaced by a
/// problem document.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OwnAnswer;

pub(crate) async fn request_context(State(context): State<Arc<RequestContext>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(req.headers());
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());

    let mut response = REQUEST_ID
        .scope(request_id.clone(), async {
            // TRACE echoes requests back, a classic way to read cookies across origins: never served.
            if method == Method::TRACE {
                return ApiError::MethodNotAllowed.into_response();
            }
            match tokio::time::timeout(context.request_timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => ApiError::Timeout.into_response(),
            }
        })
        .await;

    if is_error(response.status())
        && !is_problem(response.headers())
        && response.extensions().get::<OwnAnswer>().is_none()
    {
        response = into_problem(response, request_id.clone());
    }
    set_common_headers(response.headers_mut(), &request_id);

    let status = response.status();
    let elapsed = started.elapsed();
    let route = route.as_deref().unwrap_or("unmatched");
    context.metrics.record(&method, route, status.as_u16(), elapsed);
    let latency_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    if status.is_server_error() {
        let cause = response.extensions().get::<ErrorCause>().map(|cause| cause.0.as_str()).unwrap_or("");
        tracing::error!(target: "rampart::http", %method, route, status = status.as_u16(), latency_ms, request_id, cause, "request");
    } else {
        tracing::info!(target: "rampart::http", %method, route, status = status.as_u16(), latency_ms, request_id, "request");
    }
    response
}

/// The client's id when it is a sane token (so it can be correlated with its own logs), a new one otherwise.
fn request_id_of(headers: &HeaderMap) -> String {
    let valid = |id: &&str| {
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).filter(valid) {
        Some(id) => id.to_owned(),
        None => uuid::Uuid::now_v7().to_string(),
    }
}

fn is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()))
}

/// Replaces the body of an error response made outside our handlers (router 404/405, body limit,
/// panics) with a problem document, keeping its status and headers such as `Allow`.
fn into_problem(response: Response, request_id: String) -> Response {
    let (mut parts, _) = response.into_parts();
    let rebuilt = problem_response(parts.status, &status_problem(parts.status, request_id));
    let (rebuilt_parts, body) = rebuilt.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(rebuilt_parts.headers);
    Response::from_parts(parts, Body::new(body))
}

fn set_common_headers(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(API_CSP));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

/// A panic in a handler becomes a plain 500; the panic hook has logged where it happened.
pub(crate) fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("handler panicked".into()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_request_id_is_kept_only_when_sane() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(request_id_of(&headers), "abc-123_x.y");

        for bad in ["has space", "quote\"", "", &"a".repeat(65)] {
            headers.insert(REQUEST_ID_HEADER, HeaderValue::from_str(bad).expect("visible ASCII"));
            let id = request_id_of(&headers);
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok());
        }
    }
}
