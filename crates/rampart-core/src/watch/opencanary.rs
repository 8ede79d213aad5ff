//! OpenCanary's events, as its webhook logger sends them, read into honeypot events.
//!
//! OpenCanary's `WebhookHandler` posts each log line in one of these shapes:
//! - by default, a form (`application/x-www-form-urlencoded`) with the line as `message`;
//! - with a JSON content type in its `headers`, `{"message": "<the line>"}`;
//! - with its `data` option, whatever the admin wrote, `%(message)s` replaced by the line: the
//!   event itself (`"%(message)s"` sent raw), the line inside a JSON string, or the line in a
//!   field of the admin's own (`{"title": …, "data": {"alert": "%(message)s"}}`, found as the
//!   first string holding a `logtype`, as JSON or as a form).
//!
//! The line is the event as JSON, after whatever a configured formatter puts before it. An event
//! names its `logtype` (a code of OpenCanary's `LoggerBase`), the visitor (`src_host`,
//! `src_port`), the port visited (`dst_port`, `-1` or text in some modules) and `logdata`, what
//! the module saw: kept as the payload (bounded), with the credentials tried (`USERNAME`,
//! `PASSWORD`…) kept as the event's. An event without a visitor (OpenCanary's own boot and
//! status messages) is acknowledged and not stored. A pure function over the bytes: no I/O, and
//! no tree of the body is built (the event is read into a struct, its `logdata` kept as text).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::events::{CREDENTIALS_MAX, EventInput, EventKind, NAME_MAX, PAYLOAD_MAX};
use super::loose;
use crate::json::{self, JsonError};
use crate::validation::ValidationErrors;

/// How the webhook's body is written, from its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookEncoding {
    /// A form with the event's line as `message` (OpenCanary's default).
    Form,
    /// JSON: the event, `{"message": …}`, or the line as a JSON string.
    Json,
}

/// What a webhook body holds.
#[derive(Clone, Debug)]
pub enum Webhook {
    /// An event to ingest.
    Event(Box<EventInput>),
    /// An event without a visitor (OpenCanary's boot, status and error messages): taken and
    /// answered, but there is nothing to score or profile.
    WithoutSource { logtype: i64 },
}

/// Why a webhook body is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookError {
    /// Not JSON (or not a form); the message names no position.
    Malformed(String),
    /// Readable, but no event of the right shape: each bad field named.
    Invalid(ValidationErrors),
}

/// OpenCanary's `LOG_BASE_MSG`, the code of an event that names none.
const BASE_MSG: i64 = 1001;

/// The service and activity an OpenCanary `logtype` stands for (its `LoggerBase` constants).
/// Unknown codes are still events: of service `opencanary`, their activity naming the code.
pub fn describe(logtype: i64) -> (&'static str, String) {
    let known = |service: &'static str, activity: &str| (service, activity.to_owned());
    match logtype {
        1000 => known("opencanary", "boot"),
        1001 => known("opencanary", "message"),
        1002 => known("opencanary", "debug"),
        1003 => known("opencanary", "error"),
        1004 => known("opencanary", "ping"),
        1005 => known("opencanary", "config_save"),
        1006 => known("opencanary", "example"),
        2000 => known("ftp", "login_attempt"),
        2001 => known("ftp", "auth_attempt_initiated"),
        3000 => known("http", "get"),
        3001 => known("http", "login_attempt"),
        3002 => known("http", "unimplemented_method"),
        3003 => known("http", "redirect"),
        4000 => known("ssh", "new_connection"),
        4001 => known("ssh", "remote_version_sent"),
        4002 => known("ssh", "login_attempt"),
        5000 => known("smb", "file_open"),
        5001 => known("portscan", "syn_scan"),
        5002 => known("portscan", "nmap_os_scan"),
        5003 => known("portscan", "nmap_null_scan"),
        5004 => known("portscan", "nmap_xmas_scan"),
        5005 => known("portscan", "nmap_fin_scan"),
        6001 => known("telnet", "login_attempt"),
        6002 => known("telnet", "connection_made"),
        7001 => known("httpproxy", "login_attempt"),
        8001 => known("mysql", "login_attempt"),
        9001 => known("mssql", "login_attempt"),
        9002 => known("mssql", "windows_login_attempt"),
        9003 => known("mysql", "connection_made"),
        10001 => known("tftp", "request"),
        11001 => known("ntp", "monlist"),
        12001 => known("vnc", "login_attempt"),
        13001 => known("snmp", "command"),
        14001 => known("rdp", "login_attempt"),
        15001 => known("sip", "request"),
        16001 => known("git", "clone_request"),
        17001 => known("redis", "command"),
        18001 => known("tcpbanner", "connection_made"),
        18002 => known("tcpbanner", "keep_alive_connection_made"),
        18003 => known("tcpbanner", "keep_alive_secret_received"),
        18004 => known("tcpbanner", "keep_alive_data_received"),
        18005 => known("tcpbanner", "data_received"),
        19001 => known("llmnr", "query_response"),
        20001 => known("mongodb", "event"),
        99000..=99999 => ("opencanary", format!("user_{}", logtype - 99000)),
        other => ("opencanary", format!("logtype_{other}")),
    }
}

