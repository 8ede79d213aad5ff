//! Watch: sensors report events with their node key; every event is scored (the built-in,
//! explainable scorer, or an external model with a time limit and a circuit breaker that falls
//! back to it), and committed in groups together with the alerts, attacker profiles and counters
//! it changes.
#![forbid(unsafe_code)]

pub mod ml;
