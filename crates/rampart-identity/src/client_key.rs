//! The key a client address is limited by. An IPv4 address is one client; an IPv6 client is
//! given a whole /64 (a home or a cloud machine picks any address in it at will), so every
//! address of one /64 shares one limit. IPv4-mapped IPv6 is the IPv4 address.

use std::net::{IpAddr, Ipv6Addr};

/// The address that stands for `ip` in per-address limits.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::RateLimits;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_ipv6_64_is_one_client_and_ipv4_is_per_address() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2::1")), client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(client_key(ip("2001:db8:1:2::1")), client_key(ip("2001:db8:1:3::1")));
        assert_eq!(client_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_ne!(client_key(ip("203.0.113.9")), client_key(ip("203.0.113.10")));
        assert_eq!(client_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn two_to_the_sixteen_addresses_of_one_64_share_one_limit() {
        let limits = RateLimits::new(10);
        let base = u128::from("2001:db8:7:7::".parse::<Ipv6Addr>().expect("IPv6"));
        let allowed = (0..1u128 << 16)
            .filter(|n| {
                // Spread over the interface identifier, as a client rotating addresses would.
                let interface = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) & u128::from(u64::MAX);
                let address = IpAddr::V6(Ipv6Addr::from(base | interface));
                limits.check(Some(address), None).is_ok()
            })
            .count();
        assert_eq!(allowed, 10, "one /64 has the quota of one client");
        assert!(limits.check(Some(ip("2001:db8:7:8::1")), None).is_ok(), "the next /64 is another client");
        assert!(limits.check(Some(ip("203.0.113.1")), None).is_ok());
    }
}
