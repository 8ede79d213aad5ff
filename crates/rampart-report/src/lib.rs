//! Reports: tracked findings chosen by some criteria, said on the cover, rendered as JSON, CSV,
//! SARIF 2.1.0, HTML or PDF. Pure rendering: a renderer writes only to the writer it is handed,
//! fetches nothing, and nothing it writes refers to anything outside the report itself.
//!
//! JSON, CSV and SARIF carry every finding given, streamed row by row; HTML and PDF, made to be
//! read, show at most [`MAX_TABLE_ROWS`] and say on their cover how many were left out.
#![forbid(unsafe_code)]

mod csv;
mod html;
mod json;
mod pdf;
mod sarif;

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_core::findings::{FindingStatus, Severity, TrackedFinding};

/// A report: findings chosen by some criteria, said on its cover.
#[derive(Clone, Debug)]
pub struct Report {
    /// Said first on the cover: "Findings of Acme", "Run 0190… (tcp_scan)".
    pub title: String,
    pub organisation: String,
    pub generated_at: DateTime<Utc>,
    /// What the findings were chosen by, said for people: ("status", "open"), ("severity", "high")…
    pub criteria: Vec<(String, String)>,
    pub findings: Vec<TrackedFinding>,
    /// Findings that matched but are not in `findings` (the export is capped); said on the cover.
    pub left_out: u64,
}

/// The rows the HTML and PDF tables show at most: they are made to be read, and a browser or a
/// PDF viewer given a hundred thousand rows is not. The machine formats carry every finding.
pub const MAX_TABLE_ROWS: usize = 5_000;

/// How a report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Csv,
    Sarif,
    Html,
    Pdf,
}

impl Format {
    /// Every format, in the order named.
    pub const ALL: [Format; 5] = [Format::Json, Format::Csv, Format::Sarif, Format::Html, Format::Pdf];

    /// The format's name, as asked for (`?format=sarif`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }

    /// The media type a response carrying the report is sent with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Sarif => "application/sarif+json",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }

    /// The file name extension a saved report takes, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.as_str() == s)
            .ok_or_else(|| "must be one of json, csv, sarif, html, pdf".to_owned())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The report in `format`, in memory. Rendering cannot fail: every value a report holds can be
/// written in every format.
pub fn render(format: Format, report: &Report) -> Vec<u8> {
    let mut out = Vec::new();
    render_to(format, report, &mut out).expect("writing to memory does not fail");
    out
}

/// The report in `format`, streamed into `out` (buffered here); fails only when `out` does.
pub fn render_to(format: Format, report: &Report, out: &mut impl Write) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    match format {
        Format::Json => json::write(report, &mut out)?,
        Format::Csv => csv::write(report, &mut out)?,
        Format::Sarif => sarif::write(report, &mut out)?,
        Format::Html => html::write(report, &mut out)?,
        Format::Pdf => out.write_all(&pdf::document(report))?,
    }
    out.flush()
}

/// Severities from the most to the least severe: the order reports list them in.
pub(crate) const SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

/// How many findings of the report are of each severity and in each status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Indexed like `Severity::ALL`.
    by_severity: [u64; Severity::ALL.len()],
    /// Indexed like `FindingStatus::ALL`.
    by_status: [u64; FindingStatus::ALL.len()],
}

impl Summary {
    pub(crate) fn of(findings: &[TrackedFinding]) -> Self {
        let mut summary = Summary::default();
        for finding in findings {
            summary.by_severity[severity_index(finding.severity)] += 1;
            summary.by_status[status_index(finding.status)] += 1;
        }
        summary
    }

    pub(crate) fn severity(&self, severity: Severity) -> u64 {
        self.by_severity[severity_index(severity)]
    }

    pub(crate) fn status(&self, status: FindingStatus) -> u64 {
        self.by_status[status_index(status)]
    }
}

fn severity_index(severity: Severity) -> usize {
    Severity::ALL.iter().position(|each| *each == severity).expect("ALL holds every severity")
}

fn status_index(status: FindingStatus) -> usize {
    FindingStatus::ALL.iter().position(|each| *each == status).expect("ALL holds every status")
}

/// The report's criteria with each name said once, in the order first given: a name given twice
/// ("severity" high, "severity" critical) has its values joined, so a map can hold them.
pub(crate) fn criteria(report: &Report) -> Vec<(&str, String)> {
    let mut merged: Vec<(&str, String)> = Vec::with_capacity(report.criteria.len());
    for (name, value) in &report.criteria {
        match merged.iter_mut().find(|(seen, _)| seen == name) {
            Some((_, values)) => {
                values.push_str(", ");
                values.push_str(value);
            }
            None => merged.push((name, value.clone())),
        }
    }
    merged
}

/// Findings that matched but are not in the HTML or PDF table: those the export left out and
/// those past [`MAX_TABLE_ROWS`].
pub(crate) fn left_out_of_table(report: &Report) -> u64 {
    let past_cap = report.findings.len().saturating_sub(MAX_TABLE_ROWS);
    report.left_out.saturating_add(u64::try_from(past_cap).unwrap_or(u64::MAX))
}

/// A time as the machine formats write it: RFC 3339 in UTC.
pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A time as people read it in the HTML and PDF reports, to the minute.
pub(crate) fn readable(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A status as people say it.
pub(crate) fn said(status: FindingStatus) -> &'static str {
    match status {
        FindingStatus::Open => "open",
        FindingStatus::Acknowledged => "acknowledged",
        FindingStatus::Resolved => "resolved",
        FindingStatus::FalsePositive => "false positive",
        FindingStatus::Accepted => "accepted",
    }
}

/// A count said with its noun: "1 finding", "3 findings".
pub(crate) fn counted(count: u64, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_through_its_name_and_others_are_refused() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), format.as_str());
        }
        assert_eq!("xml".parse::<Format>(), Err("must be one of json, csv, sarif, html, pdf".to_owned()));
        assert!("JSON".parse::<Format>().is_err());
    }

    #[test]
    fn each_format_is_served_and_saved_as_what_it_is() {
        let served: Vec<(&str, &str)> = Format::ALL.map(|format| (format.content_type(), format.extension())).to_vec();
        assert_eq!(
            served,
            [
                ("application/json", "json"),
                ("text/csv; charset=utf-8", "csv"),
                ("application/sarif+json", "sarif"),
                ("text/html; charset=utf-8", "html"),
                ("application/pdf", "pdf"),
            ]
        );
    }

    #[test]
    fn criteria_named_twice_are_said_once_with_both_values() {
        let report = Report {
            title: String::new(),
            organisation: String::new(),
            generated_at: DateTime::<Utc>::UNIX_EPOCH,
            criteria: vec![
                ("severity".into(), "high".into()),
                ("status".into(), "open".into()),
                ("severity".into(), "critical".into()),
            ],
            findings: Vec::new(),
            left_out: 0,
        };
        assert_eq!(criteria(&report), vec![("severity", "high, critical".to_owned()), ("status", "open".to_owned())]);
    }
}
