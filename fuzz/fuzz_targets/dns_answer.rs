//! Fuzzes the reading of a DNS answer, as a resolver or a forger may send any datagram: no bytes
//! may panic, and an answer taken is bounded.
#![no_main]

use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;
use rampart_tools::dns_lookup::wire::{RECORDS_MAX, decode_answer};

fuzz_target!(|data: &[u8]| {
    let asked = Name::from_ascii("www.example.test.").expect("a name");
    let id = data.first().map_or(0, |byte| u16::from(*byte));
    if let Some(reply) = decode_answer(data, id, &asked, RecordType::A) {
        assert!(reply.answer.records.len() <= RECORDS_MAX);
        let _ = reply.answer.chain_end(&asked);
    }
});
