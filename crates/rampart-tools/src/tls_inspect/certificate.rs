//! A certificate read with x509-parser: subject, issuer, names, validity, key and signature
//! algorithm; and whether a host name is one it holds. Pure. A certificate is whatever a server
//! sent: one that does not parse is reported as such, never a panic, and every text kept is cut.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use rampart_core::output::{Certificate, SANS_MAX};
use schemars::JsonSchema;
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::http_probe::favicon::sha256_hex;

/// Most characters of a subject or issuer kept.
const NAME_MAX: usize = 256;

/// What one certificate says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and addresses of the subject alternative names (at most 100).
    pub sans: Vec<String>,
    /// RFC 3339.
    #[schemars(with = "String")]
    pub not_before: DateTime<Utc>,
    /// RFC 3339.
    #[schemars(with = "String")]
    pub not_after: DateTime<Utc>,
    /// `rsa`, `ec`, `ed25519`, `ed448`, `dsa` or `unknown`.
    pub key_type: String,
    /// The key's size in bits (0 when unknown); for EC, the curve's.
    pub key_bits: usize,
    /// The curve of an EC key, when named.
    pub curve: Option<String>,
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, … or the algorithm's OID.
    pub signature_algorithm: String,
    /// The subject names the issuer (a root, or a certificate made for itself).
    pub self_signed: bool,
    pub is_ca: bool,
    /// SHA-256 of the DER encoding, lowercase hex.
    pub sha256: String,
    /// Subject and issuer as DER, to check the chain's order.
    #[serde(skip)]
    pub raw_subject: Vec<u8>,
    #[serde(skip)]
    pub raw_issuer: Vec<u8>,
    /// The subject's common name, for names of certificates without alternative names.
    #[serde(skip)]
    pub common_name: Option<String>,
}

impl CertificateInfo {
    /// Reads a DER certificate; an error says why it cannot be.
    pub fn parse(der: &[u8]) -> Result<Self, String> {
        let (_, certificate) =
            X509Certificate::from_der(der).map_err(|error| format!("unreadable certificate: {error}"))?;
        let timestamp =
            |seconds: i64| DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let sans = match certificate.subject_alternative_name() {
            Ok(Some(extension)) => extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(name) => Some(cut(name, 253)),
                    GeneralName::IPAddress(bytes) => address_of(bytes).map(|address| address.to_string()),
                    _ => None,
                })
                .take(SANS_MAX)
                .collect(),
            _ => Vec::new(),
        };
        let key_algorithm = certificate.public_key().algorithm.algorithm.to_id_string();
        let (key_type, curve) = match key_algorithm.as_str() {
            "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => ("rsa", None),
            "1.2.840.10045.2.1" => {
                let curve = certificate
                    .public_key()
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|parameters| parameters.as_oid().ok())
                    .map(|oid| curve_name(&oid.to_id_string()));
                ("ec", curve)
            }
            "1.3.101.112" => ("ed25519", None),
            "1.3.101.113" => ("ed448", None),
            "1.2.840.10040.4.1" => ("dsa", None),
            _ => ("unknown", None),
        };
        let key_bits = match certificate.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => bits_of(rsa.modulus),
            Ok(key @ PublicKey::EC(_)) => key.key_size(),
            _ if key_type == "ed25519" => 256,
            _ if key_type == "ed448" => 456,
            Ok(key) => key.key_size(),
            Err(_) => 0,
        };
        let common_name = certificate
            .subject()
            .iter_common_name()
            .next()
            .and_then(|name| name.as_str().ok())
            .map(|name| cut(name, 253));
        Ok(Self {
            subject: cut(&certificate.subject().to_string(), NAME_MAX),
            issuer: cut(&certificate.issuer().to_string(), NAME_MAX),
            sans,
            not_before: timestamp(certificate.validity().not_before.timestamp()),
            not_after: timestamp(certificate.validity().not_after.timestamp()),
            key_type: key_type.to_owned(),
            key_bits,
            curve,
            signature_algorithm: signature_name(&certificate.signature_algorithm.algorithm.to_id_string()),
            self_signed: certificate.subject().as_raw() == certificate.issuer().as_raw(),
            is_ca: certificate.is_ca(),
            sha256: sha256_hex(der),
            raw_subject: certificate.subject().as_raw().to_vec(),
            raw_issuer: certificate.issuer().as_raw().to_vec(),
            common_name,
        })
    }

    /// Whether `host` (a name or an address) is one this certificate is for: an alternative
    /// name (a `*.` wildcard stands for exactly one leftmost label), or the common name when the
    /// certificate has no alternative names.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(address) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return self
                .sans
                .iter()
                .any(|name| name.parse::<IpAddr>().is_ok_and(|san| san.to_canonical() == address.to_canonical()));
        }
        let names: Vec<&String> =
            if self.sans.is_empty() { self.common_name.iter().collect() } else { self.sans.iter().collect() };
        names.into_iter().any(|name| {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            match name.strip_prefix("*.") {
                Some(parent) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => name == host,
            }
        })
    }

    /// Whether it is signed with SHA-1 or MD5.
    pub fn weak_signature(&self) -> bool {
        let name = self.signature_algorithm.to_ascii_lowercase();
        name.contains("sha1") || name.contains("md5")
    }

    /// Why its key is weak, when it is: RSA or DSA below 2048 bits, EC below 256.
    pub fn weak_key(&self) -> Option<String> {
        match self.key_type.as_str() {
            "rsa" | "dsa" if self.key_bits < 2048 => {
                Some(format!("{} key of {} bits (below 2048)", self.key_type.to_uppercase(), self.key_bits))
            }
            "ec" if self.key_bits < 256 => Some(format!("EC key of {} bits (below 256)", self.key_bits)),
            _ => None,
        }
    }

    /// The certificate as an artifact.
    /// The certificate as the artifact of the endpoint `host:port` that presented it.
    pub fn artifact(&self, host: &str, port: u16) -> Certificate {
        Certificate {
            subject: self.subject.clone(),
            issuer: self.issuer.clone(),
            sans: self.sans.clone(),
            not_before: Some(self.not_before),
            not_after: self.not_after,
            sha256: self.sha256.clone(),
            host: Some(host.to_owned()),
            port: Some(port),
        }
    }
}

