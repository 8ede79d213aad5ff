//! The outbound policy: what the server's own calls (the model URL, later webhooks, threat-intel
//! feeds, WHOIS/RDAP servers) may reach. There is no tenant scope; instead the addresses no
//! integration has business with — loopback, private (RFC 1918, ULA), link-local, CGNAT,
//! unspecified, multicast, documentation and the cloud metadata services — are refused unless the
//! configuration allows them (`outbound.allow`). The server's own sockets are refused whatever it
//! allows. IPv4 written as IPv6 is checked as IPv4.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use rampart_core::identity::{AuditAction, NewAuditEvent, Outcome};
use rampart_core::targets::canonical;
use rampart_store::Store;
use serde::{Deserialize, Serialize};

use crate::gate::{DENIED, Gate, Refusal, RefusalSink, Resolver, is_own};

/// Networks the server's outbound calls never reach unless `outbound.allow` names them.
pub const REFUSED: [&str; 20] = [
    // Loopback.
    "127.0.0.0/8",
    "::1/128",
    // Private: RFC 1918 and unique local addresses.
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    // Link-local, where cloud metadata services live (169.254.169.254, fd00:ec2::254 is ULA).
    "169.254.0.0/16",
    "fe80::/10",
    // Carrier-grade NAT, which holds another metadata service (100.100.100.200).
    "100.64.0.0/10",
    // Unspecified: "this host".
    "0.0.0.0/8",
    "::/128",
    // Multicast and broadcast.
    "224.0.0.0/4",
    "ff00::/8",
    "255.255.255.255/32",
    // Documentation.
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "2001:db8::/32",
    // Cloud metadata services outside the networks above.
    "169.254.169.254/32",
    "fd00:ec2::254/128",
];

/// The outbound policy's settings (`outbound` in the configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Networks (or single addresses) the server's outbound calls may reach although they are
    /// loopback, private, link-local, CGNAT, unspecified, multicast, documentation or metadata
    /// addresses, such as `["127.0.0.1/32"]` for a model on the same host.
    pub allow: Vec<String>,
}

impl OutboundConfig {
    /// Checks every entry; the error names each bad one.
    pub fn validate(&self) -> Result<(), String> {
        let bad: Vec<String> = self
            .allow
            .iter()
            .filter(|entry| parse_net(entry).is_none())
            .map(|entry| format!("{entry:?} is not an address or a network such as 127.0.0.1/32"))
            .collect();
        if bad.is_empty() { Ok(()) } else { Err(bad.join("; ")) }
    }

    /// The policy, with the server's own `sockets` always refused. Entries that do not parse are
    /// left out ([`OutboundConfig::validate`] refuses them when the configuration is loaded).
    pub fn policy(&self, sockets: Vec<SocketAddr>) -> OutboundPolicy {
        OutboundPolicy::new(self.allow.iter().filter_map(|entry| parse_net(entry)).collect(), sockets)
    }
}

/// `10.0.0.0/8` or a single address (of `outbound.allow` and `scope.deny`).
pub fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// What the server's own outbound calls may reach.
#[derive(Clone, Debug)]
pub struct OutboundPolicy {
    allow: Vec<IpNet>,
    refused: Vec<IpNet>,
    /// The server's own listening sockets: refused whatever `allow` says.
    sockets: Vec<SocketAddr>,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new())
    }
}

impl OutboundPolicy {
    pub fn new(allow: Vec<IpNet>, sockets: Vec<SocketAddr>) -> Self {
        let refused = REFUSED.iter().map(|net| net.parse().expect("the built-in list parses")).collect();
        let allow = allow.into_iter().map(rampart_core::targets::canonical_net).collect();
        Self { allow, refused, sockets }
    }

    /// Why `address` is refused, if it is. The reason names the address, never the rule.
    pub fn denies(&self, address: SocketAddr) -> Option<String> {
        let ip = canonical(address.ip());
        let refused = is_own(&self.sockets, ip, address.port())
            || (self.refused.iter().any(|net| net.contains(&ip)) && !self.allow.iter().any(|net| net.contains(&ip)));
        refused.then(|| format!("{ip} is {DENIED}"))
    }
}

/// The outbound gate: `policy`, names looked up by `resolver`, every refusal written to the
/// server's audit log (no organisation, by the system).
pub fn outbound_gate(store: Arc<dyn Store>, policy: Arc<OutboundPolicy>, resolver: Arc<dyn Resolver>) -> Gate {
    Gate::outbound(policy, resolver, Arc::new(AuditedOutbound { store }))
}

/// Writes every refusal of the outbound gate to the audit log.
struct AuditedOutbound {
    store: Arc<dyn Store>,
}

#[async_trait::async_trait]
impl RefusalSink for AuditedOutbound {
    async fn refused(&self, refusal: &Refusal) {
        let event = NewAuditEvent::by_system(AuditAction::ScopeRefused, Outcome::Denied)
            .target(refusal.target())
            .detail(refusal.reason.clone());
        if let Err(error) = self.store.audit().append(&event).await {
            // The call is refused all the same; the failure to record it is logged.
            tracing::error!(%error, "cannot record an outbound refusal in the audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    #[test]
    fn special_addresses_are_refused_in_every_spelling_unless_allowed() {
        let policy = OutboundPolicy::default();
        for refused in [
            "127.0.0.1:80",
            "[::1]:80",
            "10.1.2.3:443",
            "172.20.0.1:443",
            "192.168.1.1:443",
            "[fd12::1]:443",
            "169.254.169.254:80",
            "[fe80::1]:80",
            "100.64.0.1:80",
            "100.100.100.200:80",
            "0.0.0.0:80",
            "[::]:80",
            "224.0.0.1:80",
            "255.255.255.255:80",
            "192.0.2.1:80",
            "[2001:db8::1]:80",
            "[fd00:ec2::254]:80",
            "[::ffff:127.0.0.1]:80",
            "[64:ff9b::a9fe:a9fe]:80",
        ] {
            assert!(policy.denies(at(refused)).is_some(), "{refused}");
        }
        for allowed in ["93.184.215.14:443", "[2606:4700::1111]:443", "8.8.8.8:53"] {
            assert!(policy.denies(at(allowed)).is_none(), "{allowed}");
        }
    }

    #[test]
    fn what_the_configuration_allows_is_reached_but_never_the_servers_own_socket() {
        let config = OutboundConfig { allow: vec!["127.0.0.1/32".into(), "10.0.0.0/8".into()] };
        assert_eq!(config.validate(), Ok(()));
        let policy = config.policy(vec![at("127.0.0.1:8080")]);
        assert!(policy.denies(at("127.0.0.1:9000")).is_none());
        assert!(policy.denies(at("[::ffff:10.9.9.9]:443")).is_none());
        assert!(policy.denies(at("127.0.0.2:9000")).is_some(), "only what is named");
        assert!(policy.denies(at("169.254.169.254:80")).is_some());
        assert!(policy.denies(at("127.0.0.1:8080")).is_some(), "the server's own socket");
    }

    #[test]
    fn bad_entries_are_named() {
        let config = OutboundConfig { allow: vec!["127.0.0.1/33".into(), "10.0.0.1".into(), "model.internal".into()] };
        let error = config.validate().expect_err("two bad entries");
        assert!(error.contains("\"127.0.0.1/33\"") && error.contains("\"model.internal\""), "{error}");
        assert!(!error.contains("10.0.0.1"), "{error}");
    }
}
