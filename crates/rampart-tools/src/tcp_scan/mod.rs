//! TCP connect scanning: which ports to probe (`ports`), the scanner itself (`engine`), and what
//! an open port is likely to be (`services`) and how risky its exposure is (`risks`).
//! The scanner connects only to pairs its caller's gate allows; it never decides scope itself.

pub mod engine;
pub mod ports;
pub mod risks;
pub mod services;
mod tool;

pub use engine::{HostCounts, PortResult, PortState, ScanPlan, ScanReport, scan};
pub use ports::parse_ports;
pub use risks::{assess, check_id};
pub use services::service_name;
pub use tool::{TcpScan, TcpScanParams, TcpScanResult};
