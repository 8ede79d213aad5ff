//! Fuzzes the reading of a DNS answer, as a resolver or a forger may send any datagram: no bytes
//! may panic, and an answer taken is one to the question asked.
#![no_main]

use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;
use rampart_tools::dns_lookup::wire::{Answer, decode_answer, same_name};

fuzz_target!(|data: &[u8]| {
    let asked = Name::from_ascii("www.example.test.").expect("a name");
    let id = data.first().map_or(0, |byte| u16::from(*byte));
    if let Some(message) = decode_answer(data, id, &asked, RecordType::A) {
        assert_eq!(message.metadata.id, id);
        assert!(same_name(message.queries[0].name(), &asked));
        let answer = Answer { code: message.metadata.response_code, records: message.answers };
        let _ = answer.chain_end(&asked);
    }
});
