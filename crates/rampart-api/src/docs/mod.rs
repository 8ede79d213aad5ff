//! API documentation: the OpenAPI 3.1 document generated from the handlers, and Swagger UI served
//! from files compiled into the binary, so the docs work with no internet access.
//!
//! The UI is the npm package `swagger-ui-dist` (its licence is beside the files); only the files
//! the page needs are kept. The page's CSP allows nothing outside this server.

use axum::Extension;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;

use crate::AppState;

/// The OpenAPI document and Swagger UI.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json)).routes(routes!(index)).routes(routes!(asset))
}

/// The serialised OpenAPI document, made once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<str>);

const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Rampart API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"#;

/// Points the UI at our document; `validatorUrl: null` keeps it from calling an online validator.
const INIT_JS: &str = r##"window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect.html"
  });
};
"##;

/// The files under `/docs/`, with their content types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("init.js", "text/javascript; charset=utf-8", INIT_JS.as_bytes()),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    ("swagger-ui.css", "text/css; charset=utf-8", include_bytes!("../../assets/swagger-ui/swagger-ui.css")),
    ("favicon-32x32.png", "image/png", include_bytes!("../../assets/swagger-ui/favicon-32x32.png")),
    (
        "oauth2-redirect.html",
        "text/html; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/oauth2-redirect.html"),
    ),
    (
        "oauth2-redirect.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/oauth2-redirect.js"),
    ),
];

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json(Extension(spec): Extension<OpenApiJson>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], spec.0.to_string()).into_response()
}

/// Interactive API documentation (Swagger UI), served without any external resource.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    responses((status = 200, description = "The documentation page", content_type = "text/html", body = String))
)]
pub async fn index() -> Response {
    asset_response("text/html; charset=utf-8", INDEX_HTML.as_bytes())
}

/// A file of the documentation page.
#[utoipa::path(
    get,
    path = "/docs/{file}",
    tag = "docs",
    params(("file" = String, Path, description = "A file of the page, such as `swagger-ui.css`")),
    responses(
        (status = 200, description = "The file"),
        (status = 404, description = "No such file", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, bytes) = ASSETS.iter().find(|(name, _, _)| *name == file).ok_or(ApiError::NotFound)?;
    Ok(asset_response(content_type, bytes))
}

fn asset_response(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
    ];
    (headers, bytes).into_response()
}
