//! JSON read from outside into typed values, with errors a client can act on: broken syntax is
//! malformed, and a value of the wrong shape names the field by the path the client wrote
//! (`ports[1]`, `usernames`). A message never quotes the value it refused (it may be a secret
//! sent in the wrong field) nor a position in the text.

use serde::de::DeserializeOwned;

use crate::validation::ValidationErrors;

/// Why JSON text could not be read into a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all, or trailing text after it; the message names no position.
    Malformed(String),
    /// JSON, but not of the shape wanted: each bad field by its path.
    Invalid(ValidationErrors),
}

/// Reads `bytes`, one JSON value and nothing after it, into `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            JsonError::Invalid(invalid(&path, &without_position(&inner)))
        } else {
            JsonError::Malformed(without_position(&inner))
        }
    })?;
    deserializer.end().map_err(|error| JsonError::Malformed(without_position(&error)))?;
    Ok(value)
}

/// The field error of a value of the wrong shape at `path` (`.` is the whole document).
fn invalid(path: &str, message: &str) -> ValidationErrors {
    let message = without_value(message);
    ValidationErrors::single(field_of(path, &message), message)
}

/// The path of the bad value; for a missing field, the path of that field itself.
pub fn field_of(path: &str, message: &str) -> String {
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
pub fn without_value(message: &str) -> String {
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
pub fn without_position(error: &serde_json::Error) -> String {
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
    #[allow(dead_code)]
    struct Body {
        name: String,
        ports: Vec<u16>,
    }

    #[test]
    fn a_wrong_type_names_the_field_without_its_value() {
        let Err(JsonError::Invalid(errors)) = from_slice::<Body>(br#"{"name": "x", "ports": [1, 70000]}"#) else {
            panic!("expected a validation error")
        };
        let first = errors.iter().next().expect("one error");
        assert_eq!(
            (first.field.as_str(), first.message.as_str()),
            ("ports[1]", "invalid value: integer, expected u16")
        );
        let Err(JsonError::Invalid(errors)) = from_slice::<Body>(br#"{"name": "hunter2"}"#) else {
            panic!("expected a validation error")
        };
        assert_eq!(errors.iter().next().map(|e| e.field.as_str()), Some("ports"));
        let Err(JsonError::Invalid(errors)) = from_slice::<Body>(b"5") else { panic!("a number") };
        assert_eq!(errors.iter().next().map(|e| e.field.as_str()), Some("body"));
    }

    #[test]
    fn broken_syntax_and_trailing_text_are_malformed() {
        assert!(matches!(from_slice::<Body>(b"{\"name\": "), Err(JsonError::Malformed(_))));
        let trailing = from_slice::<Body>(br#"{"name": "x", "ports": []} trailing"#);
        assert_eq!(trailing.expect_err("trailing text"), JsonError::Malformed("trailing characters".into()));
    }
}
