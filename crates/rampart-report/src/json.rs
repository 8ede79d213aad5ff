//! The JSON report: the cover (title, organisation, time, criteria), counts by severity and
//! status, and every finding given with all it is tracked by, times in RFC 3339. Findings are
//! serialised one by one as they are read, never gathered into a tree first.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use rampart_core::findings::{FindingStatus, TrackedFinding};
use rampart_core::{FindingId, UserId};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::{Report, SEVERITIES, Summary};

pub(crate) fn write(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::new(&mut *out);
    Document(report).serialize(&mut serializer).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

struct Document<'a>(&'a Report);

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let mut document = serializer.serialize_struct("Report", 8)?;
        document.serialize_field("title", &report.title)?;
        document.serialize_field("organisation", &report.organisation)?;
        document.serialize_field("generated_at", &report.generated_at)?;
        document.serialize_field("criteria", &Criteria(report))?;
        document.serialize_field("summary", &Counts(Summary::of(&report.findings)))?;
        document.serialize_field("left_out", &report.left_out)?;
        document.serialize_field("findings", &Findings(&report.findings))?;
        document.end()
    }
}

struct Criteria<'a>(&'a Report);

impl Serialize for Criteria<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(crate::criteria(self.0))
    }
}

struct Counts(Summary);

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let by_severity = ByName(SEVERITIES.map(|severity| (severity.as_str(), self.0.severity(severity))));
        let by_status = ByName(FindingStatus::ALL.map(|status| (status.as_str(), self.0.status(status))));
        let mut counts = serializer.serialize_struct("Summary", 2)?;
        counts.serialize_field("by_severity", &by_severity)?;
        counts.serialize_field("by_status", &by_status)?;
        counts.end()
    }
}

/// Counts under their names, every name present (a zero is said, not left out).
struct ByName<const N: usize>([(&'static str, u64); N]);

impl<const N: usize> Serialize for ByName<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, count)| (name, count)))
    }
}

struct Findings<'a>(&'a [TrackedFinding]);

impl Serialize for Findings<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(FindingView::of))
    }
}

#[derive(Serialize)]
struct FindingView<'a> {
    id: FindingId,
    fingerprint: &'a str,
    severity: &'static str,
    status: &'static str,
    regression: bool,
    check_id: &'a str,
    title: &'a str,
    asset: &'a str,
    location: &'a str,
    detail: &'a str,
    tools: &'a [String],
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    occurrences: u64,
    due: Option<DateTime<Utc>>,
    assignee: Option<UserId>,
    accepted_until: Option<DateTime<Utc>>,
}

impl<'a> FindingView<'a> {
    fn of(finding: &'a TrackedFinding) -> Self {
        Self {
            id: finding.id,
            fingerprint: &finding.fingerprint,
            severity: finding.severity.as_str(),
            status: finding.status.as_str(),
            regression: finding.regression,
            check_id: &finding.check_id,
            title: &finding.title,
            asset: &finding.asset,
            location: &finding.location,
            detail: &finding.detail,
            tools: &finding.tools,
            first_seen: finding.first_seen,
            last_seen: finding.last_seen,
            occurrences: finding.occurrences,
            due: finding.due(),
            assignee: finding.assignee,
            accepted_until: finding.accepted_until,
        }
    }
}
