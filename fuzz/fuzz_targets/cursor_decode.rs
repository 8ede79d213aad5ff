//! Fuzzes the decoders of list cursors: no text may panic, and whatever decodes encodes back to
//! a cursor that decodes to the same value (an item cursor and a position cursor never both).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::cursor::{decode_item, decode_offset, encode_item, encode_offset};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let item = decode_item(text);
    let offset = decode_offset(text);
    assert!(item.is_none() || offset.is_none());
    if let Some(id) = item {
        assert_eq!(decode_item(&encode_item(id)), Some(id));
    }
    if let Some(offset) = offset {
        assert_eq!(decode_offset(&encode_offset(offset)), Some(offset));
    }
});