/// An event as OpenCanary writes it (`LoggerBase.sanitizeLog` fills every field); the other
/// fields (`dst_host`, `node_id`, `local_time_adjusted`) are skipped.
#[derive(Deserialize)]
struct CanaryEvent {
    #[serde(default, deserialize_with = "logtype")]
    logtype: Option<i64>,
    #[serde(default, deserialize_with = "loose::text")]
    src_host: Option<String>,
    #[serde(default, deserialize_with = "loose::port")]
    src_port: Option<u16>,
    #[serde(default, deserialize_with = "loose::port")]
    dst_port: Option<u16>,
    logdata: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "loose::text")]
    utc_time: Option<String>,
    #[serde(default, deserialize_with = "loose::text")]
    local_time: Option<String>,
}

/// A `logtype` as a number, or a number written as text.
fn logtype<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match loose::text(deserializer)? {
        None => Ok(None),
        Some(text) => text.trim().parse::<i64>().map(Some).map_err(|_| serde::de::Error::custom("must be a number")),
    }
}

/// The credentials a module's `logdata` may carry, by the names the modules use.
#[derive(Default, Deserialize)]
struct Credentials {
    #[serde(rename = "USERNAME", default, deserialize_with = "loose::text")]
    username: Option<String>,
    /// SMB's file-open audit names the share's user so.
    #[serde(rename = "USER", default, deserialize_with = "loose::text")]
    user: Option<String>,
    /// MongoDB's module writes its fields in lowercase.
    #[serde(rename = "username", default, deserialize_with = "loose::text")]
    username_lower: Option<String>,
    #[serde(rename = "PASSWORD", default, deserialize_with = "loose::text")]
    password: Option<String>,
    #[serde(rename = "password", default, deserialize_with = "loose::text")]
    password_lower: Option<String>,
    /// VNC's module writes the password it recovered, or a placeholder when it could not.
    #[serde(rename = "VNC Password", default, deserialize_with = "loose::text")]
    vnc_password: Option<String>,
}

/// What VNC's module writes when the password was not one it knows.
const VNC_UNKNOWN: &str = "<Password was not in the common list>";

/// The top of a JSON body: an event, or a wrapper with the event's line as `message`.
#[derive(Deserialize)]
struct Wrapper {
    message: Option<Box<RawValue>>,
    logtype: Option<IgnoredAny>,
    logdata: Option<IgnoredAny>,
    src_host: Option<IgnoredAny>,
}

