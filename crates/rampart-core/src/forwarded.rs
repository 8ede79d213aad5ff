//! The client's address behind reverse proxies. `X-Forwarded-For` is a list that every proxy
//! appends to, so only its right end can be believed: walking from the socket's peer leftwards,
//! each hop is believed while the one before it is a trusted proxy. The first hop that is not a
//! trusted proxy is the client; a hop that cannot be read ends the walk at the proxy that wrote
//! it, never at a hop further left (which the client itself may have written).
//!
//! Hops are read in every spelling proxies write: `203.0.113.9`, `203.0.113.9:443`,
//! `[2001:db8::1]`, `[2001:db8::1]:443`, `2001:db8::1`, quoted, across several headers.
//! IPv4-mapped IPv6 (`::ffff:127.0.0.1`, as a dual-stack socket reports IPv4 peers) is compared
//! as IPv4.
//!
//! A pure function of the header's text, so that it is fuzzed (`fuzz/fuzz_targets/forwarded.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The client of a request that came from `peer` with these `X-Forwarded-For` values (in the
/// order received; `None` for a value that is not text), when the proxies in `trusted` are
/// believed.
pub fn client_ip<'h>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = Option<&'h str>>,
    trusted: &[IpAddr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|proxy| proxy.to_canonical() == ip);
    let mut nearest = peer.to_canonical();
    if !is_trusted(nearest) {
        return nearest;
    }
    for value in forwarded.rev() {
        // A value that is not text cannot be split into hops: it ends the walk here.
        let Some(text) = value else { return nearest };
        for hop in text.rsplit(',') {
            let Some(ip) = parse_hop(hop) else { return nearest };
            if !is_trusted(ip) {
                return ip;
            }
            nearest = ip;
        }
    }
    nearest
}

/// One hop of `X-Forwarded-For`, in any spelling proxies write; `None` when it is not an address
/// (`unknown`, an obfuscated name, garbage, an empty item).
pub fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let hop = hop.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).unwrap_or(hop).trim();
    let is_port = |port: &str| !port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok();
    let ip = if let Some(rest) = hop.strip_prefix('[') {
        let (literal, after) = rest.split_once(']')?;
        match after {
            "" => {}
            after if after.strip_prefix(':').is_some_and(is_port) => {}
            _ => return None,
        }
        IpAddr::V6(literal.parse::<Ipv6Addr>().ok()?)
    } else {
        match hop.matches(':').count() {
            0 => IpAddr::V4(hop.parse::<Ipv4Addr>().ok()?),
            1 => {
                let (address, port) = hop.split_once(':')?;
                if !is_port(port) {
                    return None;
                }
                IpAddr::V4(address.parse::<Ipv4Addr>().ok()?)
            }
            _ => IpAddr::V6(hop.parse::<Ipv6Addr>().ok()?),
        }
    };
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn client(peer: &str, headers: &[&'static str], trusted: &[&str]) -> IpAddr {
        let trusted: Vec<IpAddr> = trusted.iter().map(|text| ip(text)).collect();
        client_ip(ip(peer), headers.iter().map(|text| Some(*text)), &trusted)
    }

    #[test]
    fn every_spelling_of_a_hop_is_read() {
        for (hop, expected) in [
            ("203.0.113.9", "203.0.113.9"),
            (" 203.0.113.9:443 ", "203.0.113.9"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("\"203.0.113.9:443\"", "203.0.113.9"),
            ("\"[2001:db8::1]:8443\"", "2001:db8::1"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
            ("[::ffff:203.0.113.9]:1", "203.0.113.9"),
        ] {
            assert_eq!(parse_hop(hop), Some(ip(expected)), "{hop:?}");
        }
        for bad in [
            "",
            "unknown",
            "_hidden",
            "203.0.113.9:",
            "203.0.113.9:99999",
            "203.0.113.9:x",
            "[2001:db8::1",
            "[2001:db8::1]443",
            "[203.0.113.9]",
            "fe80::1%eth0",
            "127.1",
            "\"203.0.113.9",
        ] {
            assert_eq!(parse_hop(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(client("198.51.100.7", &["6.6.6.6"], &["10.0.0.1"]), ip("198.51.100.7"));
        assert_eq!(client("198.51.100.7", &["6.6.6.6"], &[]), ip("198.51.100.7"));
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client_in_any_spelling() {
        let proxies = ["10.0.0.1", "10.0.0.2"];
        for (headers, expected) in [
            (&["6.6.6.6, 203.0.113.9, 10.0.0.2"][..], "203.0.113.9"),
            (&["6.6.6.6, 203.0.113.9:443"], "203.0.113.9"),
            (&["6.6.6.6, [2001:db8::9]:443, 10.0.0.2:80"], "2001:db8::9"),
            (&["6.6.6.6, [2001:db8::9]"], "2001:db8::9"),
            (&["6.6.6.6, 2001:db8::9"], "2001:db8::9"),
            (&["6.6.6.6, \"203.0.113.9\""], "203.0.113.9"),
            // Several headers are one list, in the order received.
            (&["6.6.6.6", "203.0.113.9", "10.0.0.2"], "203.0.113.9"),
            (&["6.6.6.6, 203.0.113.9", "::ffff:10.0.0.2"], "203.0.113.9"),
        ] {
            assert_eq!(client("10.0.0.1", headers, &proxies), ip(expected), "{headers:?}");
        }
        assert_eq!(client("10.0.0.1", &[], &proxies), ip("10.0.0.1"), "no header: the proxy");
        assert_eq!(client("10.0.0.1", &["10.0.0.2"], &proxies), ip("10.0.0.2"), "only proxies: the farthest");
    }

    #[test]
    fn an_unreadable_nearest_hop_makes_the_proxy_the_client() {
        let proxies = ["10.0.0.1", "10.0.0.2"];
        for headers in [
            &["6.6.6.6, garbage"][..],
            &["6.6.6.6, unknown"],
            &["6.6.6.6, 203.0.113.9:http"],
            &["6.6.6.6,"],
            &["6.6.6.6", ""],
        ] {
            assert_eq!(client("10.0.0.1", headers, &proxies), ip("10.0.0.1"), "{headers:?}");
        }
        // Behind the second proxy, the walk stops at it.
        assert_eq!(client("10.0.0.1", &["6.6.6.6, bad, 10.0.0.2"], &proxies), ip("10.0.0.2"));
        // A value that is not text (opaque bytes) ends the walk too.
        assert_eq!(client_ip(ip("10.0.0.1"), [None].into_iter(), &[ip("10.0.0.1")]), ip("10.0.0.1"));
    }

    #[test]
    fn an_ipv4_mapped_peer_is_compared_as_ipv4() {
        assert_eq!(client("::ffff:10.0.0.1", &["203.0.113.9"], &["10.0.0.1"]), ip("203.0.113.9"));
        assert_eq!(client("10.0.0.1", &["203.0.113.9"], &["::ffff:10.0.0.1"]), ip("203.0.113.9"));
        assert_eq!(client("::ffff:198.51.100.7", &[], &[]), ip("198.51.100.7"), "the client is IPv4 too");
    }
}
