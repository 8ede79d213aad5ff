//! Fuzzes the reading of a server's answer to a hand-written ClientHello: no bytes may panic it,
//! and a ServerHello is only ever read from a whole handshake record header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_tools::tls_inspect::hello::{Answer, parse_answer};

fuzz_target!(|data: &[u8]| {
    if let Answer::ServerHello { .. } = parse_answer(data) {
        assert!(data.len() >= 11 && data[0] == 22 && data[5] == 2, "{data:?}");
    }
});
