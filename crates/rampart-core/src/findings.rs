//! The vocabulary of findings: how severe an observation is, a tracked finding's identity across
//! runs and tools, where it stands in its lifecycle, and when it is due. Pure types; no I/O.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::identity::Actor;
use crate::validation::check_free_text;
use crate::words::words;
use crate::{ExecutionId, FindingId, UserId, ValidationErrors};

words!(
    /// How much a finding matters, least to most; the order is the ranking.
    #[derive(PartialOrd, Ord)]
    Severity { Info => "info", Low => "low", Medium => "medium", High => "high", Critical => "critical" }
    else "must be info, low, medium, high or critical"
);

words!(
    /// Where a tracked finding stands. `open` and `acknowledged` are live: a run that looked for
    /// the finding's check on its asset and did not see it resolves it. `false_positive` and
    /// `accepted` are silenced: seeing them again changes nothing but their last sighting.
    FindingStatus {
        Open => "open",
        Acknowledged => "acknowledged",
        Resolved => "resolved",
        FalsePositive => "false_positive",
        Accepted => "accepted",
    }
);

impl FindingStatus {
    /// Open or acknowledged: still to be dealt with, and closed by a run that no longer sees it.
    pub fn is_live(self) -> bool {
        matches!(self, FindingStatus::Open | FindingStatus::Acknowledged)
    }
}

/// What seeing a tracked finding again does to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sighting {
    /// Live or silenced: only its last sighting and count change.
    Again,
    /// It was resolved: it is open again, a regression.
    Reopened,
}

impl Sighting {
    pub fn of(status: FindingStatus) -> Self {
        if status == FindingStatus::Resolved { Sighting::Reopened } else { Sighting::Again }
    }
}

/// A finding's identity: SHA-256 over its check id, asset and location as kept (normalised), in
/// lowercase hex. Never over its title or detail, which may say the same thing differently from
/// one run or tool to the next.
pub fn fingerprint(check_id: &str, asset: &str, location: &str) -> String {
    let mut hash = Sha256::new();
    for part in [check_id, asset, location] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Days a finding of `severity` may stay open before it is overdue: the service levels DefectDojo
/// users know (critical 7, high 30, medium 90, low 120); informational findings are never due.
pub fn sla_days(severity: Severity) -> Option<i64> {
    match severity {
        Severity::Critical => Some(7),
        Severity::High => Some(30),
        Severity::Medium => Some(90),
        Severity::Low => Some(120),
        Severity::Info => None,
    }
}

/// When a finding of `severity` first seen at `first_seen` is due.
pub fn due(severity: Severity, first_seen: DateTime<Utc>) -> Option<DateTime<Utc>> {
    sla_days(severity).map(|days| first_seen + Duration::days(days))
}

/// A finding as the organisation tracks it: one issue on one asset, whichever runs and tools saw
/// it, with where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedFinding {
    pub id: FindingId,
    /// [`fingerprint`] of its check id, asset and location.
    pub fingerprint: String,
    pub severity: Severity,
    pub check_id: String,
    /// As the last run that saw it said it.
    pub title: String,
    pub asset: String,
    pub location: String,
    pub detail: String,
    pub status: FindingStatus,
    /// It was resolved once and seen again.
    pub regression: bool,
    pub assignee: Option<UserId>,
    /// Until when an accepted risk stays accepted; it is open again after.
    pub accepted_until: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Runs that saw it.
    pub occurrences: u64,
    /// The tools that saw it, in the order they first did.
    pub tools: Vec<String>,
    pub last_execution: Option<ExecutionId>,
    pub updated_at: DateTime<Utc>,
}

impl TrackedFinding {
    /// When it is due, by its severity's service level.
    pub fn due(&self) -> Option<DateTime<Utc>> {
        due(self.severity, self.first_seen)
    }

    /// Live and past its due date at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status.is_live() && self.due().is_some_and(|due| due < now)
    }
}

/// Most characters of a note on a finding.
pub const NOTE_MAX: usize = 2000;
/// How far ahead a risk may be accepted at most.
pub const ACCEPTANCE_DAYS_MAX: i64 = 366;
/// Findings one bulk change names at most.
pub const BULK_MAX: usize = 1000;

/// A change people make to findings, with why: its status, its assignee, a note.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingChange {
    pub status: Option<FindingStatus>,
    /// Until when an accepted risk stays accepted: required with `accepted`, refused otherwise.
    pub accepted_until: Option<DateTime<Utc>>,
    /// `Some(None)` leaves it unassigned.
    pub assignee: Option<Option<UserId>>,
    /// Why; required to close a finding (resolved, false positive, accepted).
    pub note: String,
}