/// Reads a webhook body into the event it carries.
pub fn read_webhook(encoding: WebhookEncoding, body: &[u8]) -> Result<Webhook, WebhookError> {
    match encoding {
        WebhookEncoding::Form => match form_field(body, "message").or_else(|| form_line(body)) {
            Some(line) => read_line(&line),
            None => Err(invalid("message", "is required: OpenCanary sends its event as the form's `message`")),
        },
        WebhookEncoding::Json => match first_byte(body) {
            Some(b'{') => read_object(body),
            Some(b'"') => {
                let line = serde_json::from_slice::<String>(body).map_err(|error| malformed(&error))?;
                read_line(&line)
            }
            Some(_) => Err(invalid("body", "must be OpenCanary's event, or an object with the event as `message`")),
            None => Err(invalid("body", "holds no event")),
        },
    }
}

fn invalid(field: &str, message: &str) -> WebhookError {
    WebhookError::Invalid(ValidationErrors::single(field, message))
}

fn malformed(error: &serde_json::Error) -> WebhookError {
    WebhookError::Malformed(format!("malformed JSON: {}", json::without_position(error)))
}

fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
}

/// A JSON object: the event itself, or a wrapper whose `message` is the event's line (or the
/// event as an object).
fn read_object(body: &[u8]) -> Result<Webhook, WebhookError> {
    let wrapper = match json::from_slice::<Wrapper>(body) {
        Ok(wrapper) => wrapper,
        Err(JsonError::Malformed(message)) => {
            return Err(WebhookError::Malformed(format!("malformed JSON: {message}")));
        }
        // A field of the wrong shape is the event's own: its reading names it.
        Err(JsonError::Invalid(_)) => return read_event(body),
    };
    let is_event = wrapper.logtype.is_some() || wrapper.logdata.is_some() || wrapper.src_host.is_some();
    match wrapper.message {
        Some(message) if !is_event => {
            let text = message.get();
            match first_byte(text.as_bytes()) {
                Some(b'"') => {
                    let line = serde_json::from_str::<String>(text).map_err(|error| malformed(&error))?;
                    read_line(&line)
                }
                Some(b'{') => read_event(text.as_bytes()).map_err(within_message),
                _ => Err(invalid("message", "must be OpenCanary's event as JSON text")),
            }
        }
        Some(_) => read_event(body),
        None if is_event => read_event(body),
        // The admin's own `data`, with the line somewhere inside (`{"data": {"alert": "%(message)s"}}`).
        None => match nested_line(body) {
            Some(line) => read_line(&line),
            None => Err(invalid("body", "holds no OpenCanary event: no `logtype`, and no `message`")),
        },
    }
}

/// Whether `text` may be an event's line: OpenCanary writes a `logtype` in every event.
fn is_line(text: &str) -> bool {
    text.contains('{') && text.contains("\"logtype\"")
}

/// The first field of a form that holds an event's line (a `data` of the admin's own, sent as a form).
fn form_line(body: &[u8]) -> Option<String> {
    body.split(|byte| *byte == b'&').find_map(|pair| {
        let value = pair.iter().position(|byte| *byte == b'=').map(|at| &pair[at + 1..])?;
        let text = String::from_utf8_lossy(&percent_decode(value)).into_owned();
        is_line(&text).then_some(text)
    })
}

