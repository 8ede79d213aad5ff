//! The rules of targets and scope, and property tests holding the scope index to a naive reading
//! of the rules.

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn value(text: &str) -> TargetValue {
    TargetValue::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn host(text: &str) -> Host {
    host::parse_host(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn target(text: &str, ports: Option<&str>, exclude: bool) -> ScopeTarget {
    ScopeTarget { value: value(text), ports: ports.map(|p| PortRanges::parse(p).expect("ports")), exclude }
}

#[test]
fn each_kind_is_detected_and_normalised() {
    assert_eq!(value("10.0.0.1"), TargetValue::Ip("10.0.0.1".parse().expect("ip")));
    assert_eq!(value("10.0.7.9/16").to_string(), "10.0.0.0/16", "host bits are cleared");
    assert_eq!(value("10.0.0.9/32"), TargetValue::Ip("10.0.0.9".parse().expect("ip")), "a /32 is one address");
    assert_eq!(value("2001:DB8::/32").to_string(), "2001:db8::/32");
    assert_eq!(value("[2001:db8::1]"), TargetValue::Ip("2001:db8::1".parse().expect("ip")));
    assert_eq!(value("WWW.Example.COM."), TargetValue::Host("www.example.com".into()), "case and trailing dot");
    assert_eq!(value("*.Example.com"), TargetValue::Wildcard("example.com".into()));
    assert_eq!(value("bücher.example"), TargetValue::Host("xn--bcher-kva.example".into()), "IDNA to punycode");
    assert_eq!(value("xn--bcher-kva.example"), value("BÜCHER.example."), "one spelling per name");
}

#[test]
fn address_counts_never_overflow_even_for_the_whole_address_space() {
    assert_eq!(value("10.0.0.1").address_count(), Some(1));
    assert_eq!(value("10.0.0.0/16").address_count(), Some(65_536));
    assert_eq!(value("0.0.0.0/0").address_count(), Some(1 << 32));
    assert_eq!(value("2001:db8::/64").address_count(), Some(1 << 64));
    assert_eq!(value("8000::/1").address_count(), Some(1 << 127));
    // 2^128 does not fit: the count saturates rather than wrapping to one. (`::/0` is no target,
    // since it holds IPv4 spellings in part, but its size is still counted without overflow.)
    assert_eq!(address_count("::/0".parse().expect("a network")), u128::MAX);
    assert_eq!(value("example.com").address_count(), None);
    assert_eq!(value("*.example.com").address_count(), None);
}

#[test]
fn ipv4_mapped_ipv6_is_ipv4() {
    assert_eq!(value("::ffff:192.0.2.1"), value("192.0.2.1"));
    assert_eq!(host("[::ffff:c000:201]"), host("192.0.2.1"));
}

#[test]
fn every_ipv6_spelling_of_ipv4_is_stored_as_ipv4() {
    for spelling in ["::192.0.2.1", "64:ff9b::c000:201", "2002:c000:201::", "[2001:0:4136:e378:8000:63bf:3fff:fdfe]"] {
        assert_eq!(value(spelling), value("192.0.2.1"), "{spelling}");
    }
    assert_eq!(value("64:ff9b::c000:200/120").to_string(), "192.0.2.0/24");
    assert_eq!(value("2002:c000:200::/40").to_string(), "192.0.2.0/24");
    assert_eq!(value("::1"), TargetValue::Ip("::1".parse().expect("ip")), "IPv6 loopback is IPv6's own");
}

#[test]
fn an_ipv6_network_holding_ipv4_spellings_in_part_is_refused() {
    for network in ["::/0", "2000::/3", "2001::/64", "64:ff9b::/64", "::/64", "2002::/15"] {
        let error = TargetValue::parse(network).expect_err(network);
        assert!(error.contains("IPv4"), "{network}: {error}");
    }
    for network in ["2001:db8::/32", "fd00::/8", "2003::/16", "::/127"] {
        assert!(TargetValue::parse(network).is_ok(), "{network}");
    }
}

#[test]
fn ambiguous_address_spellings_are_refused() {
    for spelling in [
        "127.1",
        "0x7f.0.0.1",
        "0x7f000001",
        "0177.0.0.1",
        "127.0.0.01",
        "2130706433",
        "017700000001",
        "1.2.3.4.5",
        "10.0.0.256",
    ] {
        let error = TargetValue::parse(spelling).expect_err(spelling);
        assert!(error.contains("ambiguous") || error.contains("valid"), "{spelling}: {error}");
    }
}

#[test]
fn option_like_and_malformed_values_are_refused() {
    for bad in [
        "-oX",
        "--script=evil",
        "-",
        "",
        "a b.example",
        "exa mple.com",
        "*.10.0.0.0",
        "10.0.0.0/33",
        "10.0.0.0/x",
        "fe80::1%eth0",
        "*.",
        "host..example",
        "-host.example",
        "host-.example",
    ] {
        assert!(TargetValue::parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn ports_are_merged_and_checked() {
    let ports = PortRanges::parse("443, 80,8000-8100,8050-8200,81").expect("valid");
    assert_eq!(ports.to_string(), "80-81,443,8000-8200");
    assert!(ports.contains(8200) && ports.contains(80) && !ports.contains(82) && !ports.contains(8201));
    for bad in ["0", "65536", "90-80", "", "http", "1-"] {
        assert!(PortRanges::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn host_and_port_strings_are_split_carefully() {
    assert_eq!(parse_host_port("example.com:443"), Ok((host("example.com"), Some(443))));
    assert_eq!(parse_host_port("[::1]:22"), Ok((host("::1"), Some(22))));
    assert_eq!(parse_host_port("2001:db8::1"), Ok((host("2001:db8::1"), None)));
    assert_eq!(parse_host_port("10.0.0.1"), Ok((host("10.0.0.1"), None)));
    assert!(parse_host_port("example.com:0").is_err() && parse_host_port("[::1]x").is_err());
}

#[test]
fn exclusions_carve_holes_in_inclusions() {
    let scope = Scope::new(vec![target("10.0.0.0/16", None, false), target("10.0.5.0/24", None, true)]);
    assert!(scope.check(&host("10.0.4.255"), Some(80)).is_in());
    assert_eq!(scope.check(&host("10.0.5.7"), Some(80)), Verdict::Excluded { by: value("10.0.5.0/24") });
    assert!(scope.check(&host("10.0.6.0"), None).is_in());
    assert_eq!(scope.check(&host("10.1.0.0"), None), Verdict::NotCovered);
}

#[test]
fn an_exclusion_alone_authorises_nothing() {
    let scope = Scope::new(vec![target("10.0.5.0/24", None, true)]);
    assert_eq!(scope.check(&host("10.0.5.1"), None), Verdict::NotCovered);
}

#[test]
fn wildcards_cover_subdomains_not_the_apex() {
    let scope = Scope::new(vec![target("*.example.com", None, false), target("admin.example.com", None, true)]);
    assert!(scope.check(&host("www.example.com"), None).is_in());
    assert!(scope.check(&host("a.b.example.com"), None).is_in());
    assert_eq!(scope.check(&host("example.com"), None), Verdict::NotCovered);
    assert_eq!(scope.check(&host("badexample.com"), None), Verdict::NotCovered);
    assert_eq!(scope.check(&host("admin.example.com"), None), Verdict::Excluded { by: value("admin.example.com") });
    assert!(scope.check(&host("WWW.EXAMPLE.COM."), None).is_in(), "the checked name is normalised too");
}

#[test]
fn port_ranges_limit_a_target() {
    let scope =
        Scope::new(vec![target("192.0.2.0/24", Some("80,443"), false), target("192.0.2.10", Some("443"), true)]);
    assert!(scope.check(&host("192.0.2.1"), Some(443)).is_in());
    assert!(matches!(scope.check(&host("192.0.2.1"), Some(22)), Verdict::PortNotCovered { .. }));
    assert!(matches!(scope.check(&host("192.0.2.1"), None), Verdict::PortNotCovered { .. }), "no port: not all of it");
    assert!(scope.check(&host("192.0.2.10"), Some(80)).is_in());
    assert!(matches!(scope.check(&host("192.0.2.10"), Some(443)), Verdict::Excluded { .. }));
}

#[test]
fn ipv6_and_mapped_addresses_are_checked() {
    let scope = Scope::new(vec![target("2001:db8::/32", None, false), target("192.0.2.0/24", None, false)]);
    assert!(scope.check(&host("2001:db8:1::5"), None).is_in());
    assert!(!scope.check(&host("2001:db9::1"), None).is_in());
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
    assert!(scope.allows(mapped, None), "a mapped address is checked as IPv4");
}

#[test]
fn a_network_is_in_scope_only_when_all_of_it_is() {
    let scope = Scope::new(vec![
        target("10.0.0.0/16", None, false),
        target("10.1.0.0/24", Some("443"), false),
        target("10.0.5.0/24", None, true),
        target("10.0.6.0/24", Some("22"), true),
    ]);
    let net = |text: &str| text.parse::<ipnet::IpNet>().expect("net");
    assert!(scope.check_network(net("10.0.0.0/22")).is_in());
    assert!(scope.check_network(net("10.0.6.0/24")).is_in(), "an exclusion of some ports leaves the addresses");
    assert!(scope.check_network(net("10.1.0.0/25")).is_in(), "ports are checked per probe");
    assert_eq!(scope.check_network(net("10.0.4.0/23")), Verdict::Excluded { by: value("10.0.5.0/24") });
    assert!(!scope.check_network(net("10.0.0.0/15")).is_in(), "a hole and 10.1.1.0 onwards");
    assert_eq!(scope.check_network(net("10.1.0.0/23")), Verdict::NotCovered, "10.1.1.0 and beyond are not covered");
    assert_eq!(scope.check_network(net("9.255.255.0/24")), Verdict::NotCovered);
    assert_eq!(scope.check_network(net("2001:db8::/64")), Verdict::NotCovered);
    assert!(
        scope.covers_address("10.1.0.9".parse().expect("ip")) && !scope.covers_address("10.0.5.1".parse().expect("ip"))
    );
}

/// The obvious, slow reading of the rules, to hold the index to.
fn naive(targets: &[ScopeTarget], address: IpAddr, port: Option<u16>) -> bool {
    let covers = |t: &ScopeTarget| {
        let hit = match &t.value {
            TargetValue::Ip(a) => *a == address,
            TargetValue::Cidr(net) => net.contains(&address),
            _ => false,
        };
        hit && t.ports.as_ref().is_none_or(|p| port.is_some_and(|port| p.contains(port)))
    };
    targets.iter().any(|t| !t.exclude && covers(t)) && !targets.iter().any(|t| t.exclude && covers(t))
}

fn arb_target() -> impl Strategy<Value = ScopeTarget> {
    // A small address space (10.0.x.y) so that ranges overlap often.
    (0u8..4, any::<u8>(), 16u8..=32, proptest::option::of((1u16..100, 0u16..20)), any::<bool>()).prop_map(
        |(b, c, prefix, ports, exclude)| {
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, 0, b, c), prefix).expect("valid prefix").trunc();
            let value = if prefix == 32 {
                TargetValue::Ip(IpAddr::V4(net.addr()))
            } else {
                TargetValue::Cidr(ipnet::IpNet::V4(net))
            };
            let ports = ports.map(|(low, span)| PortRanges::parse(&format!("{low}-{}", low + span)).expect("valid"));
            ScopeTarget { value, ports, exclude }
        },
    )
}

proptest! {
    #[test]
    fn the_index_agrees_with_the_naive_rules(
        targets in proptest::collection::vec(arb_target(), 0..40),
        probes in proptest::collection::vec((0u8..4, any::<u8>(), proptest::option::of(1u16..130)), 1..60),
    ) {
        let scope = Scope::new(targets.clone());
        for (b, c, port) in probes {
            let address = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, b, c));
            let expected = naive(&targets, address, port);
            prop_assert_eq!(scope.allows(address, port), expected);
            prop_assert_eq!(scope.check(&Host::Ip(address), port).is_in(), expected);
        }
    }

    #[test]
    fn parsing_is_idempotent(text in "[a-zA-Z0-9.:/*\\-\\[\\]]{1,40}") {
        if let Ok(parsed) = TargetValue::parse(&text) {
            prop_assert_eq!(TargetValue::parse(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn any_address_round_trips(address in any::<IpAddr>()) {
        let parsed = TargetValue::parse(&address.to_string()).expect("an address in its own text form parses");
        let expected = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
            v4 => v4,
        };
        prop_assert_eq!(parsed, TargetValue::Ip(expected));
    }

    #[test]
    fn names_never_start_with_a_dash_after_parsing(text in "\\PC{0,30}") {
        if let Ok(parsed) = TargetValue::parse(&text) {
            prop_assert!(!parsed.to_string().starts_with('-'));
        }
    }
}
