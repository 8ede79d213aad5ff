//! Watch: sensors (nodes) report events; every event is scored, alerts are raised and grouped,
//! and attackers are profiled. The rules live here, free of I/O.

pub mod alerts;
pub mod attackers;
pub mod batch;
pub mod events;
pub mod nodes;
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

/// A closed set of words stored and sent as text: `as_str`, `ALL`, `FromStr` and `Display`.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|word| word.as_str() == s).ok_or_else(|| {
                    let words: Vec<&str> = Self::ALL.iter().map(|word| word.as_str()).collect();
                    format!("must be one of {}", words.join(", "))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use words;
