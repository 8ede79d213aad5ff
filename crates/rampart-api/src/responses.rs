//! The problem answers that operations give for what they are rather than for what they do,
//! declared once in `components.responses` and referenced from every operation they apply to:
//!
//! - an operation with a security requirement: 401 (no valid credential) and 403 (too low a role,
//!   or a credential that may not do this);
//! - an operation that takes a body: 400 (malformed), 413 (too large), 415 (wrong type) and 422
//!   (a field of the wrong shape);
//! - an operation with path parameters: 400 (a malformed id) and 404 (no such object here);
//! - an operation with query parameters: 422 (a parameter of the wrong shape);
//! - an operation of sensors (its `X-Node-Key` header): 401 (no or unknown node key), 403 (another
//!   node's key, or an inactive node), 429 (too many refused keys from the address) and 503 (the
//!   ingestion pipeline is full);
//! - every operation: 503 (the request timed out, or the server or its database is busy).
//!
//! An operation that declares one of these statuses itself keeps its own, more precise, answer.
//! Because this reads the operations once every route is in, a route added anywhere is described
//! with no edit here: the document stays exact as the API grows.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

use crate::error::PROBLEM_JSON;

pub struct ProblemResponses;

/// One shared answer: its status, its name under `components.responses`, what it means, and the
/// header that always comes with it.
struct Shared {
    status: &'static str,
    name: &'static str,
    description: &'static str,
    header: Option<(&'static str, &'static str)>,
}

const BAD_REQUEST: Shared = Shared {
    status: "400",
    name: "BadRequest",
    description: "Malformed request: a body that is not valid JSON or form data, or a path parameter of the wrong form (such as an id that is not a UUID)",
    header: None,
};
const UNAUTHORIZED: Shared = Shared {
    status: "401",
    name: "Unauthorized",
    description: "No valid credential: a bearer token or an API key is missing, expired, revoked, or its account or membership is gone",
    header: Some(("WWW-Authenticate", "The scheme to authenticate with: `Bearer`")),
};
const FORBIDDEN: Shared = Shared {
    status: "403",
    name: "Forbidden",
    description: "Authenticated, but the caller's role in the organisation (or its kind of credential) does not allow this",
    header: None,
};
const NOT_FOUND: Shared = Shared {
    status: "404",
    name: "NotFound",
    description: "No such object in the caller's organisation",
    header: None,
};
const PAYLOAD_TOO_LARGE: Shared = Shared {
    status: "413",
    name: "PayloadTooLarge",
    description: "The body is larger than the server accepts (`http.body_limit`)",
    header: None,
};
const UNSUPPORTED_MEDIA_TYPE: Shared = Shared {
    status: "415",
    name: "UnsupportedMediaType",
    description: "The body is not of a type this operation reads (see its request body)",
    header: None,
};
const UNPROCESSABLE: Shared = Shared {
    status: "422",
    name: "UnprocessableContent",
    description: "Invalid fields or parameters, each named in `errors`",
    header: None,
};
const UNAVAILABLE: Shared = Shared {
    status: "503",
    name: "ServiceUnavailable",
    description: "The request timed out (`http.request_timeout`), or the server or its database is busy; retry later",
    header: Some(("Retry-After", "Seconds to wait before retrying, when the server knows")),
};

const NO_NODE_KEY: Shared =
    Shared { status: "401", name: "NoNodeKey", description: "No or unknown node key", header: None };
const NOT_THIS_NODE: Shared = Shared {
    status: "403",
    name: "NotThisNode",
    description: "The node is inactive, or the body names another node than the key's",
    header: None,
};
const TOO_MANY_KEYS: Shared = Shared {
    status: "429",
    name: "TooManyRefusedKeys",
    description: "This address sent too many refused node keys: retry after `Retry-After` seconds",
    header: Some(("Retry-After", "Seconds to wait before retrying")),
};
const PIPELINE_FULL: Shared = Shared {
    status: "503",
    name: "PipelineFull",
    description: "The pipeline is full: retry after `Retry-After` seconds",
    header: Some(("Retry-After", "Seconds to wait before retrying")),
};

/// The header a sensor authenticates with, which makes an operation a sensor's.
const NODE_KEY: &str = "X-Node-Key";

