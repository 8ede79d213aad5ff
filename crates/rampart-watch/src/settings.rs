//! An organisation's alert rules — threshold and grouping window — read from its settings and
//! kept for a few seconds, so ingestion does not read them for every request; and the list of
//! those settings, with their defaults, that an organisation may change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rampart_core::OrgId;
use rampart_core::settings::SettingKey;
use rampart_core::watch::{DEFAULT_THRESHOLD, DEFAULT_WINDOW};
use rampart_store::{Store, StoreError, StoredSetting};
use serde_json::Value;

/// The score (0–10) from which an event raises an alert.
pub const THRESHOLD_KEY: &str = "alerts.threshold";
/// How long after its last event an alert takes repeats, in seconds (60 to 604,800).
pub const WINDOW_KEY: &str = "alerts.window_seconds";
/// How long a read is trusted; a change made on another server applies within it.
const FRESH: Duration = Duration::from_secs(5);

/// A setting of alerts an organisation may change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertSettingInfo {
    pub key: &'static str,
    pub description: &'static str,
}

/// Every setting of alerts, by key.
pub const ALERT_SETTINGS: [AlertSettingInfo; 2] = [
    AlertSettingInfo { key: THRESHOLD_KEY, description: "The score (0 to 10) from which an event raises an alert." },
    AlertSettingInfo {
        key: WINDOW_KEY,
        description: "How long after its last event an alert takes repeats, in seconds (60 to 604800).",
    },
];

/// A setting of alerts as an organisation has it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSetting {
    pub info: AlertSettingInfo,
    pub default: Value,
    /// What applies: the stored value, or the default when none is stored (or the stored one is
    /// no longer valid).
    pub value: Value,
    /// The stored value, when the organisation set one.
    pub stored: Option<StoredSetting>,
}

impl AlertSetting {
    pub(crate) fn of(info: AlertSettingInfo, stored: Option<StoredSetting>) -> Self {
        let default = AlertRules::default().value_of(info.key);
        let value = match &stored {
            Some(setting) if AlertRules::check(info.key, &setting.value).is_ok() => setting.value.clone(),
            _ => default.clone(),
        };
        Self { info, default, value, stored }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertRules {
    pub threshold: f64,
    pub window: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self { threshold: DEFAULT_THRESHOLD, window: DEFAULT_WINDOW }
    }
}

impl AlertRules {
    /// Checks a setting's value; answers why it is refused.
    pub fn check(key: &str, value: &Value) -> Result<(), String> {
        match key {
            THRESHOLD_KEY => match value.as_f64() {
                Some(threshold) if (0.0..=10.0).contains(&threshold) => Ok(()),
                _ => Err("must be a number from 0 to 10".into()),
            },
            WINDOW_KEY => match value.as_u64() {
                Some(60..=604_800) => Ok(()),
                _ => Err("must be a whole number of seconds from 60 to 604800".into()),
            },
            _ => Err("is not a setting of alerts".into()),
        }
    }

    /// The value of `key` under these rules, as it would be stored.
    fn value_of(&self, key: &str) -> Value {
        match key {
            THRESHOLD_KEY => Value::from(self.threshold),
            WINDOW_KEY => Value::from(self.window.as_secs()),
            _ => Value::Null,
        }
    }

    fn apply(&mut self, key: &str, value: &Value) {
        if Self::check(key, value).is_err() {
            return;
        }
        match key {
            THRESHOLD_KEY => self.threshold = value.as_f64().unwrap_or(DEFAULT_THRESHOLD),
            WINDOW_KEY => self.window = value.as_u64().map_or(DEFAULT_WINDOW, Duration::from_secs),
            _ => {}
        }
    }
}

pub(crate) struct SettingsCache {
    store: Arc<dyn Store>,
    read: Mutex<HashMap<OrgId, (Instant, AlertRules)>>,
}

impl SettingsCache {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store, read: Mutex::new(HashMap::new()) }
    }

    pub(crate) async fn alert_rules(&self, org: OrgId) -> Result<AlertRules, StoreError> {
        let cached = self.read.lock().unwrap_or_else(PoisonError::into_inner).get(&org).copied();
        if let Some((_, rules)) = cached.filter(|(at, _)| at.elapsed() < FRESH) {
            return Ok(rules);
        }
        let mut rules = AlertRules::default();
        for key in [THRESHOLD_KEY, WINDOW_KEY] {
            let key = SettingKey::parse(key).map_err(StoreError::Internal)?;
            if let Some(setting) = self.store.settings().find(org, &key).await? {
                rules.apply(key.as_str(), &setting.value);
            }
        }
        self.read.lock().unwrap_or_else(PoisonError::into_inner).insert(org, (Instant::now(), rules));
        Ok(rules)
    }

    pub(crate) fn forget(&self, org: OrgId) {
        self.read.lock().unwrap_or_else(PoisonError::into_inner).remove(&org);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked_and_bad_stored_values_are_ignored() {
        assert!(AlertRules::check(THRESHOLD_KEY, &json!(5.5)).is_ok());
        assert!(AlertRules::check(THRESHOLD_KEY, &json!(11)).is_err());
        assert!(AlertRules::check(THRESHOLD_KEY, &json!("7")).is_err());
        assert!(AlertRules::check(WINDOW_KEY, &json!(600)).is_ok());
        assert!(AlertRules::check(WINDOW_KEY, &json!(5)).is_err());
        let mut rules = AlertRules::default();
        rules.apply(THRESHOLD_KEY, &json!(42));
        rules.apply(WINDOW_KEY, &json!(120));
        assert_eq!(rules, AlertRules { threshold: DEFAULT_THRESHOLD, window: Duration::from_secs(120) });
    }

    #[test]
    fn a_setting_applies_its_stored_value_only_when_valid() {
        let stored = |value: Value| StoredSetting {
            key: SettingKey::parse(THRESHOLD_KEY).expect("valid"),
            value,
            created_at: rampart_core::time::now(),
            updated_at: rampart_core::time::now(),
        };
        let [threshold, window] = ALERT_SETTINGS;
        assert_eq!(AlertSetting::of(threshold, None).value, json!(7.0));
        assert_eq!(AlertSetting::of(window, None).value, json!(3600));
        assert_eq!(AlertSetting::of(threshold, Some(stored(json!(2)))).value, json!(2));
        let broken = AlertSetting::of(threshold, Some(stored(json!("high"))));
        assert_eq!((broken.value, broken.default), (json!(7.0), json!(7.0)));
    }
}
