//! The clock as Rampart stores it: UTC, truncated to microseconds, which is what both databases
//! keep, so a value read back equals the value written.

use chrono::{DateTime, SubsecRound, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