const ALL: [&Shared; 12] = [
    &BAD_REQUEST,
    &UNAUTHORIZED,
    &FORBIDDEN,
    &NOT_FOUND,
    &PAYLOAD_TOO_LARGE,
    &UNSUPPORTED_MEDIA_TYPE,
    &UNPROCESSABLE,
    &UNAVAILABLE,
    &NO_NODE_KEY,
    &NOT_THIS_NODE,
    &TOO_MANY_KEYS,
    &PIPELINE_FULL,
];

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for shared in ALL {
            components.responses.insert(shared.name.to_owned(), RefOr::T(response(shared)));
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                for shared in applicable(operation) {
                    operation
                        .responses
                        .responses
                        .entry(shared.status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(shared.name)));
                }
            }
        }
    }
}

/// The shared answers an operation can give, from what it is.
fn applicable(operation: &Operation) -> Vec<&'static Shared> {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| requirements.iter().any(|requirement| requirement != &Default::default()));
    let has = |location: ParameterIn| {
        operation.parameters.iter().flatten().any(|parameter| parameter.parameter_in == location)
    };
    let sensor = operation.parameters.iter().flatten().any(|parameter| parameter.name == NODE_KEY);
    let mut shared = Vec::new();
    if sensor {
        shared.extend([&NO_NODE_KEY, &NOT_THIS_NODE, &TOO_MANY_KEYS, &PIPELINE_FULL]);
    }
    if secured {
        shared.extend([&UNAUTHORIZED, &FORBIDDEN]);
    }
    if operation.request_body.is_some() {
        shared.extend([&BAD_REQUEST, &PAYLOAD_TOO_LARGE, &UNSUPPORTED_MEDIA_TYPE, &UNPROCESSABLE]);
    }
    if has(ParameterIn::Path) {
        shared.extend([&BAD_REQUEST, &NOT_FOUND]);
    }
    if has(ParameterIn::Query) {
        shared.push(&UNPROCESSABLE);
    }
    shared.push(&UNAVAILABLE);
    shared
}

fn response(shared: &Shared) -> Response {
    let problem = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    let mut builder = ResponseBuilder::new().description(shared.description).content(PROBLEM_JSON, problem);
    if let Some((name, description)) = shared.header {
        let text = ObjectBuilder::new().schema_type(Type::String).build();
        builder = builder.header(name, HeaderBuilder::new().schema(text).description(Some(description)).build());
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each operation's statuses, as the document lists them.
    fn statuses(spec: &serde_json::Value, path: &str, method: &str) -> Vec<String> {
        let responses = spec["paths"][path][method]["responses"].as_object().expect("responses");
        responses.keys().cloned().collect()
    }

    #[test]
    fn every_operation_lists_the_problems_it_can_give_by_what_it_is() {
        let spec = serde_json::to_value(crate::openapi()).expect("the document serialises");
        // Secured, a JSON body and a path id.
        let patch = statuses(&spec, "/api/v1/targets/{id}", "patch");
        for status in ["400", "401", "403", "404", "413", "415", "422", "503"] {
            assert!(patch.contains(&status.to_owned()), "PATCH /api/v1/targets/{{id}} lacks {status}: {patch:?}");
        }
        // Public, no body, no parameter: only what every operation may answer.
        let live = statuses(&spec, "/api/v1/health/live", "get");
        assert_eq!(live, ["200", "503"]);
        // A sensor's: the answers of its node key and of the pipeline.
        let ingest = &spec["paths"]["/api/v1/ingest/events"]["post"]["responses"];
        assert_eq!(ingest["429"]["$ref"], "#/components/responses/TooManyRefusedKeys");
        assert_eq!(ingest["503"]["$ref"], "#/components/responses/PipelineFull");
        // A status an operation declares itself keeps its own description.
        let login = &spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"];
        assert!(login.get("$ref").is_none(), "{login}");
        let shared = &spec["paths"]["/api/v1/targets/{id}"]["get"]["responses"]["401"]["$ref"];
        assert_eq!(shared, "#/components/responses/Unauthorized");
        assert_eq!(
            spec["components"]["responses"]["Unauthorized"]["content"][PROBLEM_JSON]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
    }
}
