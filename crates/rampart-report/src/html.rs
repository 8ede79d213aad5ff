//! The HTML report: one self-contained page to read or print, the cover (title, organisation,
//! time, criteria), the counts with a severity bar chart in inline SVG, and the findings table,
//! capped at [`MAX_TABLE_ROWS`](crate::MAX_TABLE_ROWS) rows.
//!
//! It must never refer to anything outside itself: no script, no font, no image or style sheet by
//! URL, and a Content-Security-Policy that forbids every fetch besides, so a finding's text,
//! which comes from the outside world, cannot make the page reach anywhere. Every text written
//! is HTML-escaped, attribute values included.

use std::io::{self, Write};

use rampart_core::findings::{FindingStatus, Severity, TrackedFinding};

use crate::{MAX_TABLE_ROWS, Report, SEVERITIES, Summary, counted, left_out_of_table, readable, rfc3339, said};

/// Forbids every fetch and every script; only the inline style sheet and `data:` images apply.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1d232a; --muted: #5b6470; --rule: #d7dce2; --band: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 24px; color: var(--ink); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 2px solid var(--ink); padding-bottom: 4px; }
.organisation { font-size: 16px; color: var(--muted); margin: 0 0 12px; }
dl.cover { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.cover dt { color: var(--muted); }
dl.cover dd { margin: 0; }
.note { background: #fff6dd; border-left: 4px solid #e0a800; padding: 6px 10px; margin: 12px 0; }
.summary { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
table { border-collapse: collapse; }
table.counts td, table.counts th { padding: 3px 10px; border-bottom: 1px solid var(--rule); text-align: left; }
table.counts td.count { text-align: right; font-variant-numeric: tabular-nums; }
table.findings { width: 100%; table-layout: fixed; }
table.findings th { text-align: left; background: var(--band); border-bottom: 2px solid var(--ink); padding: 6px; }
table.findings td { vertical-align: top; padding: 6px; border-bottom: 1px solid var(--rule); overflow-wrap: anywhere; }
table.findings col.severity { width: 8%; } table.findings col.status { width: 10%; }
table.findings col.finding { width: 38%; } table.findings col.asset { width: 16%; }
table.findings col.location { width: 12%; } table.findings col.seen { width: 16%; }
.check { color: var(--muted); font-size: 0.86em; font-family: ui-monospace, Menlo, Consolas, monospace; }
.detail { white-space: pre-wrap; font-size: 0.86em; color: #333; margin-top: 4px; }
.dates { font-size: 0.86em; color: var(--muted); }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 1px 6px; border-radius: 3px;
  font-size: 0.86em; font-weight: 600; color: #fff; }
.regression { color: #b00020; font-weight: 600; font-size: 0.86em; }
.sev-critical { background: #7b1020; } .sev-high { background: #c62828; } .sev-medium { background: #e65100; }
.sev-low { background: #9e7c00; } .sev-info { background: #546e7a; }
footer { margin-top: 24px; color: var(--muted); font-size: 0.86em; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 9pt; }
  #severity-chart { width: 330px; height: auto; }
  h2 { break-after: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  .badge, .note, table.findings th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

pub(crate) fn write(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let summary = Summary::of(&report.findings);
    out.write_all(b"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")?;
    writeln!(out, "<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">")?;
    out.write_all(b"<meta name=\"referrer\" content=\"no-referrer\">\n")?;
    out.write_all(b"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")?;
    // An empty icon of its own, so a browser does not go looking for one.
    out.write_all(b"<link rel=\"icon\" href=\"data:,\">\n<title>")?;
    escape(out, &report.title)?;
    write!(out, "</title>\n<style>{STYLE}</style>\n</head>\n<body>\n")?;
    cover(report, out)?;
    summary_section(report, &summary, out)?;
    findings_section(report, out)?;
    out.write_all(b"<footer>Rampart report, generated ")?;
    escape(out, &readable(report.generated_at))?;
    out.write_all(b".</footer>\n</body>\n</html>\n")
}

fn cover(report: &Report, out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"<header>\n<h1>")?;
    escape(out, &report.title)?;
    out.write_all(b"</h1>\n<p class=\"organisation\">")?;
    escape(out, &report.organisation)?;
    out.write_all(b"</p>\n<dl class=\"cover\">\n<dt>Generated</dt><dd><time datetime=\"")?;
    escape(out, &rfc3339(report.generated_at))?;
    out.write_all(b"\">")?;
    escape(out, &readable(report.generated_at))?;
    out.write_all(b"</time></dd>\n")?;
    for (name, value) in crate::criteria(report) {
        out.write_all(b"<dt>")?;
        escape(out, name)?;
        out.write_all(b"</dt><dd>")?;
        escape(out, &value)?;
        out.write_all(b"</dd>\n")?;
    }
    out.write_all(b"</dl>\n</header>\n")
}

fn summary_section(report: &Report, summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    let shown = report.findings.len().min(MAX_TABLE_ROWS);
    let left_out = left_out_of_table(report);
    out.write_all(b"<section>\n<h2>Summary</h2>\n<p>")?;
    escape(out, &counted(report.findings.len() as u64, "finding"))?;
    out.write_all(b" in this report.</p>\n")?;
    if left_out > 0 {
        writeln!(
            out,
            "<p class=\"note\" id=\"left-out\">{} matched but {} not listed here: the table shows {shown}. \
             The JSON, CSV and SARIF exports carry every finding given to them.</p>",
            counted(left_out, "more finding"),
            if left_out == 1 { "is" } else { "are" },
        )?;
    }
    out.write_all(b"<div class=\"summary\">\n")?;
    chart(summary, out)?;
    out.write_all(b"<table class=\"counts\" id=\"by-severity\">\n<thead><tr><th>Severity</th><th>Findings</th></tr></thead>\n<tbody>\n")?;
    for severity in SEVERITIES {
        writeln!(
            out,
            "<tr><td><span class=\"badge sev-{0}\">{0}</span></td><td class=\"count\">{1}</td></tr>",
            severity.as_str(),
            summary.severity(severity)
        )?;
    }
    out.write_all(b"</tbody>\n</table>\n<table class=\"counts\" id=\"by-status\">\n<thead><tr><th>Status</th><th>Findings</th></tr></thead>\n<tbody>\n")?;
    for status in FindingStatus::ALL {
        writeln!(out, "<tr><td>{}</td><td class=\"count\">{}</td></tr>", said(status), summary.status(status))?;
    }
    out.write_all(b"</tbody>\n</table>\n</div>\n</section>\n")
}

/// A horizontal bar per severity, as long as its share of the largest count.
fn chart(summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    const BAR_X: u64 = 80;
    const BAR_MAX: u64 = 300;
    const ROW: u64 = 26;
    let largest = SEVERITIES.iter().map(|severity| summary.severity(*severity)).max().unwrap_or(0).max(1);
    let height = ROW * SEVERITIES.len() as u64 + 8;
    write!(
        out,
        "<svg width=\"440\" height=\"{height}\" viewBox=\"0 0 440 {height}\" \
         role=\"img\" aria-labelledby=\"chart-title\" id=\"severity-chart\">\n\
         <title id=\"chart-title\">Findings by severity</title>\n"
    )?;
    for (row, severity) in SEVERITIES.iter().enumerate() {
        let count = summary.severity(*severity);
        let y = 4 + ROW * row as u64;
        let width = if count == 0 { 0 } else { (count * BAR_MAX / largest).max(2) };
        writeln!(
            out,
            "<text x=\"0\" y=\"{text_y}\" font-size=\"13\" fill=\"#1d232a\">{name}</text>\
             <rect class=\"bar\" x=\"{BAR_X}\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"{colour}\"><title>{name}: {count}</title></rect>\
             <text x=\"{count_x}\" y=\"{text_y}\" font-size=\"13\" fill=\"#1d232a\">{count}</text>",
            text_y = y + 14,
            name = severity.as_str(),
            colour = colour(*severity),
            count_x = BAR_X + width + 6,
        )?;
    }
    out.write_all(b"</svg>\n")
}

fn findings_section(report: &Report, out: &mut impl Write) -> io::Result<()> {
    out.write_all(
        b"<section>\n<h2>Findings</h2>\n<table class=\"findings\">\n\
          <colgroup><col class=\"severity\"><col class=\"status\"><col class=\"finding\"><col class=\"asset\">\
          <col class=\"location\"><col class=\"seen\"></colgroup>\n\
          <thead><tr><th>Severity</th><th>Status</th><th>Finding</th><th>Asset</th><th>Location</th><th>Seen</th></tr></thead>\n\
          <tbody>\n",
    )?;
    for finding in report.findings.iter().take(MAX_TABLE_ROWS) {
        row(finding, out)?;
    }
    if report.findings.is_empty() {
        out.write_all(b"<tr><td colspan=\"6\">No finding matched.</td></tr>\n")?;
    }
    out.write_all(b"</tbody>\n</table>\n</section>\n")
}

fn row(finding: &TrackedFinding, out: &mut impl Write) -> io::Result<()> {
    let severity = finding.severity.as_str();
    write!(out, "<tr class=\"finding\"><td><span class=\"badge sev-{severity}\">{severity}</span></td><td>")?;
    out.write_all(said(finding.status).as_bytes())?;
    if finding.regression {
        out.write_all(b"<br><span class=\"regression\">regression</span>")?;
    }
    out.write_all(b"</td><td><strong>")?;
    escape(out, &finding.title)?;
    out.write_all(b"</strong><div class=\"check\">")?;
    escape(out, &finding.check_id)?;
    out.write_all(b"</div>")?;
    if !finding.detail.is_empty() {
        out.write_all(b"<div class=\"detail\">")?;
        escape(out, &finding.detail)?;
        out.write_all(b"</div>")?;
    }
    out.write_all(b"</td><td>")?;
    escape(out, &finding.asset)?;
    out.write_all(b"</td><td>")?;
    escape(out, &finding.location)?;
    out.write_all(b"</td><td class=\"dates\">last ")?;
    escape(out, &readable(finding.last_seen))?;
    out.write_all(b"<br>first ")?;
    escape(out, &readable(finding.first_seen))?;
    write!(out, "<br>{}", counted(finding.occurrences, "run"))?;
    if let Some(due) = finding.due().filter(|_| finding.status.is_live()) {
        out.write_all(b"<br>due ")?;
        escape(out, &readable(due))?;
    }
    if let (FindingStatus::Accepted, Some(until)) = (finding.status, finding.accepted_until) {
        out.write_all(b"<br>accepted until ")?;
        escape(out, &readable(until))?;
    }
    out.write_all(b"</td></tr>\n")
}

fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#7b1020",
        Severity::High => "#c62828",
        Severity::Medium => "#e65100",
        Severity::Low => "#9e7c00",
        Severity::Info => "#546e7a",
    }
}

/// `text` with the five characters HTML gives a meaning replaced by references, so it is text
/// wherever it is written, between tags or in a quoted attribute.
fn escape(out: &mut impl Write, text: &str) -> io::Result<()> {
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let reference: &[u8] = match byte {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&#39;",
            _ => continue,
        };
        out.write_all(&text.as_bytes()[start..index])?;
        out.write_all(reference)?;
        start = index + 1;
    }
    out.write_all(&text.as_bytes()[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_characters_html_gives_a_meaning_are_escaped() {
        let mut out = Vec::new();
        escape(&mut out, "<script>alert(\"x\" & 'y')</script>é").expect("writes to memory");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;é"
        );
    }
}
