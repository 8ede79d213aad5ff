//! Body extractors every handler uses. `ApiJson`: malformed JSON is a 400, a wrong content type a
//! 415, an oversized body a 413, and a body of the wrong shape a 422 naming the field — all as
//! problem+json. `ApiForm` does the same for `application/x-www-form-urlencoded` (OAuth2).

use axum::Form;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use rampart_core::ValidationErrors;
use rampart_core::json::{self, JsonError, field_of, without_value};
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
        parse_object(&bytes).map(ApiJson)
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

/// A body that must be a JSON object, as every body read with `ApiJson` is. serde would also read
/// a struct from an array of its fields in order (`[null, null]`), which no client means and no
/// schema says: that is a 422 on `body`, after malformed JSON's 400.
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|first| *first != b'{') {
        parse::<serde::de::IgnoredAny>(bytes)?;
        return Err(ApiError::Validation(ValidationErrors::single("body", "must be a JSON object")));
    }
    parse(bytes)
}

/// Syntax errors are the client's malformed JSON (400); type errors name the field (422).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    json::from_slice(bytes).map_err(|error| match error {
        JsonError::Malformed(message) => ApiError::BadRequest(format!("malformed JSON: {message}")),
        JsonError::Invalid(errors) => ApiError::Validation(errors),
    })
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
    fn a_body_is_an_object_never_an_array_of_fields() {
        #[derive(Debug, Deserialize)]
        struct Patch {
            #[allow(dead_code)]
            name: Option<String>,
        }
        for not_an_object in [&b"[null]"[..], b" [\"x\"]", b"1", b"\"x\"", b"null"] {
            match parse_object::<Patch>(not_an_object) {
                Err(ApiError::Validation(errors)) => {
                    assert_eq!(errors.iter().next().map(|e| e.field.as_str()), Some("body"))
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(not_an_object)),
            }
        }
        assert!(matches!(parse_object::<Patch>(b"[null"), Err(ApiError::BadRequest(_))));
        assert!(parse_object::<Patch>(b" {\"name\": null}").is_ok());
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
