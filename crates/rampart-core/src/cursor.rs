//! The opaque cursors of paged lists: an item cursor names the last item seen (its id), a
//! position cursor carries the number of items to skip. Both are URL-safe base64 without padding;
//! a position cursor starts with a mark byte, so that one is never read as the other. Decoding is
//! a pure function of client text, bounded by the length of a cursor this server gives out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// The first byte of a position cursor.
const OFFSET_MARK: u8 = b'o';
/// The longest cursor this server gives out (a UUID's 16 bytes in base64); anything longer is
/// refused before it is decoded.
const LONGEST: usize = 22;

/// The cursor naming the item `id`.
pub fn encode_item(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// The item an item cursor names, or `None` when it is not one this server gave out.
pub fn decode_item(cursor: &str) -> Option<Uuid> {
    decode(cursor).and_then(|bytes| Uuid::from_slice(&bytes).ok())
}

/// The cursor of a list paged by position, continuing after `offset` items.
pub fn encode_offset(offset: u32) -> String {
    let mut bytes = vec![OFFSET_MARK];
    bytes.extend_from_slice(&offset.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a position cursor carries, or `None` when it is not one this server gave out.
pub fn decode_offset(cursor: &str) -> Option<u32> {
    decode(cursor).and_then(|bytes| match bytes.as_slice() {
        [OFFSET_MARK, rest @ ..] => rest.try_into().ok().map(u32::from_be_bytes),
        _ => None,
    })
}

fn decode(cursor: &str) -> Option<Vec<u8>> {
    if cursor.len() > LONGEST {
        return None;
    }
    URL_SAFE_NO_PAD.decode(cursor).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cursor_reads_back_and_neither_reads_as_the_other() {
        let id = Uuid::now_v7();
        assert_eq!(decode_item(&encode_item(id)), Some(id));
        assert_eq!(decode_offset(&encode_offset(42)), Some(42));
        assert_eq!(decode_offset(&encode_offset(u32::MAX)), Some(u32::MAX));
        assert_eq!(decode_offset(&encode_item(id)), None);
        assert_eq!(decode_item(&encode_offset(42)), None);
        for junk in ["", "!", "AAAA", "b2FhYQ", &"A".repeat(10_000)] {
            assert_eq!((decode_item(junk), decode_offset(junk)), (None, None), "{junk}");
        }
    }
}
