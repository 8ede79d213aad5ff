//! `/api/v1/imports`: another tool's report (nmap XML, SARIF 2.1.0, nuclei JSONL, gitleaks JSON)
//! taken as a `multipart/form-data` body (`file` and `format`) or as the raw body with
//! `?format=`, within the server's body limit (larger: 413, refused before it is read whole), and
//! recorded by the engine as a finished execution of the `import` tool. Analysts and up.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use rampart_core::ValidationErrors;
use rampart_tools::imports::Format;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Analyst, Caller, Context};
use crate::error::{ApiError, Problem};
use crate::executions::ExecutionView;
use crate::{ApiQuery, AppState};

/// Imports of other tools' reports.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The report's format when the body is the report itself: `nmap_xml`, `sarif`,
    /// `nuclei_jsonl` or `gitleaks_json`.
    #[param(pattern = r"^(nmap_xml|sarif|nuclei_jsonl|gitleaks_json)$")]
    pub format: Option<String>,
    /// Where the report came from (a file name), at most 200 characters.
    #[param(pattern = r"^[^\x00-\x1f\x7f]{0,200}$")]
    pub source: Option<String>,
}

/// The multipart form of an import: these two parts and no other.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ImportForm {
    /// `nmap_xml`, `sarif`, `nuclei_jsonl` or `gitleaks_json` (else the query's `format`).
    #[schema(pattern = r"^(nmap_xml|sarif|nuclei_jsonl|gitleaks_json)$")]
    format: Option<String>,
    /// The report; its file name is kept as the import's source.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Imports a report as a finished execution of the `import` tool, with its findings and artifacts.
#[utoipa::path(
    post,
    path = "/api/v1/imports",
    tag = "executions",
    security(("bearer" = ["analyst"])),
    params(ImportQuery),
    request_body(
        description = "The report: a multipart form with `file` and `format`, or the raw report with `?format=`",
        content(
            (ImportForm = "multipart/form-data"),
            (String = "application/octet-stream"),
        )
    ),
    responses(
        (status = 201, description = "Imported: a finished execution of the `import` tool", body = ExecutionView),
        (status = 400, description = "A multipart body that cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot import", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The report is larger than `http.import_body_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No or an unknown `format`, no `file`, or a report that cannot be read (malformed, an XML DTD or entity, the wrong version), named by field; nothing stored", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    caller: Caller<Analyst>,
    State(app): State<AppState>,
    Context(context): Context,
    ApiQuery(query): ApiQuery<ImportQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ExecutionView>), ApiError> {
    // A format in the query is read first, whatever the body: a bad one is refused on its own.
    let query_format = query.format.as_deref().map(Format::parse).transpose();
    let query_format = query_format.map_err(|reason| ValidationErrors::single("format", reason))?;
    let (format, source, report) = if is_multipart(&request) {
        read_form(request, &app).await?
    } else {
        let report = Bytes::from_request(request, &app).await.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest("the request body could not be read".into()),
        })?;
        (None, String::new(), report)
    };
    let format = match (format, query_format) {
        (Some(format), _) => Format::parse(&format).map_err(|reason| ValidationErrors::single("format", reason))?,
        (None, Some(format)) => format,
        (None, None) => return Err(ValidationErrors::single("format", "is required").into()),
    };
    let source = query.source.unwrap_or(source);
    let execution = app.engine.import(&caller.acting(context), format, &source, &report).await?;
    Ok((StatusCode::CREATED, Json(execution.into())))
}

fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The `format` (else the query's) and `file` parts, the file's name as the source; other parts
/// are refused.
async fn read_form(request: Request, app: &AppState) -> Result<(Option<String>, String, Bytes), ApiError> {
    let unreadable = |error: axum::extract::multipart::MultipartError| match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest("the multipart body could not be read".into()),
    };
    let mut form = Multipart::from_request(request, app)
        .await
        .map_err(|_| ApiError::BadRequest("the multipart body could not be read".into()))?;
    let (mut format, mut source, mut file) = (None, String::new(), None);
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("format") if format.is_none() => format = Some(field.text().await.map_err(unreadable)?),
            Some("file") if file.is_none() => {
                source = field.file_name().unwrap_or_default().to_owned();
                file = Some(field.bytes().await.map_err(unreadable)?);
            }
            _ => return Err(ValidationErrors::single("body", "holds only one `format` and one `file` part").into()),
        }
    }
    match file {
        Some(file) => Ok((format, source, file)),
        None => Err(ValidationErrors::single("file", "is required").into()),
    }
}
