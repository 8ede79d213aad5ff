//! The external model scorer: an HTTP endpoint, named in the configuration, that scores events in
//! place of the built-in scorer. Every call has a time limit and passes a circuit breaker; when the
//! model cannot give a usable score the caller keeps the built-in one, so no event is lost or held
//! up for long. Fallbacks are counted by reason for the metrics.
//!
//! It must never log an event's payload, nor the endpoint's URL (it may carry credentials), and it
//! never sends the passwords an attacker tried: only how many.

mod breaker;
mod client;
mod config;
mod wire;

pub use client::{Fallback, ModelScorer};
pub use config::ModelConfig;
pub use wire::{ANSWER_MAX, ATTACK_TYPE_MAX, PAYLOAD_SENT_MAX, REASON_MAX, REASONS_MAX};
