//! Fuzzes the reading of a certificate a server presented: no bytes may panic it, and what is
//! kept of one that reads is bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_tools::tls_inspect::certificate::CertificateInfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(certificate) = CertificateInfo::parse(data) {
        assert!(certificate.subject.chars().count() <= 256 && certificate.issuer.chars().count() <= 256);
        assert!(certificate.sans.len() <= rampart_core::output::SANS_MAX);
        let _ = (certificate.matches("a.example"), certificate.weak_key(), certificate.weak_signature());
    }
});
