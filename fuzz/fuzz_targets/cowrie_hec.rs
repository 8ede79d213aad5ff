//! Fuzzes the reader of Cowrie's Splunk HEC bodies (entries written one after another): no input
//! may panic, a body read is never empty and never holds more than 1,000 events, and each event
//! keeps its payload within its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::watch::BATCH_MAX;
use rampart_core::watch::cowrie::read_hec;
use rampart_core::watch::events::PAYLOAD_MAX;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = read_hec(data) else { return };
    assert!(!events.is_empty() && events.len() <= BATCH_MAX);
    for input in events.iter().flatten() {
        assert!(input.payload.as_deref().is_some_and(|payload| payload.len() <= PAYLOAD_MAX));
    }
});
