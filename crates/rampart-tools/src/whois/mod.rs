//! WHOIS and RDAP: who registered a domain, when it expires, and whether it is locked against
//! transfer. RDAP is asked first where the bootstrap file names the registry's service; WHOIS
//! (TCP port 43) otherwise, following IANA's referral to the registry and the registry's to the
//! registrar. Those servers are not targets: they are reached through the server's outbound gate,
//! while the domain asked about must be in the organisation's scope.

pub mod parse;
mod tool;

pub use parse::{Bootstrap, Registration};
pub use tool::{Whois, WhoisParams, WhoisResult, WhoisServers};
