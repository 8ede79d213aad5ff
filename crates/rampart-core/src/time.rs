//! The clock as Rampart stores it: UTC, truncated to microseconds, which is what both databases
//! keep, so a value read back equals the value written.
//!
//! Services take the time from a [`Clock`] they are given rather than from the system, so that
//! what depends on time — leases, alert windows, expiries — can be tested by setting the clock
//! instead of waiting: [`SystemClock`] in the server, [`ManualClock`] in tests.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

/// The system's time, in UTC, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Where a service takes the time from. Every answer is UTC truncated to microseconds.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock: [`now`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// The system's clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock that stands still until it is set or advanced: time in tests, without waiting.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock showing `at` (truncated to microseconds).
    pub fn new(at: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(at.trunc_subsecs(6)) }
    }

    /// A clock showing the system's time now, from which it stands still.
    pub fn starting_now() -> Self {
        Self::new(now())
    }

    /// Shows `at` from now on (truncated to microseconds); it may go back.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at.trunc_subsecs(6);
    }

    /// Moves the clock forward by `by` (whole microseconds); answers the new time.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let by = chrono::Duration::from_std(by).expect("an advance a clock can hold");
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = (*now + by).trunc_subsecs(6);
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_truncated_to_microseconds() {
        let at = SystemClock.now();
        assert_eq!(at.timestamp_subsec_nanos() % 1_000, 0);
    }

    #[test]
    fn a_manual_clock_stands_still_until_set_or_advanced() {
        let start: DateTime<Utc> = "2026-11-24T21:10:00.123456789Z".parse().expect("a time");
        let clock = ManualClock::new(start);
        let shown = clock.now();
        assert_eq!(shown, start.trunc_subsecs(6), "truncated to microseconds");
        assert_eq!(clock.now(), shown, "stands still");
        let later = clock.advance(Duration::from_secs(90));
        assert_eq!(later - shown, chrono::Duration::seconds(90));
        assert_eq!(clock.now(), later);
        clock.set(start - chrono::Duration::days(1));
        assert_eq!(clock.now(), (start - chrono::Duration::days(1)).trunc_subsecs(6), "it may go back");
    }
}