/// The bits of an RSA modulus, leading zero bytes and bits not counted.
fn bits_of(modulus: &[u8]) -> usize {
    let digits = match modulus.iter().position(|byte| *byte != 0) {
        Some(first) => &modulus[first..],
        None => return 0,
    };
    (digits.len() - 1) * 8 + (8 - digits[0].leading_zeros() as usize)
}

fn address_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?).to_canonical()),
        _ => None,
    }
}

fn cut(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.33" => "P-224".into(),
        "1.2.840.10045.3.1.1" => "P-192".into(),
        other => other.to_owned(),
    }
}

/// The usual name of a signature algorithm, or its OID.
pub fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "1.3.101.112" => "ed25519",
        "1.3.101.113" => "ed448",
        other => return other.to_owned(),
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sans: &[&str], common_name: Option<&str>) -> CertificateInfo {
        CertificateInfo {
            subject: String::new(),
            issuer: String::new(),
            sans: sans.iter().map(|name| (*name).to_owned()).collect(),
            not_before: DateTime::<Utc>::UNIX_EPOCH,
            not_after: DateTime::<Utc>::UNIX_EPOCH,
            key_type: "rsa".into(),
            key_bits: 2048,
            curve: None,
            signature_algorithm: signature_name("1.2.840.113549.1.1.5"),
            self_signed: false,
            is_ca: false,
            sha256: String::new(),
            raw_subject: Vec::new(),
            raw_issuer: Vec::new(),
            common_name: common_name.map(str::to_owned),
        }
    }

    #[test]
    fn host_names_match_names_wildcards_and_addresses() {
        let certificate = info(&["a.example", "*.b.example", "10.0.0.1", "2001:db8::1"], Some("c.example"));
        assert!(certificate.matches("A.Example."));
        assert!(certificate.matches("x.b.example"));
        assert!(!certificate.matches("b.example"), "a wildcard needs its label");
        assert!(!certificate.matches("y.x.b.example"), "a wildcard stands for one label");
        assert!(certificate.matches("10.0.0.1"));
        assert!(certificate.matches("[2001:db8::1]"));
        assert!(!certificate.matches("c.example"), "the common name counts only without alternative names");
        assert!(info(&[], Some("c.example")).matches("c.example"));
        assert!(!info(&[], None).matches("c.example"));
    }

    #[test]
    fn weak_signatures_and_keys_are_named() {
        assert!(info(&[], None).weak_signature());
        assert_eq!(signature_name("1.2.840.10045.4.3.2"), "ecdsa-with-SHA256");
        assert_eq!(signature_name("1.2.3"), "1.2.3");
        let mut small = info(&[], None);
        small.key_bits = 1024;
        assert_eq!(small.weak_key().as_deref(), Some("RSA key of 1024 bits (below 2048)"));
        assert_eq!(info(&[], None).weak_key(), None);
        assert_eq!(bits_of(&[0, 0x80, 0]), 16);
        assert_eq!(bits_of(&[0x01, 0]), 9);
        assert_eq!(bits_of(&[0, 0]), 0);
        assert_eq!(bits_of(&[]), 0);
    }

    #[test]
    fn hostile_certificates_are_refused_without_panicking() {
        for der in [&[][..], &[0x30], &[0x30, 0x82, 0xff, 0xff], &[0x30, 0x03, 0x02, 0x01, 0x00], &[0xff; 64]] {
            assert!(CertificateInfo::parse(der).is_err());
        }
        let mut state = 0x9e37_79b9u32;
        for length in 0..1_000 {
            let mut bytes: Vec<u8> = (0..length % 200)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            if let Some(first) = bytes.first_mut() {
                *first = 0x30;
            }
            let _ = CertificateInfo::parse(&bytes);
        }
        assert_eq!(address_of(&[1, 2, 3]), None);
    }
}
