//! `ApiQuery`: the query string every handler reads. An empty value (`?cursor=`, `?since=`) is the
//! same as no value, as forms and clients that fill every field send them; a value of the wrong
//! shape is a 422 naming the parameter, as problem+json, never a plain-text rejection.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rampart_core::ValidationErrors;
use serde::de::DeserializeOwned;
use utoipa::Modify;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, Required};

use crate::error::ApiError;

pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// Reads a query string into `T`, leaving out the parameters whose value is empty.
pub(crate) fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let present = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(query.as_bytes()).filter(|(_, value)| !value.is_empty()))
        .finish();
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(present.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = rampart_core::json::without_value(&error.into_inner().to_string());
        let field = match path.as_str() {
            "." => message
                .strip_prefix("duplicate field `")
                .or_else(|| message.strip_prefix("missing field `"))
                .and_then(|rest| rest.split('`').next())
                .unwrap_or("query")
                .to_owned(),
            _ => path,
        };
        ApiError::Validation(ValidationErrors::single(field, message))
    })
}

/// Says in the document what [`ApiQuery`] does: every optional query parameter may also be sent
/// empty, which is the same as leaving it out. Applied to every operation once the routes are in,
/// so that a parameter added anywhere is described with no edit here.
pub(crate) struct EmptyIsAbsent;

impl Modify for EmptyIsAbsent {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.parameter_in != ParameterIn::Query || parameter.required == Required::True {
                        continue;
                    }
                    let Some(schema) = parameter.schema.take() else { continue };
                    let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0));
                    parameter.schema = Some(AnyOfBuilder::new().item(schema).item(empty).into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Query {
        limit: Option<u32>,
        cursor: Option<String>,
        exclude: Option<bool>,
    }

    fn field_of(error: ApiError) -> String {
        let ApiError::Validation(errors) = error else { panic!("expected a validation error, got {error:?}") };
        errors.iter().next().expect("one error").field.clone()
    }

    #[test]
    fn an_empty_value_is_read_as_absent() {
        let query: Query = parse("limit=&cursor=&exclude=").expect("empty values are absent");
        assert_eq!(query, Query { limit: None, cursor: None, exclude: None });
        let query: Query = parse("limit=5&cursor=abc%3D").expect("values");
        assert_eq!(query, Query { limit: Some(5), cursor: Some("abc=".into()), exclude: None });
    }

    /// axum's `Query` rejects `?cursor=` and answers a plain 400 the document does not declare;
    /// every handler reads its query string through `ApiQuery`.
    #[test]
    fn no_handler_reads_the_query_string_another_way() {
        let mut offenders = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("the sources are readable") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.ends_with("query.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("a source file");
                for (number, line) in text.lines().enumerate() {
                    let bare = line.match_indices("Query<").any(|(at, _)| !line[..at].ends_with("Api"));
                    let imported = line.trim_start().starts_with("use axum")
                        && line.split(|c: char| !c.is_alphanumeric()).any(|word| word == "Query");
                    if bare || imported {
                        offenders.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "use ApiQuery: {offenders:#?}");
    }

    #[test]
    fn a_value_of_the_wrong_shape_names_its_parameter() {
        assert_eq!(field_of(parse::<Query>("limit=ten").expect_err("not a number")), "limit");
        assert_eq!(field_of(parse::<Query>("exclude=maybe").expect_err("not a boolean")), "exclude");
        assert_eq!(field_of(parse::<Query>("limit=1&limit=2").expect_err("twice")), "limit");
    }
}
