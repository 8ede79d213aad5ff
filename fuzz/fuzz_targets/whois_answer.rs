//! Fuzzes the reading of what WHOIS and RDAP servers send, as any server named by a referral
//! may send anything: no bytes may panic, and what is kept stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_tools::whois::parse::{Bootstrap, parse_date, rdap_fields, referral, whois_fields};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let found = whois_fields(&text);
    assert!(found.name_servers.len() <= 32 && found.status.len() <= 32);
    assert!(found.registrar.as_ref().is_none_or(|name| name.chars().count() <= 256));
    let _ = referral(&text);
    let _ = parse_date(&text);
    if let Ok(object) = serde_json::from_slice::<serde_json::Value>(data) {
        let found = rdap_fields(&object);
        assert!(found.name_servers.len() <= 32);
    }
    if let Ok(bootstrap) = Bootstrap::parse(&text) {
        let _ = bootstrap.base_for("example.test");
    }
});
