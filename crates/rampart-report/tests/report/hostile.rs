//! Any text a finding may carry, from the outside world, leaves every format well formed: SARIF
//! valid against its schema (URIs included), CSV reading back as written (formula guard aside),
//! HTML with the same markup whatever the text.

use proptest::prelude::*;
use rampart_core::findings::{FindingStatus, Severity, TrackedFinding};
use rampart_report::{Format, Report, render};

use crate::helpers::{finding, report};

/// Text a tool may pass on: anything, and markup, quotes, separators and URL-like pieces often.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z<>&\"' =+@,;:/#?%\\[\\]\t\r\n-]{0,24}",
        "(file://|https://|http://|)[a-zA-Z0-9.:/@%# é-]{0,24}",
    ]
}

fn hostile(check: &str, title: String, detail: String, asset: String, location: String) -> TrackedFinding {
    let mut one = finding(Severity::High, FindingStatus::Open, check, &asset, &location);
    one.title = title;
    one.detail = detail;
    one
}

fn with(findings: Vec<TrackedFinding>) -> Report {
    report(findings)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_leaves_the_sarif_report_valid(
        asset in text(),
        location in text(),
        title in text(),
        secret in any::<bool>(),
    ) {
        let check = if secret { "secret_scan.rule" } else { "http_probe.banner" };
        let report = with(vec![hostile(check, title, String::new(), asset, location)]);
        let document: serde_json::Value = serde_json::from_slice(&render(Format::Sarif, &report)).expect("JSON");
        prop_assert_eq!(crate::sarif::violations(&document), Vec::<String>::new());
    }

    #[test]
    fn any_text_reads_back_from_the_csv_report_as_written(title in text(), detail in text(), asset in text()) {
        let report = with(vec![hostile("tcp_scan.x", title.clone(), detail.clone(), asset.clone(), String::new())]);
        let rows = crate::csv::parse(&String::from_utf8(render(Format::Csv, &report)).expect("UTF-8"));
        prop_assert_eq!(rows.len(), 2);
        let guarded = |text: &str| {
            if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
        };
        prop_assert_eq!(&rows[1][6], &guarded(&title));
        prop_assert_eq!(&rows[1][7], &guarded(&asset));
        prop_assert_eq!(&rows[1][9], &guarded(&detail));
    }

    #[test]
    fn any_text_leaves_the_html_markup_as_it_is(
        title in text(),
        detail in text(),
        asset in text(),
        location in text(),
        report_title in text(),
    ) {
        let mut hostile_report = with(vec![hostile("tcp_scan.x", title, detail, asset, location)]);
        hostile_report.title = report_title;
        hostile_report.criteria = vec![("status".into(), "<b>\"'&".into())];
        // The same report with plain text; an empty detail is left out, so it stays empty.
        let plain_detail = if hostile_report.findings[0].detail.is_empty() { String::new() } else { "x".into() };
        let mut plain = with(vec![hostile("tcp_scan.x", "x".into(), plain_detail, "x".into(), "x".into())]);
        plain.title = "x".into();
        plain.criteria = vec![("status".into(), "x".into())];
        let hostile_html = String::from_utf8(render(Format::Html, &hostile_report)).expect("UTF-8");
        let plain_html = String::from_utf8(render(Format::Html, &plain)).expect("UTF-8");
        prop_assert_eq!(crate::html::tags(&hostile_html), crate::html::tags(&plain_html));
    }
}
