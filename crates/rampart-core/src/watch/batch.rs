//! A sensor's body of events — one JSON event, a JSON array of events, or NDJSON (one event per
//! line) — read with bounded memory: the count is checked while the body is read (the
//! 1,001st event ends the reading), and each event is read straight from its own text into an
//! [`EventInput`], so no tree of the whole body is ever built. A pure function over the bytes, so
//! it can be fuzzed.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::events::EventInput;
use crate::json::{self, JsonError};
use crate::validation::ValidationErrors;

/// Most events in one request.
pub const BATCH_MAX: usize = 1000;

/// How a body of events is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchFormat {
    /// One JSON event, or a JSON array of events.
    Json,
    /// One JSON event per line; blank lines are skipped.
    Ndjson,
}

/// The events of a body, in order: each read into an input, or the errors its reading found.
#[derive(Clone, Debug)]
pub struct Batch {
    pub events: Vec<Result<EventInput, ValidationErrors>>,
    /// The body was one event, not an array or NDJSON: its errors are named without an index.
    pub single: bool,
}

/// Why a body of events is refused as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// Not JSON (or a line of NDJSON that is not); the message names no position.
    Malformed(String),
    /// More than [`BATCH_MAX`] events.
    TooMany,
    /// No event at all.
    Empty,
}

/// Reads the events of `body`, stopping at the first event past [`BATCH_MAX`].
pub fn read_batch(format: BatchFormat, body: &[u8]) -> Result<Batch, BatchError> {
    let batch = match format {
        BatchFormat::Ndjson => read_lines(body)?,
        BatchFormat::Json if first_byte(body) == Some(b'[') => read_array(body)?,
        BatchFormat::Json => {
            let raw = serde_json::from_slice::<&RawValue>(body).map_err(|error| malformed(&error))?;
            Batch { events: vec![event_of(raw)], single: true }
        }
    };
    if batch.events.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(batch)
}

/// The first byte that is not JSON whitespace.
fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
}

fn malformed(error: &serde_json::Error) -> BatchError {
    BatchError::Malformed(format!("malformed JSON: {}", json::without_position(error)))
}

/// One event from its own text, already known to be JSON.
fn event_of(raw: &RawValue) -> Result<EventInput, ValidationErrors> {
    json::from_slice::<EventInput>(raw.get().as_bytes()).map_err(|error| match error {
        JsonError::Invalid(errors) => errors,
        JsonError::Malformed(message) => ValidationErrors::single("body", message),
    })
}

fn read_lines(body: &[u8]) -> Result<Batch, BatchError> {
    let mut events = Vec::new();
    for (number, line) in body.split(|byte| *byte == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if events.len() == BATCH_MAX {
            return Err(BatchError::TooMany);
        }
        let raw = serde_json::from_slice::<&RawValue>(line)
            .map_err(|_| BatchError::Malformed(format!("line {} is not JSON", number + 1)))?;
        events.push(event_of(raw));
    }
    Ok(Batch { events, single: false })
}

fn read_array(body: &[u8]) -> Result<Batch, BatchError> {
    let too_many = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let events = Elements { too_many: &too_many }
        .deserialize(&mut deserializer)
        .map_err(|error| if too_many.get() { BatchError::TooMany } else { malformed(&error) })?;
    deserializer.end().map_err(|error| malformed(&error))?;
    Ok(Batch { events, single: false })
}

/// The elements of a JSON array, each read into an event as it is met; past [`BATCH_MAX`] the
/// reading stops with an error (and `too_many` set, to tell it from broken JSON).
struct Elements<'a> {
    too_many: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Elements<'_> {
    type Value = Vec<Result<EventInput, ValidationErrors>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = Vec<Result<EventInput, ValidationErrors>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = Vec::new();
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if events.len() == BATCH_MAX {
                self.too_many.set(true);
                return Err(de::Error::custom("more events than a batch may hold"));
            }
            events.push(event_of(raw));
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: &Result<EventInput, ValidationErrors>) -> Vec<&str> {
        result.as_ref().err().map(|errors| errors.iter().map(|e| e.field.as_str()).collect()).unwrap_or_default()
    }

    #[test]
    fn an_object_an_array_and_ndjson_are_read_event_by_event() {
        let single = read_batch(BatchFormat::Json, br#" {"kind": "honeypot", "source_port": 22}"#).expect("one event");
        assert!(single.single);
        assert_eq!(single.events[0].as_ref().ok().and_then(|event| event.source_port), Some(22));

        let array =
            read_batch(BatchFormat::Json, br#"[{"kind": "agent"}, {"source_port": "high"}, 5]"#).expect("three");
        assert!(!array.single);
        assert_eq!(array.events.len(), 3);
        assert!(array.events[0].is_ok());
        assert_eq!(fields(&array.events[1]), ["source_port"]);
        assert_eq!(fields(&array.events[2]), ["body"]);

        let lines =
            read_batch(BatchFormat::Ndjson, b"{\"kind\": \"agent\"}\n\n  \r\n{\"kind\": \"decoy\"}").expect("two");
        assert_eq!(lines.events.len(), 2);
        assert!(!lines.single);
    }

    #[test]
    fn broken_json_empty_bodies_and_too_many_events_are_refused_as_a_whole() {
        assert!(matches!(read_batch(BatchFormat::Json, b"[{}, {"), Err(BatchError::Malformed(_))));
        assert!(matches!(read_batch(BatchFormat::Json, b"[{}] {}"), Err(BatchError::Malformed(_))));
        assert!(matches!(read_batch(BatchFormat::Json, b""), Err(BatchError::Malformed(_))));
        assert_eq!(
            read_batch(BatchFormat::Ndjson, b"{}\n{]\n").expect_err("line 2"),
            BatchError::Malformed("line 2 is not JSON".into())
        );
        assert_eq!(read_batch(BatchFormat::Json, b" [ ] ").expect_err("empty"), BatchError::Empty);
        assert_eq!(read_batch(BatchFormat::Ndjson, b"\n \n").expect_err("empty"), BatchError::Empty);

        let full = format!("[{}{{}}]", "{},".repeat(BATCH_MAX - 1));
        assert_eq!(read_batch(BatchFormat::Json, full.as_bytes()).map(|batch| batch.events.len()), Ok(BATCH_MAX));
        // The reading stops at the 1,001st event: what follows it is never looked at.
        let over = format!("[{}{{}}, this is not JSON", "{},".repeat(BATCH_MAX));
        assert_eq!(read_batch(BatchFormat::Json, over.as_bytes()).expect_err("too many"), BatchError::TooMany);
        let lines = format!("{}not JSON\n", "{}\n".repeat(BATCH_MAX + 1));
        assert_eq!(read_batch(BatchFormat::Ndjson, lines.as_bytes()).expect_err("too many"), BatchError::TooMany);
    }
}
