//! Fuzzes what `http_probe` reads from a response: a page's title, generator, listing and default
//! page, and a `Set-Cookie` value. No text may panic them, and what is kept is bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_tools::http_probe::headers::parse_cookie;
use rampart_tools::http_probe::page::{Page, TEXT_MAX};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let page = Page::new(&text);
    assert!(page.title().is_none_or(|title| title.chars().count() <= TEXT_MAX));
    assert!(page.generator().is_none_or(|generator| generator.chars().count() <= TEXT_MAX));
    let _ = (page.is_directory_listing(), page.default_page());
    if let Some(cookie) = parse_cookie(&text) {
        assert!(!cookie.name.is_empty() && cookie.name.chars().count() <= 128);
        let _ = cookie.issues(true);
    }
});
