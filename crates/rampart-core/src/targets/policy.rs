//! The server's policy: what any organisation may authorise and reach at all. The operator's
//! allow list (`scope.allow`, everything when empty) less the deny list, which always holds the
//! addresses no scan has business with (this network, unspecified, link-local, multicast and
//! broadcast) and the operator's own (`scope.deny`). IPv4 written as IPv6 is checked as IPv4.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::targets::embedded::{canonical, canonical_net, reachable};
use crate::targets::{Host, Scope, ScopeTarget, TargetValue};

/// What a refusal by the policy says: never which rule, so that the policy itself stays private.
pub const POLICY_REFUSAL: &str = "not allowed by the server's policy";

/// Networks that are denied whatever the configuration says.
pub const ALWAYS_DENIED: [&str; 7] = [
    // "This network": 0.0.0.0 reaches the host's own services.
    "0.0.0.0/8",
    "::/128",
    // Link-local, where cloud metadata services live.
    "169.254.0.0/16",
    "fe80::/10",
    // Multicast and broadcast: one probe, many hosts.
    "224.0.0.0/4",
    "ff00::/8",
    "255.255.255.255/32",
];

#[derive(Clone, Debug)]
pub struct ServerPolicy {
    /// `None`: everything that is not denied.
    allow: Option<Scope>,
    deny: Vec<IpNet>,
}

impl Default for ServerPolicy {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new())
    }
}

impl ServerPolicy {
    /// The policy of an allow list (empty: everything) and the operator's deny list; the
    /// networks of [`ALWAYS_DENIED`] are added.
    pub fn new(allow: Vec<TargetValue>, deny: Vec<IpNet>) -> Self {
        let allow = (!allow.is_empty()).then(|| {
            Scope::new(allow.into_iter().map(|value| ScopeTarget { value, ports: None, exclude: false }).collect())
        });
        let mut networks: Vec<IpNet> =
            ALWAYS_DENIED.iter().map(|net| net.parse().expect("the built-in deny list parses")).collect();
        networks.extend(deny.into_iter().map(canonical_net));
        Self { allow, deny: networks }
    }

    /// The deny list's network covering `address`, if any.
    pub fn denying(&self, address: IpAddr) -> Option<&IpNet> {
        let address = canonical(address);
        self.deny.iter().find(|net| net.contains(&address))
    }

    /// True when an organisation's tool may reach `address` at all.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        self.denying(address).is_none() && self.allow.as_ref().is_none_or(|allow| allow.covers_address(address))
    }

    /// True when an organisation may name `name` (its addresses are checked when it is resolved).
    pub fn allows_name(&self, name: &str) -> bool {
        self.allow.as_ref().is_none_or(|allow| allow.check(&Host::Name(name.to_owned()), None).is_in())
    }

    /// True when an organisation may authorise `value`: every address it reaches (IPv4 through
    /// IPv6 included) is allowed and none is denied. Exclusions are always permitted.
    pub fn permits_target(&self, value: &TargetValue, exclude: bool) -> bool {
        if exclude {
            return true;
        }
        match value {
            TargetValue::Ip(address) => self.allows_address(*address),
            TargetValue::Cidr(net) => reachable(*net).into_iter().all(|part| self.allows_network(part)),
            TargetValue::Host(name) => self.allows_name(name),
            // Every name below the domain: the allow list must cover them all.
            TargetValue::Wildcard(domain) => self.allows_name(&format!("*.{domain}")),
        }
    }

    fn allows_network(&self, net: IpNet) -> bool {
        let overlaps = |denied: &IpNet| denied.contains(&net.network()) || net.contains(&denied.network());
        !self.deny.iter().any(overlaps)
            && self.allow.as_ref().is_none_or(|allow| allow.check_network(canonical_net(net)).is_in())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> TargetValue {
        TargetValue::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn the_built_in_deny_list_holds_whatever_is_configured() {
        let policy = ServerPolicy::default();
        for denied in [
            "0.0.0.0",
            "0.1.2.3",
            "::",
            "169.254.169.254",
            "fe80::1",
            "224.0.0.1",
            "239.255.255.250",
            "ff02::1",
            "255.255.255.255",
            // The same, spelled as IPv6.
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:5601:5601",
            "::0.0.0.0",
            "64:ff9b::",
        ] {
            assert!(policy.denying(ip(denied)).is_some(), "{denied}");
            assert!(!policy.allows_address(ip(denied)), "{denied}");
        }
        for allowed in ["10.0.0.1", "127.0.0.1", "::1", "2001:db8::1", "192.0.2.1"] {
            assert!(policy.allows_address(ip(allowed)), "{allowed}");
        }
    }

    #[test]
    fn configured_denials_catch_every_spelling() {
        let policy = ServerPolicy::new(Vec::new(), vec!["10.0.0.0/8".parse().expect("net")]);
        for spelling in [
            "10.1.2.3",
            "::ffff:10.1.2.3",
            "::10.1.2.3",
            "64:ff9b::a01:203",
            "2002:a01:203::",
            "2001:0:1:2:3:4:f5fe:fdfc",
        ] {
            assert!(!policy.allows_address(ip(spelling)), "{spelling}");
        }
        for target in ["10.0.0.0/16", "64:ff9b::a00:0/120", "2002:a00::/24", "2002::/16", "0.0.0.0/0"] {
            assert!(!policy.permits_target(&value(target), false), "{target}");
        }
        assert!(policy.permits_target(&value("10.0.0.0/16"), true), "an exclusion narrows, it is always permitted");
        assert!(policy.permits_target(&value("192.168.0.0/16"), false));
        assert!(policy.permits_target(&value("2001:db8::/32"), false));
    }

    #[test]
    fn an_allow_list_limits_what_may_be_authorised() {
        let policy = ServerPolicy::new(
            vec![value("192.0.2.0/24"), value("2001:db8::/32"), value("*.example.com"), value("scanme.test")],
            Vec::new(),
        );
        for allowed in [
            "192.0.2.0/25",
            "192.0.2.7",
            "::ffff:192.0.2.7",
            "2001:db8:1::/48",
            "www.example.com",
            "*.lab.example.com",
            "scanme.test",
        ] {
            assert!(policy.permits_target(&value(allowed), false), "{allowed}");
        }
        for refused in [
            "192.0.0.0/16",
            "10.0.0.1",
            "127.0.0.1",
            "example.com",
            "*.example.org",
            "other.test",
            "2001:db9::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!policy.permits_target(&value(refused), false), "{refused}");
        }
        assert!(policy.allows_address(ip("64:ff9b::c000:207")), "NAT64 spelling of an allowed address");
        assert!(!policy.allows_address(ip("10.0.0.1")));
        assert!(policy.allows_name("a.example.com") && !policy.allows_name("example.net"));
    }
}
