//! An organisation's alert rules — threshold and grouping window — read from its settings and
//! kept for a few seconds, so ingestion does not read them for every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rampart_core::OrgId;
use rampart_core::settings::SettingKey;
use rampart_core::watch::{DEFAULT_THRESHOLD, DEFAULT_WINDOW};
use rampart_store::{Store, StoreError};
use serde_json::Value;

/// The score (0–10) from which an event raises an alert.
pub const THRESHOLD_KEY: &str = "alerts.threshold";
/// How long after its last event an alert takes repeats, in seconds (60 to 604,800).
pub const WINDOW_KEY: &str = "alerts.window_seconds";
/// How long a read is trusted; a change made on another server applies within it.
const FRESH: Duration = Duration::from_secs(5);

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
}