impl FindingChange {
    /// The change, checked at `now`; every field in error is named.
    pub fn checked(self, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        errors.check("note", check_free_text(&self.note, NOTE_MAX));
        let note = self.note.trim().to_owned();
        if self.status.is_none() && self.assignee.is_none() && note.is_empty() {
            errors.add("status", "a change needs a status, an assignee or a note");
        }
        let closing = matches!(
            self.status,
            Some(FindingStatus::Resolved | FindingStatus::FalsePositive | FindingStatus::Accepted)
        );
        if closing && note.is_empty() {
            errors.add("note", "must say why, to close a finding");
        }
        match (self.status, self.accepted_until) {
            (Some(FindingStatus::Accepted), None) => errors.add("accepted_until", "is required to accept a risk"),
            (Some(FindingStatus::Accepted), Some(until)) => {
                if until <= now || until > now + Duration::days(ACCEPTANCE_DAYS_MAX) {
                    errors.add("accepted_until", format!("must be in the next {ACCEPTANCE_DAYS_MAX} days"));
                }
            }
            (_, Some(_)) => errors.add("accepted_until", "is only for accepting a risk (status accepted)"),
            (_, None) => {}
        }
        errors.into_result(|| Self { note, ..self })
    }
}

/// One entry of a finding's history: who changed what, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// The status it took, when it changed.
    pub status: Option<FindingStatus>,
    /// The assignee it took, when it changed (`Some(None)`: unassigned).
    pub assignee: Option<Option<UserId>>,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_severity_round_trips_through_its_name() {
        for severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
            assert_eq!(severity.to_string(), severity.as_str());
        }
    }

    #[test]
    fn unknown_or_uppercase_names_are_rejected() {
        assert!("HIGH".parse::<Severity>().is_err());
        assert!("severe".parse::<Severity>().is_err());
        assert!("".parse::<Severity>().is_err());
    }

    #[test]
    fn a_fingerprint_is_made_of_check_asset_and_location_only() {
        let one = fingerprint("tcp_scan.exposed_redis", "10.0.0.5", "tcp/6379");
        assert_eq!(one, fingerprint("tcp_scan.exposed_redis", "10.0.0.5", "tcp/6379"));
        assert_eq!(one.len(), 64);
        assert!(one.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(one, fingerprint("tcp_scan.exposed_redis", "10.0.0.5", "tcp/6380"));
        assert_ne!(one, fingerprint("tcp_scan.exposed_redi", "s10.0.0.5", "tcp/6379"), "parts cannot slide");
        assert_ne!(fingerprint("a", "b", ""), fingerprint("a", "", "b"));
    }

    #[test]
    fn only_a_resolved_finding_seen_again_is_reopened() {
        assert_eq!(Sighting::of(FindingStatus::Resolved), Sighting::Reopened);
        for status in
            [FindingStatus::Open, FindingStatus::Acknowledged, FindingStatus::FalsePositive, FindingStatus::Accepted]
        {
            assert_eq!(Sighting::of(status), Sighting::Again);
        }
        assert!(FindingStatus::Open.is_live() && FindingStatus::Acknowledged.is_live());
        assert!(!FindingStatus::Accepted.is_live() && !FindingStatus::FalsePositive.is_live());
    }

    #[test]
    fn a_finding_is_due_by_its_severity() {
        let seen = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(due(Severity::Critical, seen), Some(seen + Duration::days(7)));
        assert_eq!(due(Severity::Low, seen), Some(seen + Duration::days(120)));
        assert_eq!(due(Severity::Info, seen), None);
    }

    #[test]
    fn a_change_is_checked_field_by_field() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1000);
        let fields = |change: FindingChange| {
            change.checked(now).err().map(|errors| errors.iter().map(|error| error.field.clone()).collect::<Vec<_>>())
        };
        assert_eq!(fields(FindingChange::default()), Some(vec!["status".to_owned()]));
        let closing = FindingChange { status: Some(FindingStatus::FalsePositive), ..Default::default() };
        assert_eq!(fields(closing.clone()), Some(vec!["note".to_owned()]));
        assert_eq!(fields(FindingChange { note: " a test host ".into(), ..closing }), None);
        let accept = |until| FindingChange {
            status: Some(FindingStatus::Accepted),
            accepted_until: until,
            note: "compensating control".into(),
            ..Default::default()
        };
        assert_eq!(fields(accept(None)), Some(vec!["accepted_until".to_owned()]));
        assert_eq!(fields(accept(Some(now))), Some(vec!["accepted_until".to_owned()]));
        assert_eq!(fields(accept(Some(now + Duration::days(400)))), Some(vec!["accepted_until".to_owned()]));
        assert_eq!(fields(accept(Some(now + Duration::days(30)))), None);
        let stray =
            FindingChange { accepted_until: Some(now + Duration::days(1)), note: "x".into(), ..Default::default() };
        assert_eq!(fields(stray), Some(vec!["accepted_until".to_owned()]));
        let long = FindingChange { note: "x".repeat(NOTE_MAX + 1), ..Default::default() };
        assert_eq!(fields(long), Some(vec!["note".to_owned()]));
        let checked = FindingChange { note: "  why \n".into(), ..Default::default() }.checked(now).expect("valid");
        assert_eq!(checked.note, "why");
    }

    #[test]
    fn severities_rank_from_info_to_critical() {
        assert!(Severity::Info < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::Medium < Severity::High);
        assert!(Severity::High < Severity::Critical);
    }
}
