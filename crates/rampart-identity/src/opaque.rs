//! Opaque secrets: refresh tokens (`rt_…`), API keys (`rk_<prefix>_<secret>`) and node keys
//! (`nk_<prefix>_<secret>`). Each carries 256 random bits, so a fast hash (SHA-256) is enough to
//! store them: there is nothing to guess. Node keys imported from the replaced system (`nk_` and
//! URL-safe base64, at least 128 bits) are hashed alike and found under a derived prefix.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const REFRESH_PREFIX: &str = "rt_";
pub(crate) const API_KEY_PREFIX: &str = "rk_";
/// What a sensor node's key starts with.
pub const NODE_KEY_PREFIX: &str = "nk_";
const LOOKUP_LEN: usize = 12;

fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::fill(buffer.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buffer)
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// Compares a presented secret with a stored hash in constant time.
pub fn matches(secret: &str, stored_hash: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// A new refresh token and its hash.
pub(crate) fn new_refresh_token() -> (String, String) {
    let token = format!("{REFRESH_PREFIX}{}", random_text(32));
    let hashed = hash(&token);
    (token, hashed)
}

/// A new key starting with `kind` (`rk_`, `nk_`): the key (shown once), its lookup prefix and its hash.
pub fn new_key(kind: &str) -> (String, String, String) {
    let lookup: String = random_text(12).chars().filter(char::is_ascii_alphanumeric).take(LOOKUP_LEN).collect();
    let lookup = if lookup.len() == LOOKUP_LEN { lookup } else { return new_key(kind) };
    let key = format!("{kind}{lookup}_{}", random_text(32));
    let hashed = hash(&key);
    (key, lookup, hashed)
}

/// The lookup prefix of something shaped like a key of `kind`.
pub fn key_lookup<'a>(kind: &str, key: &'a str) -> Option<&'a str> {
    let rest = key.strip_prefix(kind)?;
    let (lookup, secret) = rest.split_once('_')?;
    (lookup.len() == LOOKUP_LEN && lookup.bytes().all(|b| b.is_ascii_alphanumeric()) && !secret.is_empty())
        .then_some(lookup)
}

/// The lookup prefix a node key is stored and found under. A key of Rampart's own form carries
/// its prefix (`nk_<prefix>_<secret>`); a key imported from the replaced system (`nk_` and
/// URL-safe base64, with no prefix of its own) is found under one derived from the key itself:
/// the first 12 hex digits of a SHA-256 of it, kept apart from its stored hash by a label, so
/// the prefix a node shows says nothing of that hash. The same function serves the import and
/// every authentication, so an imported key is found by the same single lookup as a new one.
pub fn node_key_lookup(key: &str) -> Option<String> {
    if let Some(lookup) = key_lookup(NODE_KEY_PREFIX, key) {
        return Some(lookup.to_owned());
    }
    if !rampart_core::watch::nodes::is_imported_key(key) {
        return None;
    }
    let digest = Sha256::new().chain_update(b"rampart node key lookup\0").chain_update(key.as_bytes()).finalize();
    Some(digest.iter().take(LOOKUP_LEN / 2).map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn new_api_key() -> (String, String, String) {
    new_key(API_KEY_PREFIX)
}

pub(crate) fn api_key_lookup(key: &str) -> Option<&str> {
    key_lookup(API_KEY_PREFIX, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_their_lookup_prefix() {
        let (key, lookup, hashed) = new_api_key();
        assert!(key.starts_with("rk_"));
        assert_eq!(api_key_lookup(&key), Some(lookup.as_str()));
        assert!(matches(&key, &hashed));
        assert!(!matches(&format!("{key}x"), &hashed));
        assert_ne!(new_api_key().0, key);
        for bad in ["rk_", "rk_short_x", "nk_abcdefghijkl_x", "rk_abcdefghijkl_"] {
            assert_eq!(api_key_lookup(bad), None, "{bad}");
        }
        let (node_key, node_lookup, _) = new_key(NODE_KEY_PREFIX);
        assert_eq!(key_lookup(NODE_KEY_PREFIX, &node_key), Some(node_lookup.as_str()));
        assert_eq!(api_key_lookup(&node_key), None, "a node key is no API key");
    }

    #[test]
    fn a_hash_is_sha256_in_lowercase_hex() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn an_imported_node_key_is_found_under_a_prefix_derived_from_it() {
        let (key, lookup, _) = new_key(NODE_KEY_PREFIX);
        assert_eq!(node_key_lookup(&key), Some(lookup), "Rampart's own keys carry their prefix");
        let legacy = "nk_Zm9vYmFyLWJhei1xdXV4LXNlY3JldC10b2tlbi0xMjM0";
        let derived = node_key_lookup(legacy).expect("a legacy key");
        assert_eq!(derived.len(), LOOKUP_LEN);
        assert!(derived.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(node_key_lookup(legacy), Some(derived.clone()), "the same key, the same prefix");
        assert!(!hash(legacy).starts_with(&derived), "the prefix is not the start of the stored hash");
        assert_ne!(node_key_lookup("nk_Zm9vYmFyLWJhei1xdXV4LXNlY3JldC10b2tlbi0xMjM1"), Some(derived));
        for bad in ["nk_short", "rk_Zm9vYmFyLWJhei1xdXV4LXNlY3JldC10b2tlbi0xMjM0", "nk_Zm9vYmFyLWJhei1xdXV4LXNl+/", ""]
        {
            assert_eq!(node_key_lookup(bad), None, "{bad}");
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (token, hashed) = new_refresh_token();
        assert!(token.starts_with("rt_") && token.len() > 40);
        assert_eq!(hashed.len(), 64);
        assert!(!hashed.contains(&token[3..]));
        assert_ne!(new_refresh_token().0, token);
    }
}
