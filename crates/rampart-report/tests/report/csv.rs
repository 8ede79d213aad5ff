//! The CSV report: read back with an RFC 4180 reader, quoting and formula guards included.

use rampart_report::{Format, render};

use crate::helpers::{findings, report};

/// Rows of an RFC 4180 document: fields split on commas outside quotes, rows on CRLF outside
/// quotes, `""` inside quotes a quote. Panics on anything else (a lone LF ending a row, text
/// after a closing quote), which is the point.
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                    let next = chars.peek().copied();
                    assert!(matches!(next, None | Some(',') | Some('\r')), "text after a closing quote: {next:?}");
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => panic!("a quote inside an unquoted field"),
            ',' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "rows end with CRLF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            '\n' => panic!("a bare LF outside quotes"),
            other => {
                field.push(other);
                at_field_start = false;
            }
        }
    }
    assert!(!quoted, "an unclosed quote");
    assert!(row.is_empty() && field.is_empty(), "the last row ends with CRLF");
    rows
}

#[test]
fn the_csv_report_has_a_header_and_one_row_per_finding_that_reads_back_as_given() {
    let report = report(findings());
    let text = String::from_utf8(render(Format::Csv, &report)).expect("UTF-8");
    let rows = parse(&text);

    assert_eq!(rows[0][..4], ["id", "fingerprint", "severity", "status"]);
    assert_eq!(rows.len(), report.findings.len() + 1);
    assert!(rows.iter().all(|row| row.len() == rows[0].len()), "every row has every column");
    let column = |name: &str| rows[0].iter().position(|header| header == name).expect("a column");

    let redis = &rows[1];
    assert_eq!(redis[column("id")], report.findings[0].id.to_string());
    assert_eq!(redis[column("detail")], report.findings[0].detail, "a line break survives, quoted");
    assert_eq!(redis[column("due")], "2026-11-08T09:00:00Z");
    assert_eq!(redis[column("regression")], "true");
    assert_eq!(rows[5][column("title")], "A 1024-bit RSA key, with a comma, and \"quotes\"");
    assert_eq!(rows[1][column("tools")], "tcp_scan");
    assert_eq!(rows[8][column("tools")], "", "no tool, an empty cell");
}

#[test]
fn cells_that_a_spreadsheet_would_run_as_formulas_are_made_text() {
    let report = report(findings());
    let rows = parse(&String::from_utf8(render(Format::Csv, &report)).expect("UTF-8"));
    let title = rows[0].iter().position(|header| header == "title").expect("a title column");

    assert_eq!(rows[4][title], "'=SUM(A1:A9) looks like a formula");
    assert_eq!(rows[8][title], "'-1 ports left open");
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?} could run as a formula");
        }
    }
}
