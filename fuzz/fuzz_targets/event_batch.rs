//! Fuzzes the reader of sensors' bodies (a JSON event, a JSON array, NDJSON): no input may panic,
//! a batch is never empty and never holds more than 1,000 events, and a single event is alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::watch::{BATCH_MAX, BatchFormat, read_batch};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let format = if selector % 2 == 0 { BatchFormat::Json } else { BatchFormat::Ndjson };
    let Ok(batch) = read_batch(format, body) else { return };
    assert!(!batch.events.is_empty() && batch.events.len() <= BATCH_MAX);
    assert!(!batch.single || batch.events.len() == 1);
});
