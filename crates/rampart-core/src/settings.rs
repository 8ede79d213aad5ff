//! Organisation settings: small named values (thresholds, windows, toggles) that an organisation
//! may override. Keys are validated here so the store never holds a key no code can read.

pub const KEY_MAX: usize = 64;

/// A setting name: lowercase dotted words such as `alerts.threshold`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SettingKey(String);

impl SettingKey {
    pub fn parse(value: &str) -> Result<Self, String> {
        let word_ok = |word: &str| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if value.is_empty() || value.len() > KEY_MAX {
            Err(format!("must be 1 to {KEY_MAX} characters"))
        } else if !value.split('.').all(word_ok) {
            Err("must be dot-separated lowercase words such as `alerts.threshold`".into())
        } else {
            Ok(Self(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_dotted_lowercase_words() {
        assert!(SettingKey::parse("alerts.threshold").is_ok());
        assert!(SettingKey::parse("scan.max_concurrency2").is_ok());
        for bad in ["", "Alerts", "a..b", ".a", "a.", "1a", "a-b", &"a".repeat(65)] {
            assert!(SettingKey::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
