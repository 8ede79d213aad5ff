//! The stored rows of watch data and their conversions to and from the domain's types.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use rampart_core::watch::{Alert, Attacker, Event, EventDetail, EventKind, NewEvent, Score};
use rampart_core::{AlertId, EventId, NodeId, OrgId, UserId};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{StoreError, StoreResult};

pub(super) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("stored watch data is invalid".into())
}

pub(super) fn parse_ip(text: &str) -> StoreResult<IpAddr> {
    text.parse().map_err(invalid)
}

/// The stored text of optional details, in column order.
#[derive(Default)]
pub(super) struct EventColumns<'a> {
    pub(super) activity: Option<&'a str>,
    pub(super) payload: Option<&'a str>,
    pub(super) usernames: &'a [String],
    pub(super) passwords: &'a [String],
    pub(super) hostname: Option<&'a str>,
    pub(super) username: Option<&'a str>,
    pub(super) process: Option<&'a str>,
    pub(super) file_path: Option<&'a str>,
    pub(super) action: Option<&'a str>,
    pub(super) decoy_name: Option<&'a str>,
    pub(super) decoy_type: Option<&'a str>,
    pub(super) source_port: Option<i32>,
    pub(super) destination_port: Option<i32>,
}

pub(super) fn columns_of(detail: &EventDetail) -> EventColumns<'_> {
    let none = EventColumns::default();
    match detail {
        EventDetail::Honeypot { source_port, destination_port, activity, payload, usernames, passwords, .. } => {
            EventColumns {
                activity: Some(activity),
                payload: Some(payload),
                usernames,
                passwords,
                source_port: source_port.map(i32::from),
                destination_port: destination_port.map(i32::from),
                ..none
            }
        }
        EventDetail::Agent { hostname, username, process, file_path, action } => EventColumns {
            hostname: Some(hostname),
            username: username.as_deref(),
            process: process.as_deref(),
            file_path: file_path.as_deref(),
            action: Some(action),
            ..none
        },
        EventDetail::Decoy { name, decoy_type, hostname, username, file_path, action } => EventColumns {
            decoy_name: Some(name),
            decoy_type: Some(decoy_type),
            hostname: hostname.as_deref(),
            username: username.as_deref(),
            file_path: file_path.as_deref(),
            action: action.as_deref(),
            ..none
        },
    }
}

pub(super) const EVENT_COLUMNS: &str = "id, org_id, node_id, kind, occurred_at, received_at, source_ip, source_port, destination_port, \
     service, activity, payload, usernames, passwords, hostname, username, process, file_path, action, decoy_name, \
     decoy_type, score, attack_type, reasons, scorer, alert_id";

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    id: Uuid,
    org_id: Uuid,
    node_id: Option<Uuid>,
    kind: String,
    occurred_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    source_ip: Option<String>,
    source_port: Option<i32>,
    destination_port: Option<i32>,
    service: String,
    activity: Option<String>,
    payload: Option<String>,
    usernames: Json<Vec<String>>,
    passwords: Json<Vec<String>>,
    hostname: Option<String>,
    username: Option<String>,
    process: Option<String>,
    file_path: Option<String>,
    action: Option<String>,
    decoy_name: Option<String>,
    decoy_type: Option<String>,
    score: f64,
    attack_type: String,
    reasons: Json<Value>,
    scorer: String,
    alert_id: Option<Uuid>,
}

impl EventRow {
    pub(super) fn into_event(self) -> StoreResult<Event> {
        let port = |port: Option<i32>| port.and_then(|port| u16::try_from(port).ok());
        let detail = match self.kind.parse::<EventKind>().map_err(invalid)? {
            EventKind::Honeypot => EventDetail::Honeypot {
                service: self.service,
                source_port: port(self.source_port),
                destination_port: port(self.destination_port),
                activity: self.activity.unwrap_or_default(),
                payload: self.payload.unwrap_or_default(),
                usernames: self.usernames.0,
                passwords: self.passwords.0,
            },
            EventKind::Agent => EventDetail::Agent {
                hostname: self.hostname.unwrap_or_default(),
                username: self.username,
                process: self.process,
                file_path: self.file_path,
                action: self.action.unwrap_or_default(),
            },
            EventKind::Decoy => EventDetail::Decoy {
                name: self.decoy_name.unwrap_or_default(),
                decoy_type: self.decoy_type.unwrap_or_default(),
                hostname: self.hostname,
                username: self.username,
                file_path: self.file_path,
                action: self.action,
            },
        };
        let reasons = serde_json::from_value(self.reasons.0).map_err(invalid)?;
        Ok(Event {
            id: EventId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            node_id: self.node_id.map(NodeId::from_uuid),
            received_at: self.received_at,
            event: NewEvent {
                occurred_at: self.occurred_at,
                source_ip: self.source_ip.as_deref().map(parse_ip).transpose()?,
                detail,
            },
            score: Score { score: self.score, attack_type: self.attack_type, reasons },
            scorer: self.scorer,
            alert_id: self.alert_id.map(AlertId::from_uuid),
        })
    }
}

pub(super) const ALERT_COLUMNS: &str = "id, org_id, source_ip, attack_type, status, events, max_score, node_id, first_seen, \
     last_seen, created_at, updated_at, status_by, status_note";

#[derive(sqlx::FromRow)]
pub(super) struct AlertRow {
    id: Uuid,
    org_id: Uuid,
    source_ip: Option<String>,
    attack_type: String,
    status: String,
    events: i64,
    max_score: f64,
    node_id: Option<Uuid>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    status_by: Option<Uuid>,
    status_note: String,
}

impl AlertRow {
    pub(super) fn into_alert(self) -> StoreResult<Alert> {
        Ok(Alert {
            id: AlertId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            source_ip: self.source_ip.as_deref().map(parse_ip).transpose()?,
            attack_type: self.attack_type,
            status: self.status.parse().map_err(invalid)?,
            events: count(self.events),
            max_score: self.max_score,
            node_id: self.node_id.map(NodeId::from_uuid),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status_by: self.status_by.map(UserId::from_uuid),
            status_note: self.status_note,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AttackerRow {
    source_ip: String,
    events: i64,
    alerts: i64,
    score_sum: f64,
    max_score: f64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

impl AttackerRow {
    pub(super) fn into_attacker(self) -> StoreResult<Attacker> {
        let events = count(self.events);
        let average = if events == 0 { 0.0 } else { self.score_sum / events as f64 };
        Ok(Attacker {
            source_ip: parse_ip(&self.source_ip)?,
            events,
            alerts: count(self.alerts),
            avg_score: (average * 100.0).round() / 100.0,
            max_score: self.max_score,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        })
    }
}
