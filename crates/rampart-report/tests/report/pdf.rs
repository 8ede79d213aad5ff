//! The PDF report: a real PDF, read back with poppler's `pdftotext` (Debian's `poppler-utils`,
//! which scripts/test installs): the cover, the counts and the findings are in its text.

use std::process::Command;

use rampart_report::{Format, render};

use crate::helpers::{findings, report};

/// The text of `pdf`, laid out as on the page (`pdftotext -layout`), pages split by form feeds.
pub fn text_of(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).expect("written");
    let output = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext runs (scripts/test installs Debian's poppler-utils)");
    assert!(output.status.success(), "pdftotext read the file: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The words of the first line of `text` holding `first`, spaces collapsed.
pub fn line_with(text: &str, first: &str) -> String {
    let line = text
        .lines()
        .find(|line| line.split_whitespace().collect::<Vec<_>>().join(" ").contains(first))
        .unwrap_or_else(|| panic!("a line with {first:?} in:\n{text}"));
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_pdf_says_the_cover_the_counts_and_the_findings() {
    let mut report = report(findings());
    report.left_out = 3;
    let pdf = render(Format::Pdf, &report);
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));

    let text = text_of(&pdf);
    assert!(text.contains("Findings of Acme & Sons <Ltd>"), "{text}");
    assert!(text.contains("Acme & Sons"));
    assert_eq!(line_with(&text, "Generated"), "Generated 2026-11-21 08:00 UTC");
    assert_eq!(line_with(&text, "status open"), "status open");
    assert_eq!(line_with(&text, "severity high"), "severity high");
    assert!(text.contains("8 findings in this report."));
    assert!(line_with(&text, "3 more findings").starts_with("3 more findings matched but are not listed here"));

    // The chart's labels and counts beside the counts by status, a line each.
    assert_eq!(line_with(&text, "Findings by severity"), "Findings by severity Findings by status");
    for line in [
        "critical 1 open 4",
        "high 2 acknowledged 1",
        "medium 2 resolved 1",
        "low 2 false positive 1",
        "info 1 accepted 1",
    ] {
        assert_eq!(line_with(&text, line), line, "{text}");
    }

    // The table: one row per finding, in its own page, the title of each.
    let table = text.split('\u{c}').nth(1).expect("a second page");
    assert!(line_with(table, "Severity").starts_with("Severity Status Title Asset Location Last seen"));
    let redis = line_with(table, "Redis reachable");
    assert_eq!(
        redis,
        "critical open (regression) Redis reachable without authentication 10.0.0.5 tcp/6379 2026-11-20 17:00"
    );
    assert!(table.contains("<script>alert(1)</script>"));
    assert!(text.contains("Page 1 of 2") && text.contains("Page 2 of 2"));
}

#[test]
fn long_text_is_wrapped_or_cut_to_its_column_and_the_table_goes_on_to_new_pages() {
    let mut findings = findings();
    findings[0].title = "word ".repeat(400);
    findings[0].asset = "a".repeat(300);
    for index in 0..150 {
        let mut one = findings[1].clone();
        one.title = format!("Finding {index} of many");
        findings.push(one);
    }
    let text = text_of(&render(Format::Pdf, &report(findings)));
    assert!(text.contains("Finding 149 of many"), "every row is there");
    assert!(text.contains('…'), "what did not fit was cut, and said to be");
    let pages = text.split('\u{c}').filter(|page| !page.trim().is_empty()).count();
    assert!(pages >= 4, "the table runs over pages: {pages}");
    assert!(text.contains(&format!("Page {pages} of {pages}")));
    for page in text.split('\u{c}').skip(1).filter(|page| !page.trim().is_empty()) {
        assert!(page.contains("Severity") && page.contains("Last seen"), "each page has the table's heading");
    }
}

#[test]
fn an_empty_report_is_a_pdf_that_says_so() {
    let text = text_of(&render(Format::Pdf, &report(Vec::new())));
    assert!(text.contains("0 findings in this report."));
    assert!(text.contains("No finding matched."));
}
