//! Fuzzes the reading of secret-scanning rule files (gitleaks' TOML format, written by admins and
//! read at start) and the scan of any content: no bytes may panic, and a file that is accepted
//! keeps its bounds.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rampart_tools::secret_scan::detect::scan;
use rampart_tools::secret_scan::rules::{RULES_MAX, RuleFile, Rules};

static SHIPPED: OnceLock<Rules> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The file alone first: most inputs stop there, before the shipped rules are compiled again.
    if RuleFile::parse(&text).is_ok()
        && let Ok(rules) = Rules::extended(&text)
    {
        assert!(!rules.rules().is_empty() && rules.rules().len() <= RULES_MAX);
        for hit in scan(&rules, "0123456789abcdef", "fuzz/input.txt", data) {
            assert!(hit.rule < rules.rules().len() && hit.line >= 1);
            assert!(hit.secret.redacted.chars().count() <= 5 && hit.secret.sha256.len() == 64);
        }
    }
    let _ = scan(SHIPPED.get_or_init(Rules::shipped), "", "", data);
});
