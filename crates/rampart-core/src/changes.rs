//! Change events: what changed between runs — new, resolved and reopened findings, ports opened
//! and closed, certificates and technologies changed. A run's finish records them; teams list
//! them and are told of them. Pure types; no I/O.

use chrono::{DateTime, Utc};

use crate::words::words;
use crate::{ChangeEventId, ExecutionId, FindingId};

words!(
    /// What changed.
    ChangeKind {
        FindingNew => "finding_new",
        FindingResolved => "finding_resolved",
        FindingReopened => "finding_reopened",
        PortOpened => "port_opened",
        PortClosed => "port_closed",
        CertificateChanged => "certificate_changed",
        TechnologyChanged => "technology_changed",
    }
);

/// One change, on one asset, seen by one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    pub id: ChangeEventId,
    pub at: DateTime<Utc>,
    pub kind: ChangeKind,
    pub asset: String,
    pub execution: Option<ExecutionId>,
    pub finding: Option<FindingId>,
    /// Said for people: the finding's title, the port, the old and new certificate.
    pub detail: String,
}
