//! Where the model is and how much patience it gets (`watch.model`), checked without ever
//! quoting the URL, which may carry credentials.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

/// Where the model is and how much patience it gets (`watch.model` in the configuration).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Where events are POSTed: an http or https URL.
    pub url: String,
    /// How long one call may take, from connecting to the last byte of the answer.
    #[serde(default = "ModelConfig::default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Consecutive failures that open the circuit: calls stop and events get the built-in score.
    #[serde(default = "ModelConfig::default_failures_to_open")]
    pub failures_to_open: u32,
    /// How long an open circuit stays open before one trial call is let through.
    #[serde(default = "ModelConfig::default_open_for", with = "humantime_serde")]
    pub open_for: Duration,
}

impl ModelConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
    pub const DEFAULT_FAILURES_TO_OPEN: u32 = 5;
    pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(30);

    fn default_timeout() -> Duration {
        Self::DEFAULT_TIMEOUT
    }

    fn default_failures_to_open() -> u32 {
        Self::DEFAULT_FAILURES_TO_OPEN
    }

    fn default_open_for() -> Duration {
        Self::DEFAULT_OPEN_FOR
    }

    /// The model at `url` with the default limits, checked.
    pub fn new(url: impl Into<String>) -> Result<Self, String> {
        let config = Self {
            url: url.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            failures_to_open: Self::DEFAULT_FAILURES_TO_OPEN,
            open_for: Self::DEFAULT_OPEN_FOR,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting and names each bad one.
    pub fn validate(&self) -> Result<(), String> {
        self.parse().map(|_| ())
    }

    /// The URL, parsed. The error never quotes the URL: it may carry credentials.
    pub(super) fn parse(&self) -> Result<Url, String> {
        let mut problems = Vec::new();
        let url = match Url::parse(self.url.trim()) {
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                problems.push("url: must use http or https");
                None
            }
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                problems.push("url: must name a host");
                None
            }
            Ok(url) => Some(url),
            Err(_) => {
                problems.push("url: must be an http or https URL such as https://model.internal/score");
                None
            }
        };
        if self.timeout.is_zero() {
            problems.push("timeout: must be more than zero, such as 3s");
        }
        if self.failures_to_open == 0 {
            problems.push("failures_to_open: must be at least 1");
        }
        if self.open_for.is_zero() {
            problems.push("open_for: must be more than zero, such as 30s");
        }
        match url {
            Some(url) if problems.is_empty() => Ok(url),
            _ => Err(problems.join("; ")),
        }
    }
}

/// Shows the URL's origin only: its path, query and user part may carry credentials.
impl fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match Url::parse(self.url.trim()) {
            Ok(url) => format!("{}/…", url.origin().ascii_serialization()),
            Err(_) => "(not a URL)".to_owned(),
        };
        f.debug_struct("ModelConfig")
            .field("url", &url)
            .field("timeout", &self.timeout)
            .field("failures_to_open", &self.failures_to_open)
            .field("open_for", &self.open_for)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_config_needs_only_a_url_and_defaults_the_rest() {
        let config: ModelConfig = serde_json::from_str(r#"{"url": "https://model.internal/score"}"#).expect("valid");
        assert_eq!(config, ModelConfig::new("https://model.internal/score").expect("valid"));
        assert_eq!((config.timeout, config.failures_to_open, config.open_for), (3 * SECOND, 5, 30 * SECOND));

        let config: ModelConfig =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:9/", "timeout": "200ms", "open_for": "1m"}"#)
                .expect("valid");
        assert_eq!((config.timeout, config.open_for), (Duration::from_millis(200), 60 * SECOND));

        let unknown = serde_json::from_str::<ModelConfig>(r#"{"url": "http://127.0.0.1:9/", "retries": 3}"#);
        assert!(unknown.expect_err("unknown field").to_string().contains("retries"));
    }

    #[test]
    fn only_http_and_https_urls_are_accepted_and_errors_never_quote_them() {
        assert!(ModelConfig::new("http://127.0.0.1:8000/score").is_ok());
        assert_eq!(ModelConfig::new("ftp://model.internal/").expect_err("ftp"), "url: must use http or https");
        let error = ModelConfig::new("not a url with hunter2").expect_err("not a URL");
        assert!(error.starts_with("url: must be an http or https URL"), "{error}");
        assert!(!error.contains("hunter2"));

        let every = ModelConfig {
            url: "file:///etc/passwd".into(),
            timeout: Duration::ZERO,
            failures_to_open: 0,
            open_for: Duration::ZERO,
        };
        let error = every.validate().expect_err("all bad");
        assert_eq!(error.matches("; ").count(), 3, "{error}");
    }

    #[test]
    fn debug_shows_the_origin_but_no_credentials() {
        let config = ModelConfig::new("https://scorer:hunter2@model.internal:8443/v1/score?key=s3cret").expect("valid");
        let shown = format!("{config:?}");
        assert!(shown.contains("https://model.internal:8443"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cret") && !shown.contains("scorer"), "{shown}");
    }
}
