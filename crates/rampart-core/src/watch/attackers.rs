//! Attacker profiles: what one source address did to an organisation, across its nodes.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::NodeId;

/// The counters of one source.
#[derive(Clone, Debug, PartialEq)]
pub struct Attacker {
    pub source_ip: IpAddr,
    pub events: u64,
    pub alerts: u64,
    pub avg_score: f64,
    pub max_score: f64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A source's counters with what it touched and tried, most first.
#[derive(Clone, Debug, PartialEq)]
pub struct AttackerProfile {
    pub attacker: Attacker,
    /// (service, events)
    pub services: Vec<(String, u64)>,
    /// (node, events)
    pub nodes: Vec<(NodeId, u64)>,
    /// (username, attempts), at most ten.
    pub top_usernames: Vec<(String, u64)>,
}

/// How a list of attackers is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackerOrder {
    /// Highest score first.
    Risk,
    /// Most recently seen first.
    Recency,
}
