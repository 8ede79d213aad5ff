//! `nmap`, shipped as a built-in external tool: its argv built from typed parameters only, run in
//! the external tools' sandbox, its XML report (`-oX -`) read strictly (`xml.rs`) into hosts,
//! ports, services, versions and script results, each an artifact or a finding (`output.rs`).

pub mod output;
pub mod tool;
pub mod xml;

pub use output::output_of;
pub use tool::{Nmap, NmapParams, NmapResult};
pub use xml::{NmapReport, XmlError, parse};
