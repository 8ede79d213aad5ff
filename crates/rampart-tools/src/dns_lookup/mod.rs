//! DNS lookup: records of many names at once through resolvers in scope (`wire`), the checks of a
//! domain's published policy (`checks`), and the lookup itself with its findings and artifacts
//! (`lookup`). Every packet goes through the gate; a name is only ever asked about, never
//! connected to, except a zone's name servers, which are asked for a transfer only when the gate
//! lets their address be reached.

mod checks;
mod lookup;
mod tool;
pub mod wire;

pub use tool::{DnsLookup, DnsLookupParams, DnsLookupResult, NAMES_MAX, RESOLVERS_MAX, RecordKind};
