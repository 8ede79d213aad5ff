//! Events: what a sensor saw. A honeypot reports a connection and what the visitor did, an
//! agent reports activity on its host, and either may report that a decoy (a honeytoken file,
//! a fake credential) was touched. Every limit is checked here, each by field name.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::scoring::Score;
use crate::validation::ValidationErrors;
use crate::words::words;
use crate::{AlertId, EventId, NodeId, OrgId};

/// The most bytes of payload kept per event.
pub const PAYLOAD_MAX: usize = 10 * 1024;
pub const SERVICE_MAX: usize = 50;
pub const ACTIVITY_MAX: usize = 100;
pub const HOSTNAME_MAX: usize = 255;
/// Usernames, processes, actions, decoy names.
pub const NAME_MAX: usize = 255;
pub const PATH_MAX: usize = 4096;
/// Credentials tried, per event.
pub const CREDENTIALS_MAX: usize = 100;
/// How far ahead of the server's clock a sensor's clock may run.
pub const FUTURE_SKEW: chrono::Duration = chrono::Duration::minutes(5);
/// How old an event may be: a year; older times are a broken clock.
pub const PAST_LIMIT: chrono::Duration = chrono::Duration::days(365);

words!(
    /// Which kind of sensor observation an event is.
    EventKind { Honeypot => "honeypot", Agent => "agent", Decoy => "decoy" }
);

/// An event as a sensor sends it: every field optional here, the rules apply in [`EventInput::parse`].
/// Unknown fields are ignored, so sensors that send more keep working.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EventInput {
    pub kind: Option<String>,
    /// RFC 3339; a time without an offset is read as UTC. The time of receipt when absent.
    pub timestamp: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<u16>,
    pub destination_port: Option<u16>,
    pub service: Option<String>,
    pub activity: Option<String>,
    pub payload: Option<String>,
    /// At most one more than [`CREDENTIALS_MAX`] is kept (so that the check names the excess);
    /// the rest is skipped as it is read, so a body of a million names never becomes a million strings.
    #[serde(default, deserialize_with = "bounded_names")]
    pub usernames: Vec<String>,
    #[serde(default, deserialize_with = "bounded_names")]
    pub passwords: Vec<String>,
    pub hostname: Option<String>,
    pub username: Option<String>,
    pub process: Option<String>,
    pub file_path: Option<String>,
    pub action: Option<String>,
    pub decoy_name: Option<String>,
    pub decoy_type: Option<String>,
}

/// Reads a list of strings, keeping the first `CREDENTIALS_MAX + 1` and skipping the rest.
fn bounded_names<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct Bounded;

    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Vec<String>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a sequence")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut names = Vec::new();
            while names.len() <= CREDENTIALS_MAX {
                match seq.next_element::<String>()? {
                    Some(name) => names.push(name),
                    None => return Ok(names),
                }
            }
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(names)
        }
    }

    deserializer.deserialize_seq(Bounded)
}

/// A valid event, ready to be scored and stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub occurred_at: DateTime<Utc>,
    /// Who did it, when the sensor knows (always for honeypots).
    pub source_ip: Option<IpAddr>,
    pub detail: EventDetail,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventDetail {
    Honeypot {
        service: String,
        source_port: Option<u16>,
        destination_port: Option<u16>,
        activity: String,
        payload: String,
        usernames: Vec<String>,
        passwords: Vec<String>,
    },
    Agent {
        hostname: String,
        username: Option<String>,
        process: Option<String>,
        file_path: Option<String>,
        action: String,
    },
    Decoy {
        name: String,
        decoy_type: String,
        hostname: Option<String>,
        username: Option<String>,
        file_path: Option<String>,
        action: Option<String>,
    },
}

impl NewEvent {
    pub fn kind(&self) -> EventKind {
        match self.detail {
            EventDetail::Honeypot { .. } => EventKind::Honeypot,
            EventDetail::Agent { .. } => EventKind::Agent,
            EventDetail::Decoy { .. } => EventKind::Decoy,
        }
    }

    /// The service a profile counts: a honeypot's service, or the kind of sensor observation.
    pub fn service(&self) -> &str {
        match &self.detail {
            EventDetail::Honeypot { service, .. } => service,
            EventDetail::Agent { .. } => "agent",
            EventDetail::Decoy { .. } => "decoy",
        }
    }

    /// The usernames tried or used.
    pub fn usernames(&self) -> Vec<&str> {
        match &self.detail {
            EventDetail::Honeypot { usernames, .. } => usernames.iter().map(String::as_str).collect(),
            EventDetail::Agent { username, .. } | EventDetail::Decoy { username, .. } => {
                username.as_deref().into_iter().collect()
            }
        }
    }
}

/// A stored event with its score.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub org_id: OrgId,
    /// `None` once its node was deleted.
    pub node_id: Option<NodeId>,
    pub received_at: DateTime<Utc>,
    pub event: NewEvent,
    pub score: Score,
    /// `builtin` or `model`.
    pub scorer: String,
    pub alert_id: Option<AlertId>,
}

