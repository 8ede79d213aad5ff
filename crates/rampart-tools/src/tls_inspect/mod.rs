//! TLS inspection: a handshake driven by hand over a TCP connection of the gate that keeps what
//! the server showed (`handshake`), the probe of TLS 1.0 and 1.1 by a hand-written ClientHello
//! (`hello`), certificates read with x509-parser (`certificate`), and the tool (`tool`). Nothing
//! here decides scope: every connection is the gate's.

pub mod certificate;
pub mod handshake;
pub mod hello;
mod tool;

pub use tool::{Inspected, TlsInspect, TlsInspectParams, TlsInspectResult, coverage_of, output_of};
