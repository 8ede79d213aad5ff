//! Fuzzes the reader of Cowrie's Splunk HEC bodies (entries written one after another): no input
//! may panic, a body read holds at least one entry and at most 1,000, its events are listed in
//! the order of their entries, and each event keeps its payload within its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::watch::BATCH_MAX;
use rampart_core::watch::cowrie::read_hec;
use rampart_core::watch::events::PAYLOAD_MAX;

fuzz_target!(|data: &[u8]| {
    let Ok(read) = read_hec(data) else { return };
    assert!((1..=BATCH_MAX).contains(&read.entries) && read.events.len() <= read.entries);
    assert!(read.events.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert!(read.events.last().is_none_or(|(index, _)| *index < read.entries));
    for (_, input) in &read.events {
        if let Ok(input) = input {
            assert!(input.payload.as_deref().is_some_and(|payload| payload.len() <= PAYLOAD_MAX));
        }
    }
});
