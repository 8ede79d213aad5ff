//! Tools: the `Tool` trait, the registry and the tools. No tool opens a socket itself: it asks
//! the gate (`rampart-scope`), which resolves a name once, checks every address against the scope
//! and the server's deny list, and connects to exactly the address it checked. The one exception
//! is the port scanner (`tcp_scan`), which connects itself for speed, and only to the
//! (address, port) pairs its caller's scope check allows. Services a tool consults that are not
//! targets (WHOIS and RDAP servers, the server's own resolvers) are reached through the outbound
//! gate of its context, never the organisation's. External programs (`external`, `nmap`) are
//! spawned only in the sandbox, with arguments checked strictly and against the scope first.
// Unsafe code is denied everywhere but in the one function that sets a child's limits between
// fork and exec (`external/limits.rs`), which allows it with its safety argument.
#![deny(unsafe_code)]

mod coverage;
pub mod dns_lookup;
pub mod external;
pub mod git_clone;
pub mod http_probe;
pub mod imports;
pub mod nmap;
pub mod noop;
pub mod secret_scan;
pub mod tcp_scan;
pub mod tls_inspect;
pub mod tool;
pub mod whois;

pub use tool::{Registry, RunTarget, Tool, ToolContext, ToolInfo, ToolOutput, Update, parse_params, schema_of};
