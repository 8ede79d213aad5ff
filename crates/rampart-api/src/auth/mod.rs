//! Authentication endpoints under `/api/v1/auth`, and the extractors every other domain uses to
//! check who is calling.

pub mod dto;
mod extract;
mod handlers;
mod openapi;

pub(crate) use extract::SentCredential;
pub use extract::{Admin, Analyst, Caller, Context, Requirement, StreamCaller, Superuser, Viewer};
pub use handlers::*;
pub(crate) use openapi::SecuritySchemes;
