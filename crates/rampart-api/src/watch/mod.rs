//! Watch over HTTP: sensor nodes, ingestion (with the paths of the system Rampart replaces), the
//! alerts the events raise (listed, or followed live), attacker profiles, the dashboard's
//! figures, and the replaced system's read paths.

pub mod alerts;
pub mod attackers;
pub mod dto;
pub mod ingest;
pub mod legacy;
pub mod live;
pub mod nodes;
pub mod stats;
