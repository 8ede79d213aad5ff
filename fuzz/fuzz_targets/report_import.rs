//! Fuzzes the readers of imported reports (nmap XML, SARIF, nuclei JSONL, gitleaks JSON): no
//! input may panic them, and whatever they keep stays within a run's bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::output::KEPT_MAX;
use rampart_tools::imports::{Format, read};

fuzz_target!(|data: &[u8]| {
    for name in Format::NAMES {
        let format = Format::parse(name).expect("a format of the list");
        if let Ok(output) = read(format, data) {
            assert!(output.findings.items().len() <= KEPT_MAX);
            assert!(output.artifacts.items().len() <= KEPT_MAX);
        }
    }
});
