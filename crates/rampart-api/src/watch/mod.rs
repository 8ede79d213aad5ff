//! Watch over HTTP: sensor nodes, ingestion (with the paths of the system Rampart replaces), and
//! the alerts the events raise.

pub mod alerts;
pub mod dto;
pub mod ingest;
pub mod nodes;