/// Reads a sensor's time: RFC 3339, or an ISO 8601 time without an offset (UTC).
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|time| time.and_utc()))
        .map_err(|_| "must be an RFC 3339 time such as 2026-11-24T10:00:00Z".to_owned())
}

/// Checks a text field: present (when `required`), at most `max` characters, and no control
/// characters other than tabs and line breaks (which payloads and paths may carry).
fn text(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<String>,
    max: usize,
    required: bool,
) -> Option<String> {
    match value {
        None if required => {
            errors.add(field, "is required");
            None
        }
        None => None,
        Some(value) if value.chars().count() > max => {
            errors.add(field, format!("must be at most {max} characters"));
            None
        }
        Some(value) if required && value.trim().is_empty() => {
            errors.add(field, "must not be empty");
            None
        }
        Some(value) if value.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) => {
            errors.add(field, "must not contain control characters");
            None
        }
        Some(value) => Some(value),
    }
}

fn names(errors: &mut ValidationErrors, field: &str, values: Vec<String>) -> Vec<String> {
    if values.len() > CREDENTIALS_MAX {
        errors.add(field, format!("must list at most {CREDENTIALS_MAX}"));
        return Vec::new();
    }
    let mut kept = Vec::with_capacity(values.len());
    for (index, value) in values.into_iter().enumerate() {
        if let Some(value) = text(errors, &format!("{field}[{index}]"), Some(value), NAME_MAX, false) {
            kept.push(value);
        }
    }
    kept
}

