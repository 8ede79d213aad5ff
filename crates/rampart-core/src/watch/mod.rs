//! Watch: sensors (nodes) report events; every event is scored, alerts are raised and grouped,
//! attackers are profiled, and decisions tell firewalls what to block. The rules live here, free of I/O.

pub mod alerts;
pub mod attackers;
pub mod batch;
pub mod cowrie;
pub mod decisions;
pub mod events;
pub mod export;
pub mod loose;
pub mod nodes;
pub mod opencanary;
pub mod policies;
pub mod scoring;

pub use alerts::{
    Alert, AlertCandidate, AlertChange, AlertGroup, AlertStatus, DEFAULT_THRESHOLD, DEFAULT_WINDOW, Grouping,
    OpenAlert, group_alerts,
};
pub use attackers::{Attacker, AttackerOrder, AttackerProfile};
pub use batch::{BATCH_MAX, Batch, BatchError, BatchFormat, read_batch};
pub use events::{Event, EventDetail, EventInput, EventKind, NewEvent};
pub use nodes::{Decoy, NewNode, Node, NodeKind, NodeStatus};
pub use scoring::{Reason, Score, ScoringRules, Signals};
