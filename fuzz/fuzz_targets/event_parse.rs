//! Fuzzes the event parser: any JSON text read into an event input and parsed at a fixed time
//! must never panic, and an event it accepts keeps every limit the parser promises.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use rampart_core::watch::events::{CREDENTIALS_MAX, PAYLOAD_MAX};
use rampart_core::watch::{EventDetail, EventInput, EventKind};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else { return };
    let Ok(input) = serde_json::from_slice::<EventInput>(text) else { return };
    let default_kind =
        [None, Some(EventKind::Honeypot), Some(EventKind::Agent), Some(EventKind::Decoy)][usize::from(selector % 4)];
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 20, 0, 0).single().expect("a valid time");
    let Ok(event) = input.parse(default_kind, now) else { return };
    assert!(event.occurred_at <= now + rampart_core::watch::events::FUTURE_SKEW);
    if let EventDetail::Honeypot { payload, usernames, passwords, .. } = &event.detail {
        assert!(payload.len() <= PAYLOAD_MAX);
        assert!(usernames.len() <= CREDENTIALS_MAX && passwords.len() <= CREDENTIALS_MAX);
    }
});
