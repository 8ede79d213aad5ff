//! The external model scorer: an HTTP endpoint, named in the configuration, that scores events in
//! place of the built-in scorer. Every call has a time limit and passes a circuit breaker; when the
//! model cannot give a usable score the caller keeps the built-in one, so no event is lost or held
//! up for long. Fallbacks are counted by reason for the metrics.
//!
//! It must never log an event's payload, nor the endpoint's URL (it may carry credentials), and it
//! never sends the passwords an attacker tried: only how many.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rampart_core::watch::{EventDetail, NewEvent, Reason, Score};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The most bytes of an event's payload sent to the model.
pub const PAYLOAD_SENT_MAX: usize = 2 * 1024;
/// The largest answer read from the model; a longer one is garbage.
pub const ANSWER_MAX: usize = 64 * 1024;
/// The longest attack type the model may name, in characters.
pub const ATTACK_TYPE_MAX: usize = 50;
/// The most reasons the model may give, and the longest each may be, in characters.
pub const REASONS_MAX: usize = 20;
pub const REASON_MAX: usize = 200;

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
    fn parse(&self) -> Result<Url, String> {
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

/// Why the built-in score stands: the model gave none that can be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Fallback {
    /// The circuit is open: no request was sent.
    #[error("the model's circuit is open")]
    CircuitOpen,
    #[error("the model did not answer in time")]
    Timeout,
    /// No connection could be made, or it broke.
    #[error("the model could not be reached")]
    Unreachable,
    #[error("the model answered with HTTP status {0}")]
    BadStatus(u16),
    /// The answer was too long, not JSON, or had no score from 0 to 10.
    #[error("the model's answer held no usable score")]
    Garbage,
}

impl Fallback {
    /// Every metric label, in the order [`ModelScorer::fallbacks`] lists them.
    pub const LABELS: [&'static str; 5] = ["circuit_open", "timeout", "unreachable", "bad_status", "garbage"];

    /// The metric label: the status of a `BadStatus` is left out to keep the label set small.
    pub fn as_str(self) -> &'static str {
        Self::LABELS[self.index()]
    }

    fn index(self) -> usize {
        match self {
            Fallback::CircuitOpen => 0,
            Fallback::Timeout => 1,
            Fallback::Unreachable => 2,
            Fallback::BadStatus(_) => 3,
            Fallback::Garbage => 4,
        }
    }
}

/// Scores events with the external model. Clones share one connection pool, circuit and counts.
#[derive(Clone)]
pub struct ModelScorer {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    url: Url,
    /// The only part of the URL that is ever shown.
    host: String,
    timeout: Duration,
    breaker: Breaker,
    scored: AtomicU64,
    fallbacks: [AtomicU64; Fallback::LABELS.len()],
}

impl fmt::Debug for ModelScorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelScorer").field("host", &self.inner.host).finish_non_exhaustive()
    }
}

