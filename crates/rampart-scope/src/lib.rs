//! The scope: an organisation's targets as a service (changes held to the server's policy, with
//! their audit events, bulk import, the check), and the gate, the one place that decides whether
//! a byte leaves the server. The gate resolves a name once, checks every address against its
//! policy — an organisation's scope within the server's policy, or the outbound policy of the
//! server's own calls — and connects to exactly the address it checked, over TCP, UDP, TLS or
//! HTTP.
#![forbid(unsafe_code)]

pub mod gate;
pub mod http;
pub mod outbound;
pub mod service;
pub mod tls;

pub use gate::{DENIED, DenyList, Gate, GateError, Refusal, RefusalSink, Resolver, SystemResolver, check_host};
pub use http::{HttpCertificates, HttpClient, HttpOptions};
pub use outbound::{OutboundConfig, OutboundPolicy, outbound_gate, parse_net};
pub use service::{BULK_MAX, BulkImport, CheckResult, ScopeService, TargetError};
pub use tls::{Certificates, TlsConnection};
pub use tokio_rustls::rustls;
