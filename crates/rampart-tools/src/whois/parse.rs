//! Reading what registries say: WHOIS text (the referral to the next server and the key fields)
//! and RDAP JSON (RFC 9083), and the RDAP bootstrap file (RFC 9224). All of it is outside input:
//! lines, counts and texts are bounded, and nothing here panics on any bytes.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

/// Name servers and statuses kept at most.
const LIST_MAX: usize = 32;
/// Characters of one field kept.
const FIELD_MAX: usize = 256;
/// Lines of a WHOIS answer read at most.
const LINES_MAX: usize = 5_000;

/// The key facts of a registration, from whichever source gave them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Registration {
    pub registrar: Option<String>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub expires: Option<String>,
    pub name_servers: Vec<String>,
    /// EPP status codes, as written (`clientTransferProhibited`).
    pub status: Vec<String>,
    /// Whether the delegation is signed, when the source says.
    pub dnssec: Option<bool>,
}

impl Registration {
    /// Fills what `self` lacks from `other` (a more specific answer first, then the registry's).
    pub fn or(mut self, other: Registration) -> Self {
        self.registrar = self.registrar.or(other.registrar);
        self.created = self.created.or(other.created);
        self.updated = self.updated.or(other.updated);
        self.expires = self.expires.or(other.expires);
        if self.name_servers.is_empty() {
            self.name_servers = other.name_servers;
        }
        if self.status.is_empty() {
            self.status = other.status;
        }
        self.dnssec = self.dnssec.or(other.dnssec);
        self
    }

    /// True when a status says transfers are locked by the registrar.
    pub fn transfer_locked(&self) -> bool {
        self.status.iter().any(|status| {
            let compact: String =
                status.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
            compact.starts_with("clienttransferprohibited")
        })
    }
}

fn bounded(text: &str) -> String {
    text.trim().chars().filter(|c| !c.is_control()).take(FIELD_MAX).collect()
}

/// The server a WHOIS answer refers to (`refer:`, `whois:` from IANA; `Registrar WHOIS Server:`
/// from a registry), as written: `host` or `host:port`.
pub fn referral(text: &str) -> Option<String> {
    text.lines().take(LINES_MAX).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        let is_referral = matches!(key.as_str(), "refer" | "whois" | "registrar whois server" | "whois server");
        let value = value.strip_prefix("whois://").unwrap_or(value).trim_end_matches('/');
        (is_referral && !value.is_empty() && !value.contains(' ')).then(|| bounded(value))
    })
}

/// The key fields of a WHOIS answer (the usual ICANN labels and common variants).
pub fn whois_fields(text: &str) -> Registration {
    let mut found = Registration::default();
    for line in text.lines().take(LINES_MAX) {
        let Some((key, value)) = line.split_once(':') else { continue };
        let key = key.trim().to_ascii_lowercase();
        let value = bounded(value);
        if value.is_empty() {
            continue;
        }
        match key.as_str() {
            "registrar" | "registrar name" | "sponsoring registrar" => {
                found.registrar.get_or_insert(value);
            }
            "creation date" | "created" | "created on" | "registered on" | "domain registration date" => {
                found.created.get_or_insert(value);
            }
            "updated date" | "last updated" | "last modified" | "changed" => {
                found.updated.get_or_insert(value);
            }
            "registry expiry date"
            | "registrar registration expiration date"
            | "expiry date"
            | "expiration date"
            | "expires"
            | "expires on"
            | "paid-till" => {
                found.expires.get_or_insert(value);
            }
            "name server" | "nserver" | "nameserver" if found.name_servers.len() < LIST_MAX => {
                let server = value.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
                let server = server.trim_end_matches('.').to_owned();
                if !found.name_servers.contains(&server) {
                    found.name_servers.push(server);
                }
            }
            "domain status" | "status" if found.status.len() < LIST_MAX => {
                let status = value.split_whitespace().next().unwrap_or_default().to_owned();
                if !found.status.contains(&status) {
                    found.status.push(status);
                }
            }
            "dnssec" => {
                let lower = value.to_ascii_lowercase();
                found.dnssec = found.dnssec.or(Some(lower.starts_with("signed") || lower == "yes"));
            }
            _ => {}
        }
    }
    found
}