impl EventInput {
    /// Applies every rule; `default_kind` is the kind of an event that names none (the
    /// sensor's own kind), `now` the time of receipt.
    pub fn parse(self, default_kind: Option<EventKind>, now: DateTime<Utc>) -> Result<NewEvent, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = match self.kind.as_deref() {
            Some(kind) => errors.check("kind", kind.parse::<EventKind>()),
            None => {
                if default_kind.is_none() {
                    errors.add("kind", "is required: honeypot, agent or decoy");
                }
                default_kind
            }
        };
        let occurred_at = match self.timestamp.as_deref() {
            None => Some(now),
            Some(text) => match errors.check("timestamp", parse_timestamp(text)) {
                Some(time) if time > now + FUTURE_SKEW => {
                    errors.add("timestamp", "is in the future: check the sensor's clock");
                    None
                }
                Some(time) if time < now - PAST_LIMIT => {
                    errors.add("timestamp", "is more than a year old: check the sensor's clock");
                    None
                }
                time => time,
            },
        };
        let source_ip = match self.source_ip.as_deref() {
            None | Some("") => None,
            Some(text) => errors
                .check("source_ip", text.trim().parse::<IpAddr>().map_err(|_| "must be an IPv4 or IPv6 address".into()))
                .map(|ip| match ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                    v4 => v4,
                }),
        };
        let payload = self.payload.filter(|payload| {
            let fits = payload.len() <= PAYLOAD_MAX;
            if !fits {
                errors.add("payload", format!("must be at most {PAYLOAD_MAX} bytes"));
            }
            fits
        });

        let detail = match kind {
            Some(EventKind::Honeypot) => {
                if source_ip.is_none() && !errors.iter().any(|error| error.field == "source_ip") {
                    errors.add("source_ip", "is required for a honeypot event");
                }
                let service = text(&mut errors, "service", self.service, SERVICE_MAX, true);
                let activity = text(&mut errors, "activity", self.activity, ACTIVITY_MAX, false);
                let payload = text(&mut errors, "payload", payload, PAYLOAD_MAX, false);
                let usernames = names(&mut errors, "usernames", self.usernames);
                let passwords = names(&mut errors, "passwords", self.passwords);
                service.map(|service| EventDetail::Honeypot {
                    service: service.trim().to_ascii_lowercase(),
                    source_port: self.source_port,
                    destination_port: self.destination_port,
                    activity: activity.unwrap_or_default(),
                    payload: payload.unwrap_or_default(),
                    usernames,
                    passwords,
                })
            }
            Some(EventKind::Agent) => {
                let hostname = text(&mut errors, "hostname", self.hostname, HOSTNAME_MAX, true);
                let username = text(&mut errors, "username", self.username, NAME_MAX, false);
                let process = text(&mut errors, "process", self.process, NAME_MAX, false);
                let file_path = text(&mut errors, "file_path", self.file_path, PATH_MAX, false);
                let action = text(&mut errors, "action", self.action, ACTIVITY_MAX, true);
                match (hostname, action) {
                    (Some(hostname), Some(action)) => {
                        Some(EventDetail::Agent { hostname, username, process, file_path, action })
                    }
                    _ => None,
                }
            }
            Some(EventKind::Decoy) => {
                let name = text(&mut errors, "decoy_name", self.decoy_name, NAME_MAX, true);
                let decoy_type = text(&mut errors, "decoy_type", self.decoy_type, SERVICE_MAX, false);
                let hostname = text(&mut errors, "hostname", self.hostname, HOSTNAME_MAX, false);
                let username = text(&mut errors, "username", self.username, NAME_MAX, false);
                let file_path = text(&mut errors, "file_path", self.file_path, PATH_MAX, false);
                let action = text(&mut errors, "action", self.action, ACTIVITY_MAX, false);
                name.map(|name| EventDetail::Decoy {
                    name,
                    decoy_type: decoy_type.unwrap_or_else(|| "file".to_owned()),
                    hostname,
                    username,
                    file_path,
                    action,
                })
            }
            None => None,
        };
        match (detail, occurred_at) {
            (Some(detail), Some(occurred_at)) if errors.is_empty() => Ok(NewEvent { occurred_at, source_ip, detail }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_credentials_is_read_only_one_past_its_limit() {
        let names = vec![""; 100_000];
        let text = serde_json::json!({"kind": "honeypot", "usernames": names, "passwords": ["a", "b"]}).to_string();
        let input: EventInput = serde_json::from_str(&text).expect("an event");
        assert_eq!((input.usernames.len(), input.passwords.len()), (CREDENTIALS_MAX + 1, 2));
        let errors = input.parse(None, Utc::now()).expect_err("too many usernames");
        assert!(errors.iter().any(|error| error.field == "usernames"), "{errors}");
        let wrong = serde_json::from_str::<EventInput>(r#"{"usernames": ["a", 5]}"#).expect_err("a number");
        assert!(wrong.to_string().contains("invalid type: integer"), "{wrong}");
    }

    fn honeypot() -> EventInput {
        EventInput {
            kind: Some("honeypot".into()),
            source_ip: Some("203.0.113.7".into()),
            service: Some("SSH".into()),
            activity: Some("login_attempt".into()),
            usernames: vec!["root".into()],
            passwords: vec!["123456".into()],
            ..EventInput::default()
        }
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_honeypot_event_is_read_and_normalised() {
        let now = crate::time::now();
        let event = honeypot().parse(None, now).expect("valid");
        assert_eq!(event.occurred_at, now);
        assert_eq!(event.source_ip, Some("203.0.113.7".parse().expect("ip")));
        assert_eq!(event.service(), "ssh");
        assert_eq!(event.usernames(), ["root"]);

        let mapped = EventInput { source_ip: Some("::ffff:198.51.100.1".into()), ..honeypot() };
        assert_eq!(mapped.parse(None, now).expect("valid").source_ip, Some("198.51.100.1".parse().expect("ip")));
    }

    #[test]
    fn every_limit_is_reported_by_field() {
        let now = crate::time::now();
        let input = EventInput {
            source_ip: Some("999.1.1.1".into()),
            service: Some("s".repeat(SERVICE_MAX + 1)),
            activity: Some("a".repeat(ACTIVITY_MAX + 1)),
            payload: Some("p".repeat(PAYLOAD_MAX + 1)),
            timestamp: Some((now + chrono::Duration::hours(1)).to_rfc3339()),
            usernames: vec!["ok".into(), "bad\u{0}".into()],
            ..honeypot()
        };
        let errors = input.parse(None, now).expect_err("invalid");
        assert_eq!(fields(&errors), ["timestamp", "source_ip", "payload", "service", "activity", "usernames[1]"]);

        let agent = EventInput { kind: Some("agent".into()), hostname: Some("h".repeat(256)), ..EventInput::default() };
        assert_eq!(fields(&agent.parse(None, now).expect_err("invalid")), ["hostname", "action"]);
        assert_eq!(fields(&EventInput::default().parse(None, now).expect_err("no kind")), ["kind"]);
        let unknown = EventInput { kind: Some("toaster".into()), ..EventInput::default() };
        assert_eq!(fields(&unknown.parse(None, now).expect_err("bad kind")), ["kind"]);
    }

    #[test]
    fn times_are_read_with_or_without_an_offset_and_checked_against_the_clock() {
        let now = parse_timestamp("2026-11-24T10:00:00Z").expect("time");
        assert_eq!(parse_timestamp("2026-11-24T11:00:00+01:00"), Ok(now));
        assert_eq!(parse_timestamp("2026-11-24T10:00:00"), Ok(now));
        assert_eq!(parse_timestamp("2026-11-24T10:00:00.000000"), Ok(now));
        assert!(parse_timestamp("yesterday").is_err());
        let old = EventInput { timestamp: Some("2020-01-01T00:00:00Z".into()), ..honeypot() };
        assert_eq!(fields(&old.parse(None, now).expect_err("too old")), ["timestamp"]);
        let soon = EventInput { timestamp: Some("2026-11-24T10:04:00Z".into()), ..honeypot() };
        assert!(soon.parse(None, now).is_ok(), "a few minutes of skew is tolerated");
    }

    #[test]
    fn the_sensor_kind_is_the_default_and_decoys_default_to_files() {
        let now = crate::time::now();
        let input = EventInput { decoy_name: Some("passwords.xlsx".into()), ..EventInput::default() };
        let event = input.parse(Some(EventKind::Decoy), now).expect("valid");
        assert_eq!(event.kind(), EventKind::Decoy);
        assert!(matches!(event.detail, EventDetail::Decoy { ref decoy_type, .. } if decoy_type == "file"));
    }
}
