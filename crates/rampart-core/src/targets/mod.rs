//! Authorised targets — the scope every packet must pass — and the check against them.
//!
//! A target is an address, a network, a host name or a wildcard domain, optionally limited to
//! ports, and either included or excluded (an exclusion carves a hole in what is included).
//! Parsing normalises every spelling to one form and refuses the ambiguous ones, so that what is
//! checked is exactly what a tool would reach.

mod embedded;
mod host;
mod policy;
mod ports;
mod scope;

pub use embedded::{canonical, canonical_net, embedded_ipv4, reachable};
pub use host::{Host, parse_host_port};
pub use policy::{ALWAYS_DENIED, POLICY_REFUSAL, ServerPolicy};
pub use ports::PortRanges;
pub use scope::{Scope, ScopeTarget, Verdict};

use std::fmt;

use ipnet::IpNet;
use std::net::IpAddr;

use crate::validation::ValidationErrors;
use crate::words::words;

/// What a target names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TargetValue {
    Ip(IpAddr),
    /// A network, stored with its host bits cleared.
    Cidr(IpNet),
    /// A host name in ASCII (punycode), lowercase, without a trailing dot.
    Host(String),
    /// `*.example.com`: every name below `example.com`, not `example.com` itself.
    Wildcard(String),
}

impl TargetValue {
    /// Reads one target value, normalised; every refusal says why.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.starts_with('-') {
            return Err("must not start with '-' (it could be read as a tool's option)".into());
        }
        if value.is_empty() {
            return Err("must not be empty".into());
        }
        if let Some(domain) = value.strip_prefix("*.") {
            return match host::parse_host(domain)? {
                Host::Name(name) => Ok(TargetValue::Wildcard(name)),
                Host::Ip(_) => Err("a wildcard needs a domain, not an address".into()),
            };
        }
        if value.contains('/') {
            let (address, prefix) = value.rsplit_once('/').expect("contains '/'");
            let Host::Ip(_) = host::parse_host(address)? else {
                return Err("a network is written as an address and a prefix length, such as 10.0.0.0/16".into());
            };
            // The address as written: an IPv6 network's IPv4 image is taken as a whole below.
            let literal = address.trim();
            let literal = literal.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(literal);
            let address: IpAddr = literal.parse().map_err(|_| "is not a valid address".to_owned())?;
            let prefix: u8 = prefix.parse().map_err(|_| "the prefix length must be a number".to_owned())?;
            let net = IpNet::new(address, prefix)
                .map_err(|_| format!("the prefix length must be at most {}", max_prefix(address)))?;
            let net = embedded::canonical_net(net.trunc());
            // An IPv6 network that holds IPv4 spellings (NAT64, 6to4, Teredo, mapped or
            // compatible) without being one of them would be judged two ways: refused.
            if net.max_prefix_len() == 128 && embedded::reachable(net).len() > 1 {
                return Err(EMBEDDING_IN_PART.into());
            }
            // A /32 (or /128) is one address: store it as one.
            return Ok(if net.prefix_len() == net.max_prefix_len() {
                TargetValue::Ip(net.addr())
            } else {
                TargetValue::Cidr(net)
            });
        }
        match host::parse_host(value)? {
            Host::Ip(address) => Ok(TargetValue::Ip(address)),
            Host::Name(name) => Ok(TargetValue::Host(name)),
        }
    }

    /// How many addresses the value names: one for an address, the size of a network, `None`
    /// for a name or a wildcard (what they resolve to is known only when they are resolved).
    pub fn address_count(&self) -> Option<u128> {
        match self {
            TargetValue::Ip(_) => Some(1),
            TargetValue::Cidr(net) => Some(address_count(*net)),
            TargetValue::Host(_) | TargetValue::Wildcard(_) => None,
        }
    }

    pub fn kind(&self) -> TargetKind {
        match self {
            TargetValue::Ip(_) => TargetKind::Ip,
            TargetValue::Cidr(_) => TargetKind::Cidr,
            TargetValue::Host(_) => TargetKind::Host,
            TargetValue::Wildcard(_) => TargetKind::Wildcard,
        }
    }
}

/// How many addresses a network holds, saturated at `u128::MAX`: an IPv6 `/0` holds 2^128, one
/// more than a `u128` can say, and a plain shift by its 128 host bits would overflow.
pub fn address_count(net: IpNet) -> u128 {
    let host_bits = u32::from(net.max_prefix_len().saturating_sub(net.prefix_len()));
    1_u128.checked_shl(host_bits).unwrap_or(u128::MAX)
}

const EMBEDDING_IN_PART: &str = "reaches IPv4 in part (it overlaps ::ffff:0:0/96, ::/96, 64:ff9b::/96, \
    2002::/16 or 2001::/32 without lying inside one): write the IPv4 network, or a narrower IPv6 one";

fn max_prefix(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

impl fmt::Display for TargetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetValue::Ip(address) => address.fmt(f),
            TargetValue::Cidr(net) => net.fmt(f),
            TargetValue::Host(name) => f.write_str(name),
            TargetValue::Wildcard(name) => write!(f, "*.{name}"),
        }
    }
}

words!(
    /// What kind of value a target is.
    TargetKind { Ip => "ip", Cidr => "cidr", Host => "host", Wildcard => "wildcard" }
    else "must be ip, cidr, host or wildcard"
);

pub const NOTE_MAX: usize = 1000;
/// Most characters of a target's ports: a bulk import gives every line the same ports, so they
/// are stored up to 10,000 times over.
pub const PORTS_MAX: usize = 1000;
pub const TAG_MAX: usize = 50;
pub const TAGS_MAX: usize = 20;

/// A validated target, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTarget {
    pub value: TargetValue,
    /// `None`: every port.
    pub ports: Option<PortRanges>,
    pub exclude: bool,
    pub note: String,
    pub tags: Vec<String>,
}

impl NewTarget {
    pub fn parse(
        value: &str,
        ports: Option<&str>,
        exclude: bool,
        note: &str,
        tags: &[String],
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let value = errors.check("value", TargetValue::parse(value));
        let ports = match ports {
            Some(ports) => errors.check("ports", parse_ports(ports)).map(Some),
            None => Some(None),
        };
        let note = errors.check("note", parse_note(note));
        let tags = errors.check("tags", parse_tags(tags));
        match (value, ports, note, tags) {
            (Some(value), Some(ports), Some(note), Some(tags)) if errors.is_empty() => {
                Ok(Self { value, ports, exclude, note, tags })
            }
            _ => Err(errors),
        }
    }
}

pub fn parse_note(note: &str) -> Result<String, String> {
    crate::validation::check_free_text(note, NOTE_MAX)?;
    Ok(note.trim().to_owned())
}

/// A target's ports as a person writes them (`22,80,8000-8100`), at most [`PORTS_MAX`] characters.
pub fn parse_ports(text: &str) -> Result<PortRanges, String> {
    if text.chars().count() > PORTS_MAX {
        return Err(format!("must be at most {PORTS_MAX} characters"));
    }
    PortRanges::parse(text)
}

/// Tags: lowercase, trimmed, unique, sorted.
pub fn parse_tags(tags: &[String]) -> Result<Vec<String>, String> {
    if tags.len() > TAGS_MAX {
        return Err(format!("at most {TAGS_MAX} tags"));
    }
    let mut clean = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > TAG_MAX || tag.chars().any(|c| c.is_control() || c == ',') {
            return Err(format!("each tag must be 1 to {TAG_MAX} characters, without commas"));
        }
        clean.push(tag);
    }
    clean.sort();
    clean.dedup();
    Ok(clean)
}

#[cfg(test)]
mod tests;