impl ModelScorer {
    pub fn new(config: &ModelConfig) -> Result<Self, String> {
        let url = config.parse()?;
        let host = url.host_str().unwrap_or_default().to_owned();
        // The model is a service of the operator's: events go to it directly, never through a
        // proxy from the environment, and a redirect is not followed (it is a bad status), so
        // event data reaches only the configured host.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout)
            .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(
                |_| "the HTTP client for the model could not be set up (is the system's TLS trust store readable?)",
            )?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                url,
                host,
                timeout: config.timeout,
                breaker: Breaker::new(config.failures_to_open, config.open_for),
                scored: AtomicU64::new(0),
                fallbacks: Default::default(),
            }),
        })
    }

    /// The model's score of `event`, whose built-in score is `builtin`; on a fallback the caller
    /// keeps `builtin`. Takes at most the configured time limit.
    pub async fn score(&self, event: &NewEvent, builtin: &Score) -> Result<Score, Fallback> {
        let inner = &*self.inner;
        let outcome = match inner.breaker.admit(Instant::now()) {
            None => Err(Fallback::CircuitOpen),
            Some(permit) => {
                let outcome = match tokio::time::timeout(inner.timeout, inner.ask(event, builtin)).await {
                    Ok(outcome) => outcome,
                    Err(_elapsed) => Err(Fallback::Timeout),
                };
                let change = match outcome {
                    Ok(_) => permit.succeeded(),
                    Err(_) => permit.failed(Instant::now()),
                };
                match change {
                    Some(Change::Opened) => tracing::warn!(
                        model = %inner.host,
                        open_for = ?inner.breaker.open_for,
                        "the model's circuit opened: events get the built-in score until a trial call succeeds"
                    ),
                    Some(Change::Closed) => {
                        tracing::info!(model = %inner.host, "the model's circuit closed: the model scores events again");
                    }
                    None => {}
                }
                outcome
            }
        };
        match &outcome {
            Ok(_) => inner.scored.fetch_add(1, Ordering::Relaxed),
            Err(fallback) => {
                tracing::debug!(model = %inner.host, reason = fallback.as_str(), "the built-in score stands");
                inner.fallbacks[fallback.index()].fetch_add(1, Ordering::Relaxed)
            }
        };
        outcome
    }

    /// Events the model scored.
    pub fn scored(&self) -> u64 {
        self.inner.scored.load(Ordering::Relaxed)
    }

    /// Fallbacks by reason, every label listed (zeros too), as [`Fallback::LABELS`] orders them.
    pub fn fallbacks(&self) -> Vec<(&'static str, u64)> {
        Fallback::LABELS
            .iter()
            .zip(&self.inner.fallbacks)
            .map(|(label, count)| (*label, count.load(Ordering::Relaxed)))
            .collect()
    }

    /// Whether calls are held back now (open, or a trial call under way).
    pub fn circuit_is_open(&self) -> bool {
        !matches!(*self.inner.breaker.lock(), Circuit::Closed { .. })
    }
}

impl Inner {
    async fn ask(&self, event: &NewEvent, builtin: &Score) -> Result<Score, Fallback> {
        let features = Features::of(event, builtin);
        let mut response =
            self.client.post(self.url.clone()).json(&features).send().await.map_err(transport_fallback)?;
        let status = response.status();
        if !status.is_success() {
            return Err(Fallback::BadStatus(status.as_u16()));
        }
        if response.content_length().is_some_and(|length| length > ANSWER_MAX as u64) {
            return Err(Fallback::Garbage);
        }
        // Read in chunks under the cap: a body without a length (or lying about it) is never
        // held in full.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_fallback)? {
            if body.len() + chunk.len() > ANSWER_MAX {
                return Err(Fallback::Garbage);
            }
            body.extend_from_slice(&chunk);
        }
        // An object, read as a map first: serde would otherwise take `[5]` for `{"risk_score": 5}`.
        let answer = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
            .and_then(|fields| serde_json::from_value::<Answer>(serde_json::Value::Object(fields)))
            .map_err(|_| Fallback::Garbage)?;
        answer.into_score(builtin, &self.host).ok_or(Fallback::Garbage)
    }
}

fn transport_fallback(error: reqwest::Error) -> Fallback {
    if error.is_timeout() { Fallback::Timeout } else { Fallback::Unreachable }
}

/// What the model is told about an event. Passwords are counted, never sent.
#[derive(Debug, Serialize)]
struct Features<'a> {
    kind: &'static str,
    service: &'a str,
    source_ip: Option<IpAddr>,
    destination_port: Option<u16>,
    activity: Option<&'a str>,
    /// The first [`PAYLOAD_SENT_MAX`] bytes, cut at a character boundary.
    payload: Option<&'a str>,
    payload_truncated: bool,
    usernames_tried: usize,
    passwords_tried: usize,
    hostname: Option<&'a str>,
    username: Option<&'a str>,
    process: Option<&'a str>,
    file_path: Option<&'a str>,
    action: Option<&'a str>,
    decoy_name: Option<&'a str>,
    decoy_type: Option<&'a str>,
    builtin_score: f64,
    builtin_attack_type: &'a str,
}