/// The key fields of an RDAP domain object.
pub fn rdap_fields(object: &Value) -> Registration {
    let mut found = Registration::default();
    for event in object["events"].as_array().into_iter().flatten().take(LIST_MAX) {
        let date = event["eventDate"].as_str().map(bounded);
        match event["eventAction"].as_str() {
            Some("registration") => found.created = found.created.or(date),
            Some("last changed") => found.updated = found.updated.or(date),
            Some("expiration") => found.expires = found.expires.or(date),
            _ => {}
        }
    }
    for server in object["nameservers"].as_array().into_iter().flatten().take(LIST_MAX) {
        if let Some(name) = server["ldhName"].as_str() {
            found.name_servers.push(bounded(name).to_ascii_lowercase().trim_end_matches('.').to_owned());
        }
    }
    for status in object["status"].as_array().into_iter().flatten().take(LIST_MAX) {
        if let Some(status) = status.as_str() {
            found.status.push(bounded(status));
        }
    }
    found.dnssec = object["secureDNS"]["delegationSigned"].as_bool();
    let registrar =
        object["entities"].as_array().into_iter().flatten().take(LIST_MAX).find(|entity| {
            entity["roles"].as_array().is_some_and(|roles| roles.iter().any(|role| role == "registrar"))
        });
    found.registrar = registrar.and_then(vcard_name);
    found
}

/// The `fn` (formatted name) of an entity's jCard (RFC 7095).
fn vcard_name(entity: &Value) -> Option<String> {
    entity["vcardArray"][1]
        .as_array()?
        .iter()
        .take(LIST_MAX)
        .find_map(|property| (property[0] == "fn").then(|| property[3].as_str().map(bounded)).flatten())
}

/// A date as registries write it: RFC 3339, or a day (`2030-01-31`, `31-Jan-2030`).
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.with_timezone(&Utc));
    }
    let day = text.get(..10).and_then(|head| NaiveDate::parse_from_str(head, "%Y-%m-%d").ok());
    let day = day.or_else(|| text.get(..11).and_then(|head| NaiveDate::parse_from_str(head, "%d-%b-%Y").ok()));
    day.and_then(|day| day.and_hms_opt(0, 0, 0)).map(|moment| moment.and_utc())
}

/// The RDAP bootstrap: for each top-level domain, the base URL of its registry's RDAP service.
#[derive(Clone, Debug, Default)]
pub struct Bootstrap {
    services: Vec<(Vec<String>, String)>,
}

impl Bootstrap {
    /// The file shipped with Rampart (`dns.json`).
    pub fn shipped() -> Self {
        Self::parse(include_str!("dns.json")).expect("the shipped RDAP bootstrap file is valid")
    }

