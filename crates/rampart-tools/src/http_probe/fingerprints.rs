//! Technology hints: which server, framework or application a response suggests, from a small set
//! of fingerprints shipped in the binary (`fingerprints.json`: header names and substrings of
//! their values, cookie-name prefixes, `<meta name="generator">` substrings and body substrings,
//! all lowercase). A hint is a guess from what the server chose to say, never a verdict. Pure.

use std::sync::OnceLock;

use reqwest::header::HeaderMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::http_probe::headers::{Cookie, header};
use crate::http_probe::page::Page;

/// Most characters of a version kept.
const VERSION_MAX: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fingerprint {
    name: String,
    /// Header name and a substring of its value (empty: the header's presence is enough).
    #[serde(default)]
    headers: Vec<(String, String)>,
    /// Prefixes of cookie names.
    #[serde(default)]
    cookies: Vec<String>,
    #[serde(default)]
    generator: Vec<String>,
    #[serde(default)]
    body: Vec<String>,
}

fn fingerprints() -> &'static [Fingerprint] {
    static SET: OnceLock<Vec<Fingerprint>> = OnceLock::new();
    SET.get_or_init(|| {
        serde_json::from_str(include_str!("fingerprints.json")).expect("the shipped fingerprints are valid JSON")
    })
}

/// A technology a response suggests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Technology {
    pub name: String,
    /// The version the server announced, when it did.
    pub version: Option<String>,
    /// What suggested it: `header:<name>`, `cookie:<name>`, `meta-generator` or `body`.
    pub from: String,
}

/// Every technology the response suggests, each once (the first evidence found), in the order of
/// the fingerprint set.
pub fn technologies(headers: &HeaderMap, cookies: &[Cookie], page: &Page<'_>) -> Vec<Technology> {
    let generator = page.generator().map(|text| text.to_ascii_lowercase());
    let mut found = Vec::new();
    for fingerprint in fingerprints() {
        let from_header = fingerprint.headers.iter().find_map(|(name, needle)| {
            let value = header(headers, name)?.to_ascii_lowercase();
            value.contains(needle.as_str()).then(|| {
                let version =
                    if needle.is_empty() { version_at(&value, 0) } else { version_after(&value, needle, '/') };
                (format!("header:{name}"), version)
            })
        });
        let from_cookie = || {
            cookies.iter().find_map(|cookie| {
                let name = cookie.name.to_ascii_lowercase();
                fingerprint
                    .cookies
                    .iter()
                    .any(|prefix| name.starts_with(prefix.as_str()))
                    .then(|| (format!("cookie:{}", cookie.name), None))
            })
        };
        let from_generator = || {
            let generator = generator.as_deref()?;
            fingerprint
                .generator
                .iter()
                .find(|needle| generator.contains(needle.as_str()))
                .map(|needle| ("meta-generator".to_owned(), version_after(generator, needle, ' ')))
        };
        let from_body = || {
            fingerprint
                .body
                .iter()
                .any(|needle| page.lower().contains(needle.as_str()))
                .then(|| ("body".to_owned(), None))
        };
        if let Some((from, version)) = from_header.or_else(from_cookie).or_else(from_generator).or_else(from_body) {
            found.push(Technology { name: fingerprint.name.clone(), version, from });
        }
    }
    found
}

/// The version right after `needle` and `separator` in `text`: `nginx/1.25.3` gives `1.25.3`.
fn version_after(text: &str, needle: &str, separator: char) -> Option<String> {
    let at = text.find(needle)? + needle.len();
    text[at..].strip_prefix(separator).and_then(|rest| version_at(rest, 0))
}

/// A version starting at `from` in `text`: a digit, then digits, letters, dots and dashes.
fn version_at(text: &str, from: usize) -> Option<String> {
    let rest = text.get(from..)?.trim_start();
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(VERSION_MAX)
        .collect();
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_probe::headers::parse_cookie;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("a value"));
        }
        map
    }

    #[test]
    fn the_shipped_set_reads_and_every_entry_matches_something() {
        assert!(fingerprints().len() > 20);
        for fingerprint in fingerprints() {
            let rules = fingerprint.headers.len()
                + fingerprint.cookies.len()
                + fingerprint.generator.len()
                + fingerprint.body.len();
            assert!(rules > 0, "{} has no rule", fingerprint.name);
            let lowercase = |text: &String| *text == text.to_ascii_lowercase();
            assert!(fingerprint.cookies.iter().chain(&fingerprint.body).chain(&fingerprint.generator).all(lowercase));
            assert!(fingerprint.headers.iter().all(|(name, needle)| lowercase(name) && lowercase(needle)));
        }
    }

    #[test]
    fn servers_frameworks_and_applications_are_hinted_with_their_versions() {
        let headers = headers(&[("server", "nginx/1.25.3"), ("x-powered-by", "PHP/8.2.1"), ("x-jenkins", "2.401")]);
        let cookies = vec![parse_cookie("JSESSIONID=1").expect("a cookie")];
        let body = "<meta name=generator content=\"WordPress 6.4.2\"><script src=/wp-includes/x.js>";
        let found = technologies(&headers, &cookies, &Page::new(body));
        let names: Vec<(&str, Option<&str>, &str)> =
            found.iter().map(|t| (t.name.as_str(), t.version.as_deref(), t.from.as_str())).collect();
        assert_eq!(
            names,
            [
                ("nginx", Some("1.25.3"), "header:server"),
                ("PHP", Some("8.2.1"), "header:x-powered-by"),
                ("Java Servlet", None, "cookie:JSESSIONID"),
                ("WordPress", Some("6.4.2"), "meta-generator"),
                ("Jenkins", Some("2.401"), "header:x-jenkins"),
            ]
        );
    }

    #[test]
    fn hostile_versions_are_cut() {
        assert_eq!(
            version_after(&format!("nginx/{}", "1".repeat(1000)), "nginx", '/').map(|v| v.len()),
            Some(VERSION_MAX)
        );
        assert_eq!(version_after("nginx/", "nginx", '/'), None);
        assert_eq!(version_after("nginx", "nginx", '/'), None);
        assert_eq!(version_at("é", 1), None);
    }
}