impl<'a> Features<'a> {
    fn of(event: &'a NewEvent, builtin: &'a Score) -> Self {
        let mut features = Features {
            kind: event.kind().as_str(),
            service: event.service(),
            source_ip: event.source_ip,
            destination_port: None,
            activity: None,
            payload: None,
            payload_truncated: false,
            usernames_tried: 0,
            passwords_tried: 0,
            hostname: None,
            username: None,
            process: None,
            file_path: None,
            action: None,
            decoy_name: None,
            decoy_type: None,
            builtin_score: builtin.score,
            builtin_attack_type: &builtin.attack_type,
        };
        match &event.detail {
            EventDetail::Honeypot { destination_port, activity, payload, usernames, passwords, .. } => {
                let sent = truncate(payload, PAYLOAD_SENT_MAX);
                features.destination_port = *destination_port;
                features.activity = Some(activity);
                features.payload = Some(sent);
                features.payload_truncated = sent.len() < payload.len();
                features.usernames_tried = usernames.len();
                features.passwords_tried = passwords.len();
            }
            EventDetail::Agent { hostname, username, process, file_path, action } => {
                features.hostname = Some(hostname);
                features.username = username.as_deref();
                features.process = process.as_deref();
                features.file_path = file_path.as_deref();
                features.action = Some(action);
            }
            EventDetail::Decoy { name, decoy_type, hostname, username, file_path, action } => {
                features.decoy_name = Some(name);
                features.decoy_type = Some(decoy_type);
                features.hostname = hostname.as_deref();
                features.username = username.as_deref();
                features.file_path = file_path.as_deref();
                features.action = action.as_deref();
            }
        }
        features
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The model's answer: lenient on names, strict on values. Other fields are ignored.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default, alias = "score", alias = "riskScore")]
    risk_score: Option<f64>,
    #[serde(default, alias = "attackType")]
    attack_type: Option<String>,
    #[serde(default)]
    reasons: Option<Vec<String>>,
}

/// Text fit to show an analyst: not blank, short enough, no control characters.
fn showable(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

impl Answer {
    fn into_score(self, builtin: &Score, host: &str) -> Option<Score> {
        // The range check also refuses NaN.
        let score = self.risk_score.filter(|score| (0.0..=rampart_core::watch::scoring::MAX_SCORE).contains(score))?;
        let attack_type = match self.attack_type {
            None => builtin.attack_type.clone(),
            Some(attack_type) if showable(&attack_type, ATTACK_TYPE_MAX) => attack_type.trim().to_owned(),
            Some(_) => return None,
        };
        let given = self.reasons.unwrap_or_default();
        if given.len() > REASONS_MAX || !given.iter().all(|reason| showable(reason, REASON_MAX)) {
            return None;
        }
        let mut reasons = Vec::with_capacity(given.len() + 1);
        reasons.push(Reason { rule: "model".to_owned(), points: score, detail: format!("scored by {host}") });
        reasons.extend(given.into_iter().map(|detail| Reason { rule: "model".to_owned(), points: 0.0, detail }));
        let mut scored = Score::new(score, attack_type, reasons);
        // The model's points are the score, rounded as the score is.
        scored.reasons[0].points = scored.score;
        Some(scored)
    }
}

/// The circuit breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Circuit {
    /// Calls go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// No call goes through until `until`; then one trial call does.
    Open { until: Instant },
    /// A trial call is under way; others wait for its outcome.
    HalfOpen,
}

/// A change worth a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Opened,
    Closed,
}

struct Breaker {
    circuit: Mutex<Circuit>,
    failures_to_open: u32,
    open_for: Duration,
}

/// Leave to make one call. A trial's permit dropped unsettled (its call was cancelled) leaves
/// the circuit open but due, so the next call is the trial and the circuit is never stuck.
struct Permit<'a> {
    breaker: &'a Breaker,
    trial: bool,
    admitted_at: Instant,
    settled: bool,
}

impl Breaker {
    fn new(failures_to_open: u32, open_for: Duration) -> Self {
        Self { circuit: Mutex::new(Circuit::Closed { failures: 0 }), failures_to_open, open_for }
    }

