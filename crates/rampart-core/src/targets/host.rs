//! Host names and addresses, normalised: lowercase ASCII (punycode) names without a trailing dot,
//! IPv4 written as IPv6 (mapped, compatible, NAT64, 6to4, Teredo) as IPv4. Spellings that resolvers read as addresses but that are not plainly
//! addresses (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`, `2130706433`) are refused rather than guessed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(address) => address.fmt(f),
            Host::Name(name) => f.write_str(name),
        }
    }
}

const AMBIGUOUS: &str = "is an ambiguous address spelling (write the address in full dotted-decimal form)";

pub(crate) fn parse_host(text: &str) -> Result<Host, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    if text.starts_with('-') {
        return Err("must not start with '-' (it could be read as a tool's option)".into());
    }
    let unbracketed = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']'));
    if unbracketed.is_some() || text.contains(':') {
        let literal = unbracketed.unwrap_or(text);
        if literal.contains('%') {
            return Err("must not carry an IPv6 zone (%…)".into());
        }
        let address: Ipv6Addr = literal.parse().map_err(|_| "is not a valid IPv6 address".to_owned())?;
        return Ok(Host::Ip(normalise_v6(address)));
    }
    if let Ok(address) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(address)));
    }
    parse_name(text).map(Host::Name)
}

fn normalise_v6(address: Ipv6Addr) -> IpAddr {
    super::embedded::canonical(IpAddr::V6(address))
}

/// A host name: IDNA to ASCII, lowercase, one trailing dot dropped, every label checked.
fn parse_name(text: &str) -> Result<String, String> {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() || text.ends_with('.') {
        return Err("is not a valid host name".into());
    }
    let ascii = idna::domain_to_ascii(text).map_err(|_| "is not a valid international domain name".to_owned())?;
    if ascii.is_empty() || ascii.len() > 253 {
        return Err("must be 1 to 253 characters".into());
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    for label in &labels {
        let chars_ok = label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > 63 || !chars_ok || label.starts_with('-') || label.ends_with('-') {
            return Err("is not a valid host name (labels of 1 to 63 letters, digits, '-' or '_')".into());
        }
    }
    // No top-level domain is numeric: a numeric or hex last label is an address in disguise,
    // which a resolver would read in its own way (inet_aton accepts 127.1, 0x7f.1, 017700000001).
    let last = labels.last().expect("at least one label");
    let looks_numeric = last.bytes().all(|b| b.is_ascii_digit())
        || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    if looks_numeric {
        return Err(AMBIGUOUS.into());
    }
    Ok(ascii)
}

/// Reads `host`, `host:port`, `1.2.3.4:80`, `[::1]:443` or a bare IPv6 address.
pub fn parse_host_port(text: &str) -> Result<(Host, Option<u16>), String> {
    let text = text.trim();
    let port_of = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{p:?} is not a port 1-65535")),
        Ok(port) => Ok(port),
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (literal, after) = rest.split_once(']').ok_or("an opening '[' needs its ']'")?;
        let port = match after {
            "" => None,
            after => Some(port_of(after.strip_prefix(':').ok_or("expected ':' and a port after ']'")?)?),
        };
        return Ok((parse_host(&format!("[{literal}]"))?, port));
    }
    match text.matches(':').count() {
        0 => Ok((parse_host(text)?, None)),
        1 => {
            let (host, port) = text.split_once(':').expect("one colon");
            Ok((parse_host(host)?, Some(port_of(port)?)))
        }
        _ => Ok((parse_host(text)?, None)),
    }
}
