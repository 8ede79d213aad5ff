//! Targets as an external tool receives them: each one argument, an address or a host name, and
//! nothing a program could read as an option, a file or a shell word. A target is refused here
//! before anything is spawned; what passes was also checked against the scope by the caller.

use std::net::IpAddr;

use rampart_core::targets::TargetValue;

/// Most targets one external run names.
pub const TARGETS_MAX: usize = 256;
/// Most addresses one external run passes, networks expanded.
pub const ADDRESSES_MAX: u64 = 4096;

/// Characters no target contains, whatever its kind: shell words, option and assignment marks,
/// paths, quoting and globbing.
const REFUSED: &[char] = &[
    ';', '$', '`', '=', '&', '|', '<', '>', '\'', '"', '\\', '(', ')', '{', '}', '[', ']', '*', '?', '!', ',', '#',
    '~', '%', '+', '@',
];

/// A target as a user names it: an address, a network (`10.0.0.0/24`) or a host name, read
/// strictly. Whatever starts with `-`, holds white space, a control character or one of
/// [`REFUSED`] is refused, as is a wildcard; a `/` is allowed only as a network's prefix.
pub fn parse_target(text: &str) -> Result<TargetValue, String> {
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    if text.len() > 253 + 4 {
        return Err("is too long".into());
    }
    if text.starts_with('-') {
        return Err("must not start with '-' (it could be read as an option)".into());
    }
    if let Some(bad) = text.chars().find(|c| c.is_whitespace() || c.is_control() || REFUSED.contains(c)) {
        return Err(format!("must not contain {bad:?}"));
    }
    if text.matches('/').count() > 1 {
        return Err("must not contain a path".into());
    }
    match TargetValue::parse(text)? {
        TargetValue::Wildcard(_) => Err("a wildcard cannot be given to a tool; name hosts".into()),
        TargetValue::Host(name) if text.contains('/') => Err(format!("{name} is a name, and a name has no '/'")),
        value => Ok(value),
    }
}

/// One argument naming one host, checked again just before it is passed: an address, or a host
/// name in its normal form, never starting with `-` and holding nothing of [`REFUSED`], no `/`
/// and no white space.
pub fn host_argument(host: &str) -> Result<String, String> {
    if host.contains('/') {
        return Err(format!("{host:?} is not one host"));
    }
    match parse_target(host)? {
        TargetValue::Ip(address) => Ok(address.to_string()),
        TargetValue::Host(name) => Ok(name),
        _ => Err(format!("{host:?} is not one host")),
    }
}

/// An address as an argument.
pub fn address_argument(address: IpAddr) -> String {
    address.to_canonical().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_shell_and_path_spellings_are_refused() {
        for hostile in [
            "-oN /tmp/x",
            "-oN",
            "--script=http-title",
            "127.0.0.1;id",
            ";id",
            "$(id)",
            "`id`",
            "a.example --script=x",
            "127.0.0.1 -oN /tmp/x",
            "a=b",
            "/etc/passwd",
            "10.0.0.0/8/9",
            "host.example/24",
            "*.example.com",
            "a\nb",
            "a\tb",
            "",
        ] {
            assert!(parse_target(hostile).is_err(), "{hostile:?} must be refused");
            assert!(host_argument(hostile).is_err(), "{hostile:?} must be refused as an argument");
        }
    }

    #[test]
    fn addresses_networks_and_names_are_read() {
        assert_eq!(parse_target("127.0.0.1"), Ok(TargetValue::Ip([127, 0, 0, 1].into())));
        assert!(matches!(parse_target("127.0.0.0/30"), Ok(TargetValue::Cidr(_))));
        assert_eq!(parse_target("Scan.Example"), Ok(TargetValue::Host("scan.example".into())));
        assert_eq!(host_argument("::1").as_deref(), Ok("::1"));
        assert!(host_argument("127.0.0.0/30").is_err(), "a network is expanded before it is passed");
    }
}
