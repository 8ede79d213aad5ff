//! Secret scanning of a git repository's whole history: rules in gitleaks' TOML format (`rules`,
//! with the set shipped in `default.toml`), matching with keyword prefilter, entropy and
//! allowlists (`detect`), the history walked with gitoxide and each distinct blob scanned once
//! (`history`), and the tool (`tool`). A secret never leaves `detect` in clear: only its first
//! characters and its SHA-256.

pub mod detect;
pub mod history;
pub mod rules;
mod tool;

pub use detect::Secret;
pub use history::{Found, Limits, Report, Walked, scan_repository};
pub use rules::Rules;
pub use tool::{SecretScan, SecretScanParams, SecretScanResult, output_of, resolve_local, scan_path};
