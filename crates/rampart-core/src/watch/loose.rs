//! Fields of honeypots' own formats (OpenCanary, Cowrie), which write the same value in more
//! than one way: a port as a number or as text (`-1` or `""` for none), a name as text or as a
//! number. Each reader takes what the honeypots are known to write and refuses the rest with a
//! serde error, so the caller names the field. Text kept from them is bounded and cleaned here.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// A port written as a number or as text; `-1`, `""` and `null` mean "none".
pub fn port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    struct Port;

    impl Visitor<'_> for Port {
        type Value = Option<u16>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a port from 0 to 65535, or -1")
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            match value {
                -1 => Ok(None),
                value => u16::try_from(value).map(Some).map_err(|_| E::custom("must be a port from 0 to 65535")),
            }
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            u16::try_from(value).map(Some).map_err(|_| E::custom("must be a port from 0 to 65535"))
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            match value.trim() {
                "" => Ok(None),
                text => text
                    .parse::<i64>()
                    .map_err(|_| E::custom("must be a port from 0 to 65535"))
                    .and_then(|number| self.visit_i64(number)),
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(Port)
}

/// Text written as a string, a number or a boolean; `null` is none.
pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Text;

    impl Visitor<'_> for Text {
        type Value = Option<String>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("text")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Some(value.to_owned()))
        }

        fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
            Ok(Some(value))
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(Text)
}

/// Text kept from a honeypot, made fit for an event: control characters other than tabs and
/// line breaks become U+FFFD, and the text is cut (at a character boundary, with `…`) to at most
/// `max_bytes` bytes, so a long request line is kept in part rather than refused.
pub fn bounded(text: &str, max_bytes: usize) -> String {
    let clean = |c: char| if c.is_control() && !matches!(c, '\t' | '\n' | '\r') { '\u{fffd}' } else { c };
    let mut kept = String::with_capacity(text.len().min(max_bytes));
    for c in text.chars().map(clean) {
        if kept.len() + c.len_utf8() > max_bytes {
            let ellipsis = '…';
            while !kept.is_empty() && kept.len() + ellipsis.len_utf8() > max_bytes {
                kept.pop();
            }
            if kept.len() + ellipsis.len_utf8() <= max_bytes {
                kept.push(ellipsis);
            }
            break;
        }
        kept.push(c);
    }
    kept
}

/// Characters-bounded text for a name field (a username, a password): at most `max` characters.
pub fn bounded_chars(text: &str, max: usize) -> String {
    let clean = |c: char| if c.is_control() && !matches!(c, '\t' | '\n' | '\r') { '\u{fffd}' } else { c };
    text.chars().map(clean).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "port")]
        port: Option<u16>,
        #[serde(default, deserialize_with = "text")]
        name: Option<String>,
    }

    fn read(json: &str) -> Result<Sample, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn ports_and_names_are_read_however_the_honeypots_write_them() {
        assert_eq!(read(r#"{"port": 22}"#).expect("number").port, Some(22));
        assert_eq!(read(r#"{"port": "2222"}"#).expect("text").port, Some(2222));
        assert_eq!(read(r#"{"port": -1}"#).expect("none").port, None);
        assert_eq!(read(r#"{"port": "-1"}"#).expect("none").port, None);
        assert_eq!(read(r#"{"port": ""}"#).expect("none").port, None);
        assert_eq!(read(r#"{"port": null}"#).expect("none").port, None);
        for bad in
            [r#"{"port": 70000}"#, r#"{"port": "high"}"#, r#"{"port": -2}"#, r#"{"port": [1]}"#, r#"{"port": 1.5}"#]
        {
            assert!(read(bad).is_err(), "{bad}");
        }
        assert_eq!(read(r#"{"name": 5}"#).expect("number").name.as_deref(), Some("5"));
        assert_eq!(read(r#"{"name": null}"#).expect("null").name, None);
        assert!(read(r#"{"name": {"a": 1}}"#).is_err());
    }

    #[test]
    fn kept_text_is_cleaned_and_cut_at_a_character_boundary() {
        assert_eq!(bounded("a\u{0}b\tc", 100), "a\u{fffd}b\tc");
        let cut = bounded(&"é".repeat(100), 11);
        assert!(cut.len() <= 11 && cut.ends_with('…'), "{cut}");
        assert_eq!(bounded("short", 5), "short");
        assert_eq!((bounded("abcdef", 2), bounded("abcdef", 0)), (String::new(), String::new()));
        assert_eq!(bounded_chars("abcdef", 3), "abc");
    }
}
