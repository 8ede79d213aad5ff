//! The circuit breaker: consecutive failures open it, and once its period is over a single
//! trial call decides whether it closes again.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The circuit breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Circuit {
    /// Calls go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// No call goes through until `until`; then one trial call does.
    Open { until: Instant },
    /// A trial call is under way; others wait for its outcome.
    HalfOpen,
}

/// A change worth a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Opened,
    Closed,
}

pub(super) struct Breaker {
    circuit: Mutex<Circuit>,
    failures_to_open: u32,
    pub(super) open_for: Duration,
}

/// Leave to make one call. A trial's permit dropped unsettled (its call was cancelled) leaves
/// the circuit open but due, so the next call is the trial and the circuit is never stuck.
pub(super) struct Permit<'a> {
    breaker: &'a Breaker,
    trial: bool,
    admitted_at: Instant,
    settled: bool,
}

impl Breaker {
    pub(super) fn new(failures_to_open: u32, open_for: Duration) -> Self {
        Self { circuit: Mutex::new(Circuit::Closed { failures: 0 }), failures_to_open, open_for }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Circuit> {
        // The state is one small value, always written whole: a panic elsewhere cannot leave it torn.
        self.circuit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A permit to call, or none while the circuit is open.
    pub(super) fn admit(&self, now: Instant) -> Option<Permit<'_>> {
        let mut circuit = self.lock();
        let trial = match *circuit {
            Circuit::Closed { .. } => false,
            Circuit::Open { until } if now >= until => {
                *circuit = Circuit::HalfOpen;
                true
            }
            Circuit::Open { .. } | Circuit::HalfOpen => return None,
        };
        Some(Permit { breaker: self, trial, admitted_at: now, settled: false })
    }
}

impl Permit<'_> {
    pub(super) fn succeeded(mut self) -> Option<Change> {
        self.settled = true;
        let mut circuit = self.breaker.lock();
        match (*circuit, self.trial) {
            (Circuit::HalfOpen, true) => {
                *circuit = Circuit::Closed { failures: 0 };
                Some(Change::Closed)
            }
            (Circuit::Closed { .. }, false) => {
                *circuit = Circuit::Closed { failures: 0 };
                None
            }
            // A call admitted before the circuit opened says nothing about the model now.
            _ => None,
        }
    }

    pub(super) fn failed(mut self, now: Instant) -> Option<Change> {
        self.settled = true;
        let breaker = self.breaker;
        let mut circuit = breaker.lock();
        match (*circuit, self.trial) {
            (Circuit::HalfOpen, true) => {
                *circuit = Circuit::Open { until: now + breaker.open_for };
                Some(Change::Opened)
            }
            (Circuit::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= breaker.failures_to_open {
                    *circuit = Circuit::Open { until: now + breaker.open_for };
                    Some(Change::Opened)
                } else {
                    *circuit = Circuit::Closed { failures };
                    None
                }
            }
            _ => None,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.trial && !self.settled {
            let mut circuit = self.breaker.lock();
            if *circuit == Circuit::HalfOpen {
                *circuit = Circuit::Open { until: self.admitted_at };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_resets_the_count() {
        let breaker = Breaker::new(3, 30 * SECOND);
        let now = Instant::now();
        for _ in 0..2 {
            assert_eq!(breaker.admit(now).expect("closed").failed(now), None);
        }
        assert_eq!(breaker.admit(now).expect("closed").succeeded(), None);
        for _ in 0..2 {
            assert_eq!(breaker.admit(now).expect("closed").failed(now), None);
        }
        assert_eq!(breaker.admit(now).expect("closed").failed(now), Some(Change::Opened));
        assert!(breaker.admit(now).is_none());
        assert!(breaker.admit(now + 29 * SECOND).is_none());
    }

    #[test]
    fn once_due_a_single_trial_is_let_through_and_its_outcome_decides() {
        let breaker = Breaker::new(1, 30 * SECOND);
        let start = Instant::now();
        assert_eq!(breaker.admit(start).expect("closed").failed(start), Some(Change::Opened));

        let due = start + 30 * SECOND;
        let trial = breaker.admit(due).expect("due");
        assert!(breaker.admit(due).is_none(), "one trial at a time");
        assert_eq!(trial.failed(due), Some(Change::Opened));
        assert!(breaker.admit(due + 29 * SECOND).is_none(), "a failed trial opens the circuit for another period");

        let due = due + 30 * SECOND;
        assert_eq!(breaker.admit(due).expect("due").succeeded(), Some(Change::Closed));
        assert!(breaker.admit(due).is_some());
    }

    #[test]
    fn a_cancelled_trial_lets_the_next_call_try() {
        let breaker = Breaker::new(1, 30 * SECOND);
        let start = Instant::now();
        breaker.admit(start).expect("closed").failed(start);
        let due = start + 30 * SECOND;
        drop(breaker.admit(due).expect("due"));
        assert!(breaker.admit(due).expect("the next call is the trial").trial);
    }

    #[test]
    fn calls_admitted_before_the_circuit_opened_do_not_move_it() {
        let breaker = Breaker::new(1, 30 * SECOND);
        let now = Instant::now();
        let early = breaker.admit(now).expect("closed");
        let late = breaker.admit(now).expect("closed");
        assert_eq!(early.failed(now), Some(Change::Opened));
        assert_eq!(late.succeeded(), None);
        assert!(breaker.admit(now).is_none(), "still open");
    }
}
