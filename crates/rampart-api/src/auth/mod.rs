//! Authentication endpoints under `/api/v1/auth`, and the extractors every other domain uses to
//! check who is calling.

pub mod dto;
mod extract;
mod handlers;
mod openapi;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub(crate) use extract::SentCredential;
pub use extract::{Admin, Analyst, Caller, Context, Requirement, StreamCaller, Superuser, Viewer};
pub use handlers::*;
pub(crate) use openapi::SecuritySchemes;

/// Registration, log-in, tokens, sessions and the caller's own account.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(token))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(switch_org))
}
