//! Rampart's domain: identifiers, validation and the rules of each domain.
//!
//! This crate never opens a socket, a file or a database: everything here is a pure function of its
//! inputs, so the rules can be tested without a server and reused by every other crate.
#![forbid(unsafe_code)]

pub mod assets;
pub mod changes;
pub mod cursor;
pub mod executions;
pub mod findings;
pub mod forwarded;
pub mod identity;
pub mod ids;
pub mod json;
pub mod orgs;
pub mod outbox;
pub mod output;
pub mod settings;
pub mod targets;
pub mod time;
pub mod validation;
pub mod watch;
pub mod words;

pub use ids::{
    AlertId, AllowEntryId, ApiKeyId, AssetId, AuditEventId, BouncerId, ChangeEventId, DecisionId, EventId, ExecutionId,
    FindingId, InvitationId, NodeId, OrgId, PolicyId, SessionId, TargetId, TokenId, UserId,
};
pub use validation::{FieldError, ValidationErrors};
