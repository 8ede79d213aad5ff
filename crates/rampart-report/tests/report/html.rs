//! The HTML report: every text escaped, nothing referred to outside the file, and the page shown
//! in headless Chromium (`crates/rampart/tests/browser/report_console.js`) without a console
//! error, a page error, a dialog or a request.

use rampart_report::{Format, render};
use serde_json::Value;

use crate::helpers::{findings, report};

fn html_of(report: &rampart_report::Report) -> String {
    String::from_utf8(render(Format::Html, report)).expect("UTF-8")
}

/// Every tag of `html` with its attributes, read as a browser would tokenise them: text holds no
/// `<` (it is escaped), so each `<` opens a tag, comment or doctype.
pub fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let mut chars = rest.char_indices().peekable();
        let mut name = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '>') {
            name.push(c.to_ascii_lowercase());
        }
        let mut attributes = Vec::new();
        let mut end = rest.len();
        while let Some((index, c)) = chars.next() {
            if c == '>' {
                end = index + 1;
                break;
            }
            if c.is_whitespace() || c == '/' {
                continue;
            }
            let mut attribute = c.to_ascii_lowercase().to_string();
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && !"=>".contains(*c)) {
                attribute.push(c.to_ascii_lowercase());
            }
            let mut value = String::new();
            if chars.next_if(|(_, c)| *c == '=').is_some() {
                match chars.next_if(|(_, c)| *c == '"' || *c == '\'') {
                    Some((_, quote)) => {
                        for (_, c) in chars.by_ref() {
                            if c == quote {
                                break;
                            }
                            value.push(c);
                        }
                    }
                    None => {
                        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '>') {
                            value.push(c);
                        }
                    }
                }
            }
            attributes.push((attribute, value));
        }
        tags.push((name, attributes));
        rest = &rest[end..];
    }
    tags
}

#[test]
fn every_text_is_escaped_so_a_finding_cannot_add_markup() {
    let html = html_of(&report(findings()));

    assert!(html.contains("<title>Findings of Acme &amp; Sons &lt;Ltd&gt;</title>"));
    assert!(html.contains("<h1>Findings of Acme &amp; Sons &lt;Ltd&gt;</h1>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Server said &quot;&#39;&amp;&lt;&gt;&quot;, then =cmd|&#39; /C calc&#39;!A0"));
    assert!(!html.to_ascii_lowercase().contains("<script"), "no script element, not even one a title made");
    let names: Vec<String> = tags(&html).into_iter().map(|(name, _)| name).collect();
    assert!(!names.iter().any(|name| name == "script"));
}

#[test]
fn the_page_refers_to_nothing_outside_itself() {
    let html = html_of(&report(findings()));
    let tags = tags(&html);
    assert!(tags.len() > 100, "the page was read as tags");

    for (name, attributes) in &tags {
        assert!(
            ![
                "script", "iframe", "frame", "object", "embed", "img", "audio", "video", "source", "base", "form",
                "image", "use"
            ]
            .contains(&name.as_str()),
            "<{name}> has no place in a report"
        );
        for (attribute, value) in attributes {
            assert!(!attribute.starts_with("on"), "<{name} {attribute}>: no event handler");
            if ["src", "href", "xlink:href", "action", "formaction", "srcset", "poster", "data", "background", "ping"]
                .contains(&attribute.as_str())
            {
                assert!(
                    value.starts_with("data:") || value.starts_with('#'),
                    "<{name} {attribute}={value:?}> leaves the page"
                );
            }
            let lower = value.to_ascii_lowercase();
            assert!(!lower.contains("url("), "<{name} {attribute}> loads nothing by URL");
        }
        if name == "link" {
            assert!(attributes.contains(&("rel".into(), "icon".into())), "the only link is the empty icon");
        }
        if name == "meta" && attributes.iter().any(|(attribute, _)| attribute == "http-equiv") {
            let policy = &attributes.iter().find(|(attribute, _)| attribute == "content").expect("a policy").1;
            assert!(policy.starts_with("default-src 'none'; style-src 'unsafe-inline'; img-src data:"), "{policy}");
        }
    }
    let style = &html[html.find("<style>").expect("a style sheet")..html.find("</style>").expect("its end")];
    assert!(!style.contains("url(") && !style.contains("@import") && !style.contains("@font-face"), "{style}");
    assert!(!style.contains("http:") && !style.contains("https:") && !style.contains("//"), "{style}");
}

#[test]
fn the_page_says_the_cover_the_counts_and_how_many_were_left_out() {
    let mut report = report(findings());
    report.left_out = 40;
    let html = html_of(&report);
    assert!(html.contains("<p class=\"organisation\">Acme &amp; Sons</p>"));
    assert!(html.contains("<dt>status</dt><dd>open</dd>"));
    assert!(html.contains("<time datetime=\"2026-11-21T08:00:00Z\">2026-11-21 08:00 UTC</time>"));
    assert!(html.contains("<span class=\"badge sev-critical\">critical</span></td><td class=\"count\">1</td>"));
    assert!(html.contains("<tr><td>false positive</td><td class=\"count\">1</td></tr>"));
    assert!(html.contains("40 more findings matched but are not listed here"), "the export's cap is said");
    assert!(
        !html_of(&crate::helpers::report(findings())).contains("id=\"left-out\""),
        "nothing left out, nothing said"
    );
}

#[test]
fn the_page_opens_in_chromium_without_an_error_or_a_request() {
    let html = render(Format::Html, &report(findings()));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("report.html");
    std::fs::write(&file, html).expect("written");

    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rampart/tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "the browser tests need `npm ci --prefix crates/rampart/tests/browser` and Chromium (scripts/test installs both)"
    );
    let output = std::process::Command::new("node")
        .arg(browser.join("report_console.js"))
        .arg(&file)
        .output()
        .expect("node runs (scripts/test installs Node.js's Chromium driver)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let seen: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(seen["problems"], serde_json::json!([]));
    assert_eq!(seen["title"], "Findings of Acme & Sons <Ltd>");
    assert_eq!(seen["rows"], findings().len());
    assert_eq!(seen["bars"], 5, "a bar per severity");
    assert_eq!(seen["scripts"], 0);
}
