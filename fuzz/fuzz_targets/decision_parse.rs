//! Fuzzes what a decision is read from: an address or a network, a duration, the whole input. No
//! input may panic; a value parsed must parse again to itself and cover itself; a duration read
//! must be positive and bounded, and its Go spelling must read back.
#![no_main]

use chrono::Utc;
use libfuzzer_sys::fuzz_target;
use rampart_core::ValidationErrors;
use rampart_core::watch::decisions::{
    Addresses, DURATION_MAX, DecisionInput, DecisionOrigin, NewDecision, go_duration, parse_duration,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(value) = Addresses::parse(text) {
        assert_eq!(Addresses::parse(&value.to_string()), Ok(value));
        assert!(value.covers(&value) && value.overlaps(&value));
    }
    if let Ok(duration) = parse_duration(text) {
        assert!(duration > chrono::Duration::zero() && duration <= DURATION_MAX);
        assert_eq!(parse_duration(&go_duration(duration)), Ok(duration));
    }
    let (value, rest) = text.split_once('|').unwrap_or((text, ""));
    let input = DecisionInput {
        value: value.to_owned(),
        kind: Some(rest.to_owned()),
        duration: Some(rest.to_owned()),
        scenario: Some(rest.to_owned()),
        reason: Some(rest.to_owned()),
        until: None,
    };
    let mut errors = ValidationErrors::new();
    let _ = NewDecision::parse(&input, DecisionOrigin::Import, Utc::now(), "decisions[0]", &mut errors);
});
