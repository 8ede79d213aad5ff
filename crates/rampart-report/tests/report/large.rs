//! Many findings: every format renders 20,000 and says each of them (JSON, CSV, SARIF) or the
//! table's share and how many it left out (HTML, PDF).

use rampart_report::{Format, render};
use serde_json::Value;

use crate::helpers::{many, report};

const N: usize = 20_000;

#[test]
fn twenty_thousand_findings_are_all_in_the_json_csv_and_sarif_reports() {
    let report = report(many(N));

    let json: Value = serde_json::from_slice(&render(Format::Json, &report)).expect("valid JSON");
    assert_eq!(json["findings"].as_array().expect("findings").len(), N);

    let csv = crate::csv::parse(&String::from_utf8(render(Format::Csv, &report)).expect("UTF-8"));
    assert_eq!(csv.len(), N + 1, "a header and a row per finding");

    let sarif: Value = serde_json::from_slice(&render(Format::Sarif, &report)).expect("valid JSON");
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 4);
    let results: usize = runs.iter().map(|run| run["results"].as_array().expect("results").len()).sum();
    assert_eq!(results, N);
    for run in runs {
        assert_eq!(run["tool"]["driver"]["rules"].as_array().expect("rules").len(), 37, "one rule per check");
    }
    assert_eq!(crate::sarif::violations(&sarif), Vec::<String>::new());
}

#[test]
fn the_html_table_stops_at_its_cap_and_says_how_many_it_left_out() {
    let mut report = report(many(N));
    report.left_out = 5;
    let html = String::from_utf8(render(Format::Html, &report)).expect("UTF-8");
    assert_eq!(html.matches("<tr class=\"finding\">").count(), rampart_report::MAX_TABLE_ROWS);
    let left_out = N - rampart_report::MAX_TABLE_ROWS + 5;
    assert!(html.contains(&format!("{left_out} more findings matched but are not listed here")));
}

#[test]
fn the_pdf_table_stops_at_its_cap_and_says_how_many_it_left_out() {
    let report = report(many(N));
    let pdf = render(Format::Pdf, &report);
    assert!(pdf.starts_with(b"%PDF-"));
    let text = crate::pdf::text_of(&pdf);
    let left_out = N - rampart_report::MAX_TABLE_ROWS;
    assert!(text.contains(&format!("{left_out} more findings matched but are not listed here")));
    // The table keeps the given order: the last row shown is the cap's, the next is left out.
    let cap = rampart_report::MAX_TABLE_ROWS;
    assert!(text.contains(&format!("Finding {} of ", cap - 1)), "the 5,000th row is there");
    assert!(!text.contains(&format!("Finding {cap} of ")), "the 5,001st is not");
}