    /// Reads a bootstrap file in IANA's `dns.json` format; the first URL of each service is used.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: Value = serde_json::from_str(text).map_err(|_| "the RDAP bootstrap file is not JSON".to_owned())?;
        let services = file["services"].as_array().ok_or("the RDAP bootstrap file has no services")?;
        let mut parsed = Vec::new();
        for service in services.iter().take(10_000) {
            let tlds: Vec<String> = service[0]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|tld| tld.trim_end_matches('.').to_ascii_lowercase())
                .collect();
            let url = service[1].as_array().and_then(|urls| {
                urls.iter().filter_map(Value::as_str).find(|url| url.starts_with("https://")).or(urls.first()?.as_str())
            });
            if let Some(url) = url.filter(|url| url.starts_with("https://") || url.starts_with("http://")) {
                let url = if url.ends_with('/') { url.to_owned() } else { format!("{url}/") };
                parsed.push((tlds, url));
            }
        }
        Ok(Self { services: parsed })
    }

    /// The RDAP base URL for `domain`: the entry of its longest matching suffix.
    pub fn base_for(&self, domain: &str) -> Option<&str> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.services
            .iter()
            .flat_map(|(tlds, url)| tlds.iter().map(move |tld| (tld, url)))
            .filter(|(tld, _)| domain == **tld || domain.ends_with(&format!(".{tld}")))
            .max_by_key(|(tld, _)| tld.len())
            .map(|(_, url)| url.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn referrals_are_read_from_iana_and_registry_answers() {
        assert_eq!(
            referral("% IANA WHOIS server\nrefer:        whois.verisign-grs.com\n"),
            Some("whois.verisign-grs.com".into())
        );
        assert_eq!(referral("   Registrar WHOIS Server: whois.registrar.test\n"), Some("whois.registrar.test".into()));
        assert_eq!(referral("Registrar WHOIS Server: \nDomain Name: X\n"), None);
        assert_eq!(referral(""), None);
    }

    #[test]
    fn whois_fields_are_read_and_bounded() {
        let text = "Domain Name: EXAMPLE.TEST\r\nRegistrar: Example Registrar, Inc.\r\nCreation Date: 2001-02-03T04:05:06Z\r\n\
                    Registry Expiry Date: 2030-01-31T00:00:00Z\r\nName Server: NS1.EXAMPLE.TEST\r\nName Server: ns1.example.test.\r\n\
                    Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\r\nDNSSEC: unsigned\r\n";
        let found = whois_fields(text);
        assert_eq!(found.registrar.as_deref(), Some("Example Registrar, Inc."));
        assert_eq!(found.created.as_deref(), Some("2001-02-03T04:05:06Z"));
        assert_eq!(found.expires.as_deref(), Some("2030-01-31T00:00:00Z"));
        assert_eq!(found.name_servers, ["ns1.example.test"]);
        assert_eq!(found.status, ["clientTransferProhibited"]);
        assert_eq!(found.dnssec, Some(false));
        assert!(found.transfer_locked());
        let hostile = format!("Registrar: {}\n{}", "x".repeat(100_000), "Name Server: a\n".repeat(10_000));
        let found = whois_fields(&hostile);
        assert_eq!(found.registrar.map(|name| name.len()), Some(FIELD_MAX));
        assert_eq!(found.name_servers.len(), 1);
    }

    #[test]
    fn rdap_fields_are_read_from_a_domain_object() {
        let object = json!({
            "events": [{"eventAction": "registration", "eventDate": "2001-02-03T04:05:06Z"},
                       {"eventAction": "expiration", "eventDate": "2030-01-31T00:00:00Z"}],
            "nameservers": [{"ldhName": "NS1.EXAMPLE.TEST"}],
            "status": ["client transfer prohibited", "active"],
            "secureDNS": {"delegationSigned": true},
            "entities": [{"roles": ["registrar"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Registrar"]]]}]
        });
        let found = rdap_fields(&object);
        assert_eq!(found.registrar.as_deref(), Some("Example Registrar"));
        assert_eq!(found.name_servers, ["ns1.example.test"]);
        assert_eq!(found.dnssec, Some(true));
        assert!(found.transfer_locked());
        for hostile in [
            json!(null),
            json!([1, 2]),
            json!({"events": "x", "entities": [{"roles": "registrar"}]}),
            json!({"entities": [{"roles": ["registrar"], "vcardArray": [1]}]}),
        ] {
            assert_eq!(rdap_fields(&hostile).registrar, None);
        }
    }

    #[test]
    fn dates_in_the_usual_forms_are_read() {
        assert!(parse_date("2030-01-31T00:00:00Z").is_some());
        assert_eq!(parse_date("2030-01-31"), parse_date("2030-01-31T00:00:00Z"));
        assert_eq!(parse_date("31-Jan-2030"), parse_date("2030-01-31T00:00:00Z"));
        assert_eq!(parse_date("soon"), None);
        assert_eq!(parse_date("é"), None);
    }

    #[test]
    fn the_bootstrap_picks_the_longest_suffix_and_the_shipped_file_reads() {
        let bootstrap = Bootstrap::parse(r#"{"services": [[["test"], ["http://127.0.0.1:1/rdap"]], [["co.test"], ["https://a.test/", "http://b.test/"]]]}"#)
            .expect("a bootstrap file");
        assert_eq!(bootstrap.base_for("example.test"), Some("http://127.0.0.1:1/rdap/"));
        assert_eq!(bootstrap.base_for("Example.CO.test."), Some("https://a.test/"));
        assert_eq!(bootstrap.base_for("example.other"), None);
        assert!(Bootstrap::parse("[]").is_err());
        assert_eq!(Bootstrap::shipped().base_for("example.com"), Some("https://rdap.verisign.com/com/v1/"));
    }
}
