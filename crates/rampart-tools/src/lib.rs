//! Tools and what they stand on: the organisation's scope (targets and the check against them)
//! and the network gate. No tool opens a socket itself: it asks the gate, which resolves a name
//! once, checks every address against the scope and the server's deny list, and connects to
//! exactly the address it checked. The one exception is the port scanner (`tcp_scan`), which
//! connects itself for speed, and only to the (address, port) pairs its caller's scope check
//! allows.
#![forbid(unsafe_code)]

pub mod gate;
pub mod noop;
pub mod scope;
pub mod tcp_scan;
pub mod tool;

pub use gate::{DENIED, DenyList, Gate, GateError, Refusal, RefusalSink, Resolver, SystemResolver, check_host};
pub use scope::{BULK_MAX, BulkImport, CheckResult, ScopeService, TargetError};
pub use tool::{Registry, Tool, ToolContext, ToolInfo, ToolOutput, Update, parse_params, schema_of};