    fn lock(&self) -> MutexGuard<'_, Circuit> {
        // The state is one small value, always written whole: a panic elsewhere cannot leave it torn.
        self.circuit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A permit to call, or none while the circuit is open.
    fn admit(&self, now: Instant) -> Option<Permit<'_>> {
        let mut circuit = self.lock();
        let trial = match *circuit {
            Circuit::Closed { .. } => false,
            Circuit::Open { until } if now >= until => {
                *circuit = Circuit::HalfOpen;
                true
            }
            Circuit::Open { .. } | Circuit::HalfOpen => return None,
        };
        Some(Permit { breaker: self, trial, admitted_at: now, settled: false })
    }
}

impl Permit<'_> {
    fn succeeded(mut self) -> Option<Change> {
        self.settled = true;
        let mut circuit = self.breaker.lock();
        match (*circuit, self.trial) {
            (Circuit::HalfOpen, true) => {
                *circuit = Circuit::Closed { failures: 0 };
                Some(Change::Closed)
            }
            (Circuit::Closed { .. }, false) => {
                *circuit = Circuit::Closed { failures: 0 };
                None
            }
            // A call admitted before the circuit opened says nothing about the model now.
            _ => None,
        }
    }

    fn failed(mut self, now: Instant) -> Option<Change> {
        self.settled = true;
        let breaker = self.breaker;
        let mut circuit = breaker.lock();
        match (*circuit, self.trial) {
            (Circuit::HalfOpen, true) => {
                *circuit = Circuit::Open { until: now + breaker.open_for };
                Some(Change::Opened)
            }
            (Circuit::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= breaker.failures_to_open {
                    *circuit = Circuit::Open { until: now + breaker.open_for };
                    Some(Change::Opened)
                } else {
                    *circuit = Circuit::Closed { failures };
                    None
                }
            }
            _ => None,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.trial && !self.settled {
            let mut circuit = self.breaker.lock();
            if *circuit == Circuit::HalfOpen {
                *circuit = Circuit::Open { until: self.admitted_at };
            }
        }
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

    #[test]
    fn payloads_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("abc", 5), "abc");
    }

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_resets_the_count() {
        let breaker = Breaker::new(3, 30 * SECOND);
        let now = Instant::now();
        for _ in 0..2 {
            assert_eq!(breaker.admit(now).expect("closed").failed(now), None);
        }
        assert_eq!(breaker.admit(now).expect("closed").succeeded(), None);
        for _ in 0..2 {
            assert_eq!(breaker.admit(now).expect("closed").failed(now), None);
        }
        assert_eq!(breaker.admit(now).expect("closed").failed(now), Some(Change::Opened));
        assert!(breaker.admit(now).is_none());
        assert!(breaker.admit(now + 29 * SECOND).is_none());
    }

    #[test]
    fn once_due_a_single_trial_is_let_through_and_its_outcome_decides() {
        let breaker = Breaker::new(1, 30 * SECOND);
        let start = Instant::now();
        assert_eq!(breaker.admit(start).expect("closed").failed(start), Some(Change::Opened));

        let due = start + 30 * SECOND;
        let trial = breaker.admit(due).expect("due");
        assert!(breaker.admit(due).is_none(), "one trial at a time");
        assert_eq!(trial.failed(due), Some(Change::Opened));
        assert!(breaker.admit(due + 29 * SECOND).is_none(), "a failed trial opens the circuit for another period");

        let due = due + 30 * SECOND;
        assert_eq!(breaker.admit(due).expect("due").succeeded(), Some(Change::Closed));
        assert!(breaker.admit(due).is_some());
    }

    #[test]
    fn a_cancelled_trial_lets_the_next_call_try() {
        let breaker = Breaker::new(1, 30 * SECOND);
        let start = Instant::now();
        breaker.admit(start).expect("closed").failed(start);
        let due = start + 30 * SECOND;
        drop(breaker.admit(due).expect("due"));
        assert!(breaker.admit(due).expect("the next call is the trial").trial);
    }

    #[test]
    fn calls_admitted_before_the_circuit_opened_do_not_move_it() {
        let breaker = Breaker::new(1, 30 * SECOND);
        let now = Instant::now();
        let early = breaker.admit(now).expect("closed");
        let late = breaker.admit(now).expect("closed");
        assert_eq!(early.failed(now), Some(Change::Opened));
        assert_eq!(late.succeeded(), None);
        assert!(breaker.admit(now).is_none(), "still open");
    }
}