/// The first string anywhere in a JSON document that holds an event's line, read as the document
/// is walked: nothing else of it is kept (serde_json bounds the depth).
fn nested_line(body: &[u8]) -> Option<String> {
    struct Find;

    impl<'de> Visitor<'de> for Find {
        type Value = Option<String>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("any JSON value")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(is_line(text).then(|| text.to_owned()))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some((_, value)) = map.next_entry_seed(PhantomData::<IgnoredAny>, Find)? {
                found = found.or(value);
            }
            Ok(found)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(value) = seq.next_element_seed(Find)? {
                found = found.or(value);
            }
            Ok(found)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    impl<'de> DeserializeSeed<'de> for Find {
        type Value = Option<String>;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Find.deserialize(&mut deserializer).ok().flatten()
}

/// The event's line, after whatever a formatter wrote before it.
fn read_line(line: &str) -> Result<Webhook, WebhookError> {
    let Some(start) = line.find('{') else {
        return Err(invalid("message", "holds no OpenCanary event"));
    };
    read_event(line[start..].trim_end().as_bytes()).map_err(within_message)
}

/// An event read from a `message`: text that is not an event is a bad field, not a bad body.
fn within_message(error: WebhookError) -> WebhookError {
    match error {
        WebhookError::Malformed(message) => invalid(
            "message",
            &format!("is not an OpenCanary event: {}", message.trim_start_matches("malformed JSON: ")),
        ),
        invalid => invalid,
    }
}

/// One event, already found: its fields checked, its `logdata` kept.
fn read_event(text: &[u8]) -> Result<Webhook, WebhookError> {
    let event = json::from_slice::<CanaryEvent>(text).map_err(|error| match error {
        JsonError::Malformed(message) => WebhookError::Malformed(format!("malformed JSON: {message}")),
        JsonError::Invalid(errors) => WebhookError::Invalid(errors),
    })?;
    let logtype = event.logtype.unwrap_or(BASE_MSG);
    let source = event.src_host.as_deref().map(str::trim).filter(|host| !host.is_empty()).map(str::to_owned);
    let Some(source) = source else {
        return Ok(Webhook::WithoutSource { logtype });
    };
    let (service, activity) = describe(logtype);
    let (payload, credentials) = match &event.logdata {
        None => (String::new(), Credentials::default()),
        Some(raw) => {
            let text = raw.get();
            match first_byte(text.as_bytes()) {
                Some(b'{') => {
                    let credentials =
                        json::from_slice::<Credentials>(text.as_bytes()).map_err(|error| match error {
                            JsonError::Invalid(errors) => WebhookError::Invalid(prefixed("logdata", errors)),
                            JsonError::Malformed(message) => WebhookError::Malformed(message),
                        })?;
                    (loose::bounded(text, PAYLOAD_MAX), credentials)
                }
                Some(b'"') => {
                    let line = serde_json::from_str::<String>(text).map_err(|error| malformed(&error))?;
                    (loose::bounded(&line, PAYLOAD_MAX), Credentials::default())
                }
                _ => (loose::bounded(text, PAYLOAD_MAX), Credentials::default()),
            }
        }
    };
    let name = |value: Option<String>| {
        value.filter(|value| !value.is_empty()).map(|value| loose::bounded_chars(&value, NAME_MAX))
    };
    let usernames: Vec<String> =
        [credentials.username, credentials.user, credentials.username_lower].into_iter().filter_map(name).collect();
    let vnc = credentials.vnc_password.filter(|password| password != VNC_UNKNOWN);
    let passwords: Vec<String> =
        [credentials.password, credentials.password_lower, vnc].into_iter().filter_map(name).collect();
    let timestamp = match event.utc_time.or(event.local_time) {
        None => None,
        Some(time) => Some(
            canary_time(&time)
                .ok_or_else(|| invalid("utc_time", "must be a time such as 2026-11-24 20:00:00.000000 (UTC)"))?,
        ),
    };
    Ok(Webhook::Event(Box::new(EventInput {
        kind: Some(EventKind::Honeypot.as_str().to_owned()),
        timestamp,
        source_ip: Some(source),
        source_port: event.src_port,
        destination_port: event.dst_port,
        service: Some(service.to_owned()),
        activity: Some(activity),
        payload: Some(payload),
        usernames: usernames.into_iter().take(CREDENTIALS_MAX).collect(),
        passwords: passwords.into_iter().take(CREDENTIALS_MAX).collect(),
        ..EventInput::default()
    })))
}

fn prefixed(prefix: &str, errors: ValidationErrors) -> ValidationErrors {
    let mut all = ValidationErrors::new();
    for error in errors {
        all.add(format!("{prefix}.{}", error.field), error.message);
    }
    all
}

/// OpenCanary's time (`2026-11-24 20:00:00.123456`, UTC, no offset) as RFC 3339; an RFC 3339
/// time is taken as it is.
fn canary_time(text: &str) -> Option<String> {
    let text = text.trim();
    if super::events::parse_timestamp(text).is_ok() {
        return Some(text.to_owned());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// The first value of `name` in a form body, decoded (`+` is a space, `%XX` a byte); bytes that
/// are not UTF-8 become U+FFFD.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    body.split(|byte| *byte == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        (percent_decode(key) == name.as_bytes()).then(|| String::from_utf8_lossy(&percent_decode(value)).into_owned())
    })
}

fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |byte: u8| char::from(byte).to_digit(16).and_then(|digit| u8::try_from(digit).ok());
    let mut decoded = Vec::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        match text[index] {
            b'+' => decoded.push(b' '),
            b'%' => match (text.get(index + 1).copied().and_then(hex), text.get(index + 2).copied().and_then(hex)) {
                (Some(high), Some(low)) => {
                    decoded.push(high * 16 + low);
                    index += 2;
                }
                _ => decoded.push(b'%'),
            },
            byte => decoded.push(byte),
        }
        index += 1;
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSH_LOGIN: &str = r#"{"dst_host": "10.0.0.5", "dst_port": 22, "local_time": "2026-11-24 20:00:00.123456", "local_time_adjusted": "2026-11-24 21:00:00.123456", "logdata": {"LOCALVERSION": "SSH-2.0-OpenSSH_5.1p1 Debian-4", "PASSWORD": "123456", "REMOTEVERSION": "SSH-2.0-libssh2_1.4.3", "USERNAME": "root"}, "logtype": 4002, "node_id": "opencanary-1", "src_host": "203.0.113.7", "src_port": 51234, "utc_time": "2026-11-24 20:00:00.123456"}"#;

    fn event(webhook: Result<Webhook, WebhookError>) -> EventInput {
        match webhook {
            Ok(Webhook::Event(input)) => *input,
            other => panic!("not an event: {other:?}"),
        }
    }

    fn fields(error: WebhookError) -> Vec<String> {
        match error {
            WebhookError::Invalid(errors) => errors.iter().map(|error| error.field.clone()).collect(),
            WebhookError::Malformed(message) => vec![format!("malformed: {message}")],
        }
    }

    #[test]
    fn an_ssh_login_is_read_with_its_credentials_in_every_wrapping() {
        let form = format!("message={}", SSH_LOGIN.replace('%', "%25").replace(' ', "+").replace('&', "%26"));
        let wrapped = serde_json::json!({ "message": SSH_LOGIN }).to_string();
        let as_object = format!(r#"{{"message": {SSH_LOGIN}}}"#);
        let as_string = serde_json::to_string(SSH_LOGIN).expect("a string");
        let formatted = serde_json::json!({ "message": format!("opencanary[123]: {SSH_LOGIN}") }).to_string();
        let bodies = [
            (WebhookEncoding::Json, SSH_LOGIN.to_owned()),
            (WebhookEncoding::Form, form),
            (WebhookEncoding::Json, wrapped),
            (WebhookEncoding::Json, as_object),
            (WebhookEncoding::Json, as_string),
            (WebhookEncoding::Json, formatted),
        ];
        for (encoding, body) in bodies {
            let input = event(read_webhook(encoding, body.as_bytes()));
            assert_eq!(input.service.as_deref(), Some("ssh"), "{body}");
            assert_eq!(input.activity.as_deref(), Some("login_attempt"));
            assert_eq!(input.source_ip.as_deref(), Some("203.0.113.7"));
            assert_eq!((input.source_port, input.destination_port), (Some(51234), Some(22)));
            assert_eq!(
                (&input.usernames[..], &input.passwords[..]),
                (&["root".to_owned()][..], &["123456".to_owned()][..])
            );
            assert_eq!(input.timestamp.as_deref(), Some("2026-11-24T20:00:00.123456Z"));
            assert!(input.payload.as_deref().is_some_and(|payload| payload.contains("libssh2")));
            let parsed =
                input.parse(None, chrono::DateTime::parse_from_rfc3339("2026-11-24T20:01:00Z").expect("time").into());
            assert!(parsed.is_ok(), "{parsed:?}");
        }
    }

    #[test]
    fn a_line_placed_by_the_admins_own_data_mapping_is_found() {
        // OpenCanary's documented example of a nested `data`, as JSON and as a form.
        let nested = serde_json::json!({"title": "OpenCanary Alert", "data": {"alert": SSH_LOGIN}}).to_string();
        assert_eq!(event(read_webhook(WebhookEncoding::Json, nested.as_bytes())).usernames, ["root"]);
        let listed =
            serde_json::json!({"attachments": [{"n": 1}, {"text": format!("alert: {SSH_LOGIN}")}]}).to_string();
        assert_eq!(event(read_webhook(WebhookEncoding::Json, listed.as_bytes())).passwords, ["123456"]);
        let form = format!("title=OpenCanary+Alert&alert={}", SSH_LOGIN.replace(' ', "+").replace('&', "%26"));
        assert_eq!(event(read_webhook(WebhookEncoding::Form, form.as_bytes())).usernames, ["root"]);
        let nothing = br#"{"title": "OpenCanary Alert", "data": {"alert": "no event"}}"#;
        assert_eq!(fields(read_webhook(WebhookEncoding::Json, nothing).expect_err("no event")), ["body"]);
    }

    #[test]
    fn the_field_variants_of_the_modules_are_read() {
        // Port scans write their ports as text; SMB writes `USER` and a text port of -1.
        let scan = r#"{"src_host": "198.51.100.2", "src_port": "40000", "dst_host": "10.0.0.5", "dst_port": "23", "logtype": 5004, "logdata": {"FIN": "", "URG": "", "PSH": "", "ID": "1"}}"#;
        let input = event(read_webhook(WebhookEncoding::Json, scan.as_bytes()));
        assert_eq!((input.service.as_deref(), input.activity.as_deref()), (Some("portscan"), Some("nmap_xmas_scan")));
        assert_eq!((input.source_port, input.destination_port), (Some(40000), Some(23)));
        let smb = r#"{"src_host": "198.51.100.3", "src_port": "-1", "dst_port": 445, "logtype": 5000, "logdata": {"USER": "bob", "FILENAME": "secret.docx"}}"#;
        let input = event(read_webhook(WebhookEncoding::Json, smb.as_bytes()));
        assert_eq!((input.source_port, input.usernames), (None, vec!["bob".to_owned()]));
        // VNC's placeholder is no password; RDP's missing username is `null`.
        let vnc = r#"{"src_host": "198.51.100.4", "logtype": 12001, "logdata": {"VNC Password": "<Password was not in the common list>"}}"#;
        assert!(event(read_webhook(WebhookEncoding::Json, vnc.as_bytes())).passwords.is_empty());
        let rdp = r#"{"src_host": "198.51.100.5", "logtype": "14001", "logdata": {"USERNAME": null}}"#;
        let input = event(read_webhook(WebhookEncoding::Json, rdp.as_bytes()));
        assert_eq!((input.service.as_deref(), input.usernames.len()), (Some("rdp"), 0));
        // SSH's dispatched messages carry text as their logdata; MongoDB writes lowercase names.
        let text = r#"{"src_host": "198.51.100.6", "logtype": 1001, "logdata": "session opened\u0000"}"#;
        assert_eq!(
            event(read_webhook(WebhookEncoding::Json, text.as_bytes())).payload.as_deref(),
            Some("session opened\u{fffd}")
        );
        let mongo = r#"{"src_host": "198.51.100.7", "logtype": 20001, "logdata": {"action": "mongodb.auth_attempt", "username": "admin", "mechanism": "SCRAM-SHA-1"}}"#;
        assert_eq!(event(read_webhook(WebhookEncoding::Json, mongo.as_bytes())).usernames, ["admin"]);
        let user = r#"{"src_host": "198.51.100.8", "logtype": 99003}"#;
        assert_eq!(event(read_webhook(WebhookEncoding::Json, user.as_bytes())).activity.as_deref(), Some("user_3"));
        let unknown = r#"{"src_host": "198.51.100.9", "logtype": 424242}"#;
        let input = event(read_webhook(WebhookEncoding::Json, unknown.as_bytes()));
        assert_eq!((input.service.as_deref(), input.activity.as_deref()), (Some("opencanary"), Some("logtype_424242")));
    }

    #[test]
    fn an_event_without_a_visitor_is_acknowledged_not_ingested() {
        let boot = r#"{"dst_host": "", "dst_port": -1, "logdata": {"msg": "Canary running!!!"}, "logtype": 1001, "src_host": "", "src_port": -1}"#;
        assert!(matches!(
            read_webhook(WebhookEncoding::Json, boot.as_bytes()),
            Ok(Webhook::WithoutSource { logtype: 1001 })
        ));
    }

    #[test]
    fn broken_and_hostile_bodies_are_refused_by_field_without_panicking() {
        assert!(matches!(read_webhook(WebhookEncoding::Json, b"{\"src_host\": "), Err(WebhookError::Malformed(_))));
        assert_eq!(fields(read_webhook(WebhookEncoding::Json, b"  ").expect_err("empty")), ["body"]);
        assert_eq!(fields(read_webhook(WebhookEncoding::Json, b"[1]").expect_err("array")), ["body"]);
        assert_eq!(fields(read_webhook(WebhookEncoding::Form, b"text=1").expect_err("no message")), ["message"]);
        assert_eq!(fields(read_webhook(WebhookEncoding::Form, b"message=%7Bbroken").expect_err("bad")), ["message"]);
        assert_eq!(
            fields(read_webhook(WebhookEncoding::Json, br#"{"message": "no event here"}"#).expect_err("bad")),
            ["message"]
        );
        assert_eq!(fields(read_webhook(WebhookEncoding::Json, br#"{"message": 5}"#).expect_err("bad")), ["message"]);
        let port = br#"{"src_host": "203.0.113.7", "dst_port": 70000}"#;
        assert_eq!(fields(read_webhook(WebhookEncoding::Json, port).expect_err("port")), ["dst_port"]);
        let user = br#"{"src_host": "203.0.113.7", "logdata": {"USERNAME": ["a"]}}"#;
        assert_eq!(fields(read_webhook(WebhookEncoding::Json, user).expect_err("user")), ["logdata.USERNAME"]);
        let time = br#"{"src_host": "203.0.113.7", "utc_time": "yesterday"}"#;
        assert_eq!(fields(read_webhook(WebhookEncoding::Json, time).expect_err("time")), ["utc_time"]);
        let deep = format!("{}{}", "{\"message\":".repeat(200), "}".repeat(200));
        assert!(read_webhook(WebhookEncoding::Json, deep.as_bytes()).is_err());
        let long = format!(
            r#"{{"src_host": "203.0.113.7", "logdata": {{"PATH": "{}", "USERNAME": "{}"}}}}"#,
            "a".repeat(100_000),
            "u".repeat(1000)
        );
        let input = event(read_webhook(WebhookEncoding::Json, long.as_bytes()));
        assert!(input.payload.as_deref().is_some_and(|payload| payload.len() <= PAYLOAD_MAX));
        assert_eq!(input.usernames[0].chars().count(), NAME_MAX);
        for body in [&b"%"[..], b"message=%", b"message=%4", b"message=%zz{", b"&&=&message"] {
            let _ = read_webhook(WebhookEncoding::Form, body);
        }
    }

    #[test]
    fn forms_are_decoded() {
        assert_eq!(form_field(b"a=1&message=%7B%22x%22%3A+1%7D", "message").as_deref(), Some("{\"x\": 1}"));
        assert_eq!(form_field(b"message=%ZZ%4", "message").as_deref(), Some("%ZZ%4"));
        assert_eq!(form_field(b"message", "message").as_deref(), Some(""));
        assert_eq!(form_field(b"other=1", "message"), None);
    }
}
