//! The inventory: what runs have seen — hosts, services, URLs, domains and certificates — each
//! once per organisation, keyed by what it is (an address, `10.0.0.5:tcp/22`, a URL, a name, the
//! endpoint that presented a certificate). Findings hang on assets: an asset says where its
//! findings are. Pure types; no I/O.

use chrono::{DateTime, Utc};

use crate::output::Artifact;
use crate::words::words;
use crate::{AssetId, ExecutionId};

words!(
    /// What an asset is.
    AssetKind { Host => "host", Service => "service", Url => "url", Domain => "domain", Certificate => "certificate" }
);

/// An artifact as the asset it is: its kind, the value that is its identity, and the host it
/// stands on (itself for a host or a domain).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssetKey {
    pub kind: AssetKind,
    pub value: String,
    pub host: String,
}

impl AssetKey {
    /// The asset `artifact` is. A certificate is the endpoint that presented it (its identity
    /// changes when the endpoint presents another), or its own hash when no endpoint is known.
    pub fn of(artifact: &Artifact) -> Self {
        match artifact {
            Artifact::Host { address } => {
                Self { kind: AssetKind::Host, value: address.to_string(), host: address.to_string() }
            }
            Artifact::Service { host, port, proto, .. } => Self {
                kind: AssetKind::Service,
                value: format!("{}:{proto}/{port}", bracketed(&host.to_string())),
                host: host.to_string(),
            },
            Artifact::Url { url, .. } => Self { kind: AssetKind::Url, value: url.clone(), host: url_host(url) },
            Artifact::Domain { name } => Self { kind: AssetKind::Domain, value: name.clone(), host: name.clone() },
            Artifact::Certificate(certificate) => match (&certificate.host, certificate.port) {
                (Some(host), Some(port)) => Self {
                    kind: AssetKind::Certificate,
                    value: format!("{}:{port}", bracketed(host)),
                    host: host.clone(),
                },
                _ => Self { kind: AssetKind::Certificate, value: certificate.sha256.clone(), host: String::new() },
            },
        }
    }
}

/// An IPv6 address in brackets, so that a port may follow it.
fn bracketed(host: &str) -> String {
    if host.contains(':') { format!("[{host}]") } else { host.to_owned() }
}

/// The host of a URL, lowercase, without brackets or port; empty when it has none.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.to_ascii_lowercase()
}

/// An asset as the organisation's inventory keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    pub id: AssetId,
    pub key: AssetKey,
    /// The artifact last seen.
    pub data: Artifact,
    /// A service a later run looked for and did not find: its port closed.
    pub gone: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub last_execution: Option<ExecutionId>,
}

impl Asset {
    /// Where its findings are: the asset they name, and the location on it when they are at one
    /// place only (a service's port, the endpoint of a certificate).
    pub fn findings_at(&self) -> (String, Option<String>) {
        match &self.data {
            Artifact::Service { host, port, proto, .. } => (host.to_string(), Some(format!("{proto}/{port}"))),
            Artifact::Certificate(certificate) => match (&certificate.host, certificate.port) {
                (Some(host), Some(port)) => (host.clone(), Some(format!("tcp/{port}"))),
                _ => (self.key.value.clone(), None),
            },
            _ => (self.key.value.clone(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Certificate, Proto};

    #[test]
    fn an_artifact_is_keyed_by_what_it_is() {
        let service =
            Artifact::Service { host: "2001:db8::1".parse().expect("v6"), port: 22, proto: Proto::Tcp, name: None };
        assert_eq!(AssetKey::of(&service).value, "[2001:db8::1]:tcp/22");
        assert_eq!(AssetKey::of(&service).host, "2001:db8::1");
        let url = Artifact::url("https://user@App.Example:8443/login?x=1");
        assert_eq!(AssetKey::of(&url).host, "app.example");
        assert_eq!(AssetKey::of(&Artifact::url("http://[::1]:80/")).host, "::1");
        let certificate = |host: Option<&str>| {
            Artifact::Certificate(Certificate {
                subject: "CN=a".into(),
                issuer: "CN=b".into(),
                sans: vec![],
                not_before: None,
                not_after: DateTime::<Utc>::UNIX_EPOCH,
                sha256: "ab".repeat(32),
                host: host.map(str::to_owned),
                port: host.map(|_| 443),
            })
        };
        assert_eq!(AssetKey::of(&certificate(Some("web.example"))).value, "web.example:443");
        assert_eq!(AssetKey::of(&certificate(None)).value, "ab".repeat(32));
    }
}
