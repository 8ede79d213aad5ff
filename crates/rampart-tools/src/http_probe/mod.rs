//! HTTP probing: one URL probed with its redirects hop by hop through the gate (`probe`), what
//! its headers (`headers`), HTML (`page`) and favicon (`favicon`) say, which technologies it
//! suggests (`fingerprints`, with the set shipped in `fingerprints.json`), and the tool that runs
//! many at once (`tool`). Every request goes through the gate's HTTP client; nothing here decides
//! scope.

pub mod favicon;
pub mod fingerprints;
pub mod headers;
pub mod page;
pub mod probe;
mod tool;

pub use probe::{BODY_MAX, Probed};
pub use tool::{HttpProbe, HttpProbeParams, HttpProbeResult, URLS_MAX, coverage_of, output_of};
