//! The favicon's hash as Shodan computes it: MurmurHash3 (x86, 32 bits, seed 0) of the icon's
//! base64 text with a line break after every 76 characters and at the end (Python's
//! `base64.encodebytes`), as a signed number; and its SHA-256, for an exact match. Pure.

use base64::Engine;
use sha2::{Digest, Sha256};

/// The Shodan-style hash of `icon`.
pub fn shodan_hash(icon: &[u8]) -> i32 {
    let encoded = base64::engine::general_purpose::STANDARD.encode(icon);
    let mut text = Vec::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for line in encoded.as_bytes().chunks(76) {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    i32::from_le_bytes(murmur3_32(&text, 0).to_le_bytes())
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// MurmurHash3, x86 32-bit variant.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut hash = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        hash = (hash ^ mix(k)).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail.iter().rev().fold(0u32, |k, byte| (k << 8) | u32::from(*byte));
        hash ^= mix(k);
    }
    // The length is taken modulo 2^32, as the reference implementation does.
    hash ^= data.len() as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"hello", 0), 613_153_351);
        assert_eq!(i32::from_le_bytes(murmur3_32(b"foo", 0).to_le_bytes()), -156_908_512);
        assert_eq!(murmur3_32(b"The quick brown fox jumps over the lazy dog", 0), 0x2e4f_f723);
    }

    #[test]
    fn the_favicon_hash_breaks_base64_lines_as_python_does() {
        // base64.encodebytes(b"hello") == b"aGVsbG8=\n"; mmh3.hash of that.
        assert_eq!(shodan_hash(b"hello"), i32::from_le_bytes(murmur3_32(b"aGVsbG8=\n", 0).to_le_bytes()));
        let long = vec![0u8; 100];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&long);
        let expected = format!("{}\n{}\n", &encoded[..76], &encoded[76..]);
        assert_eq!(shodan_hash(&long), i32::from_le_bytes(murmur3_32(expected.as_bytes(), 0).to_le_bytes()));
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
