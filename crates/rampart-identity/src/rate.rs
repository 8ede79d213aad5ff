//! Rate limits on attempts to authenticate, per client address and per account, so that neither
//! one address nor a spread of addresses can guess passwords quickly.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Keyed limiters kept in memory. Each server counts for itself; with several servers the limit
/// is per server.
pub struct RateLimits {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute.max(1)).expect("at least one"));
        Self { by_ip: RateLimiter::keyed(quota), by_account: RateLimiter::keyed(quota), clock: DefaultClock::default() }
    }

    /// Counts an attempt; `Err` carries how long to wait when over the limit.
    pub fn check(&self, ip: Option<IpAddr>, account: Option<&str>) -> Result<(), Duration> {
        self.prune();
        if let Some(ip) = ip
            && let Err(until) = self.by_ip.check_key(&crate::client_key::client_key(ip))
        {
            return Err(until.wait_time_from(self.clock.now()));
        }
        if let Some(account) = account
            && let Err(until) = self.by_account.check_key(&account.trim().to_lowercase())
        {
            return Err(until.wait_time_from(self.clock.now()));
        }
        Ok(())
    }

    /// Forgets keys whose limits have fully recovered, so that memory stays bounded.
    fn prune(&self) {
        if self.by_ip.len() + self.by_account.len() > 10_000 {
            self.by_ip.retain_recent();
            self.by_account.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_limited_per_address_and_per_account() {
        let limits = RateLimits::new(3);
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().expect("ip"), "127.0.0.2".parse().expect("ip"));
        for _ in 0..3 {
            assert!(limits.check(Some(a), Some("ada")).is_ok());
        }
        let wait = limits.check(Some(a), Some("bob")).expect_err("address exhausted");
        assert!(wait > Duration::ZERO);
        assert!(limits.check(Some(b), Some("ADA")).is_err(), "account exhausted from any address, in any case");
        assert!(limits.check(Some(b), Some("bob")).is_ok());
    }
}
