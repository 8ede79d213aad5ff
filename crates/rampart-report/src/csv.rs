//! The CSV report: RFC 4180 (a header row, then one row per finding, CRLF line ends, a field
//! quoted when it holds a comma, a quote, CR or LF, quotes doubled). Only findings; the cover
//! is the other formats' business.
//!
//! Findings carry text from the outside world (titles, banners, paths), and a spreadsheet runs a
//! cell that starts like a formula: every cell starting with `=`, `+`, `-`, `@`, a tab or CR is
//! prefixed with `'`, which spreadsheets read as "this is text" (OWASP, CSV injection).

use std::borrow::Cow;
use std::io::{self, Write};

use chrono::{DateTime, Utc};
use rampart_core::findings::TrackedFinding;

use crate::{Report, rfc3339};

/// The columns, named like the JSON report's fields.
pub(crate) const HEADER: [&str; 17] = [
    "id",
    "fingerprint",
    "severity",
    "status",
    "regression",
    "check_id",
    "title",
    "asset",
    "location",
    "detail",
    "tools",
    "first_seen",
    "last_seen",
    "occurrences",
    "due",
    "assignee",
    "accepted_until",
];

pub(crate) fn write(report: &Report, out: &mut impl Write) -> io::Result<()> {
    write_row(out, HEADER)?;
    for finding in &report.findings {
        write_row(out, row(finding))?;
    }
    Ok(())
}

/// A finding's cells, borrowed where the finding holds the text as written.
fn row(finding: &TrackedFinding) -> [Cow<'_, str>; HEADER.len()] {
    let optional = |time: Option<DateTime<Utc>>| Cow::Owned(time.map(rfc3339).unwrap_or_default());
    [
        Cow::Owned(finding.id.to_string()),
        Cow::Borrowed(finding.fingerprint.as_str()),
        Cow::Borrowed(finding.severity.as_str()),
        Cow::Borrowed(finding.status.as_str()),
        Cow::Borrowed(if finding.regression { "true" } else { "false" }),
        Cow::Borrowed(finding.check_id.as_str()),
        Cow::Borrowed(finding.title.as_str()),
        Cow::Borrowed(finding.asset.as_str()),
        Cow::Borrowed(finding.location.as_str()),
        Cow::Borrowed(finding.detail.as_str()),
        Cow::Owned(finding.tools.join(";")),
        Cow::Owned(rfc3339(finding.first_seen)),
        Cow::Owned(rfc3339(finding.last_seen)),
        Cow::Owned(finding.occurrences.to_string()),
        optional(finding.due()),
        Cow::Owned(finding.assignee.map(|user| user.to_string()).unwrap_or_default()),
        optional(finding.accepted_until),
    ]
}

fn write_row<I>(out: &mut impl Write, cells: I) -> io::Result<()>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    for (index, cell) in cells.into_iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        write_cell(out, cell.as_ref())?;
    }
    out.write_all(b"\r\n")
}

/// One field: guarded against formula injection, then quoted where RFC 4180 asks.
fn write_cell(out: &mut impl Write, text: &str) -> io::Result<()> {
    let guarded = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = text.contains([',', '"', '\r', '\n']);
    if quoted {
        out.write_all(b"\"")?;
    }
    if guarded {
        out.write_all(b"'")?;
    }
    if quoted {
        let mut parts = text.split('"');
        if let Some(first) = parts.next() {
            out.write_all(first.as_bytes())?;
        }
        for part in parts {
            out.write_all(b"\"\"")?;
            out.write_all(part.as_bytes())?;
        }
        out.write_all(b"\"")
    } else {
        out.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str) -> String {
        let mut out = Vec::new();
        write_cell(&mut out, text).expect("writes to memory");
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    #[test]
    fn plain_text_is_written_as_it_is() {
        assert_eq!(cell("10.0.0.5"), "10.0.0.5");
        assert_eq!(cell("tcp/6379"), "tcp/6379");
        assert_eq!(cell(""), "");
        assert_eq!(cell("a 'quoted' word"), "a 'quoted' word");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_with_quotes_doubled() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("\""), "\"\"\"\"");
        assert_eq!(cell("one\ntwo"), "\"one\ntwo\"");
        assert_eq!(cell("one\r\ntwo"), "\"one\r\ntwo\"");
    }

    #[test]
    fn cells_that_would_start_a_formula_are_made_text() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("\rx"), "\"'\rx\"");
        assert_eq!(cell("a=1"), "a=1", "only the first character counts");
    }
}
