//! The scope: an organisation's targets as a service (changes held to the server's policy, with
//! their audit events, bulk import, the check), and the gate, the one place that decides whether
//! a byte leaves the server. The gate resolves a name once, checks every address against its
//! policy, and connects to exactly the address it checked.
#![forbid(unsafe_code)]

pub mod gate;
pub mod service;

pub use gate::{DENIED, DenyList, Gate, GateError, Refusal, RefusalSink, Resolver, SystemResolver, check_host};
pub use service::{BULK_MAX, BulkImport, CheckResult, ScopeService, TargetError};
