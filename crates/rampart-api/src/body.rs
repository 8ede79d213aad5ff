//! Body extractors every handler uses. `ApiJson`: malformed JSON is a 400, a wrong content type a
//! 415, an oversized body a 413, and a body of the wrong shape a 422 naming the field — all as
//! problem+json. `ApiForm` does the same for `application/x-www-form-urlencoded` (OAuth2).

use axum::Form;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use rampart_core::ValidationErrors;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::UnsupportedMediaType("expected a body of type application/json".into()));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest("the request body could not be read".into()),
        })?;
        parse(&bytes).map(ApiJson)
    }
}

pub struct ApiForm<T>(pub T);

impl<S, T> FromRequest<S> for ApiForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Form(value) = Form::<T>::from_request(req, state).await.map_err(|rejection| match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ApiError::UnsupportedMediaType("expected a body of type application/x-www-form-urlencoded".into())
            }
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => {
                let text = rejection.body_text();
                let message = without_value(text.rsplit(": ").next().unwrap_or_default());
                ApiError::Validation(ValidationErrors::single(field_of(".", &message), message))
            }
        })?;
        Ok(ApiForm(value))
    }
}

fn is_json(req: &Request) -> bool {
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Syntax errors are the client's malformed JSON (400); type errors name the field (422).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            let message = without_value(&without_position(&inner));
            ApiError::Validation(ValidationErrors::single(field_of(&path, &message), message))
        } else {
            malformed(&inner)
        }
    })?;
    deserializer.end().map_err(|error| malformed(&error))?;
    Ok(value)
}

/// Reads one JSON value already parsed (an element of a batch) into `T`, naming the bad field.
pub(crate) fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = without_value(&error.into_inner().to_string());
        ValidationErrors::single(field_of(&path, &message), message)
    })
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("malformed JSON: {}", without_position(error)))
}

/// The path of the bad value; for a missing field, the path of that field itself.
fn field_of(path: &str, message: &str) -> String {
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    }
}

/// serde quotes the offending value ("invalid type: string \"hunter2\", expected u8"); a value
/// sent in the wrong field may be a secret, so the message keeps only its kind.
pub(crate) fn without_value(message: &str) -> String {
    const KINDS: [&str; 9] =
        ["string", "integer", "floating point", "boolean", "char", "byte array", "map", "sequence", "null"];
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let kind = KINDS.iter().find(|kind| rest.starts_with(*kind)).copied().unwrap_or("value");
            let expected = rest.rfind(", expected ").map(|at| &rest[at..]).unwrap_or_default();
            return format!("{prefix}{kind}{expected}");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let expected = rest.rfind(", expected ").map(|at| &rest[at..]).unwrap_or_default();
        return format!("unknown variant{expected}");
    }
    message.to_owned()
}

/// serde_json appends " at line L column C"; the field path says more, and a message stays stable.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        ports: Vec<u16>,
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let error = parse::<Body>(br#"{"name": "x", "ports": [1, 70000]}"#).expect_err("port out of range");
        let ApiError::Validation(errors) = error else { panic!("expected a validation error, got {error:?}") };
        let first = errors.iter().next().expect("one error");
        assert_eq!(first.field, "ports[1]");
        assert_eq!(first.message, "invalid value: integer, expected u16");
    }

    #[test]
    fn a_value_in_the_wrong_field_is_never_echoed() {
        let error = parse::<Body>(br#"{"name": 5, "ports": "hunter2, expected secret"}"#).expect_err("wrong types");
        let ApiError::Validation(errors) = error else { panic!("expected a validation error, got {error:?}") };
        let message = &errors.iter().next().expect("one error").message;
        assert_eq!(message, "invalid type: integer, expected a string");
        assert_eq!(
            without_value("invalid type: string \"hunter2, expected secret\", expected u8"),
            "invalid type: string, expected u8"
        );
        assert_eq!(
            without_value("unknown variant `hunter2`, expected `a` or `b`"),
            "unknown variant, expected `a` or `b`"
        );
    }

    #[test]
    fn broken_syntax_is_a_bad_request() {
        assert!(matches!(parse::<Body>(b"{\"name\": "), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse::<Body>(br#"{"name": "x", "ports": []} trailing"#), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        for (body, field) in
            [(&br#"{"name": "x"}"#[..], "ports"), (br#"{"name": "x", "ports": [], "extra": 1}"#, "extra")]
        {
            let Err(ApiError::Validation(errors)) = parse::<Body>(body) else { panic!("expected a validation error") };
            assert_eq!(errors.iter().next().map(|e| e.field.as_str()), Some(field));
        }
    }
}
