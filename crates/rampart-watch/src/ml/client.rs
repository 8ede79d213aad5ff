//! The model's client: every call passes the circuit breaker, has a time limit, and goes out
//! through the outbound gate; what it cannot use is a fallback, counted by reason.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rampart_core::watch::{NewEvent, Score};
use rampart_scope::{Gate, GateError, HttpClient, HttpOptions};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Request, Url};
use tokio::time::Instant;

use super::breaker::{Breaker, Change, Circuit};
use super::config::ModelConfig;
use super::wire::{ANSWER_MAX, Answer, Features};

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
    client: HttpClient,
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
    /// The model of `config`, reached through `outbound` (the server's outbound gate).
    pub fn new(config: &ModelConfig, outbound: Gate) -> Result<Self, String> {
        let url = config.parse()?;
        let host = url.host_str().unwrap_or_default().to_owned();
        // The model is a service of the operator's: events go out through the outbound gate (a
        // loopback or private address only when `outbound.allow` names it), never through a
        // proxy, and a redirect is not followed (it is a bad status), so event data reaches only
        // the configured host.
        let options = HttpOptions { redirects: 0, connect_timeout: config.timeout, ..HttpOptions::default() };
        let client = HttpClient::new(outbound, &options).map_err(
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
        let mut request = Request::new(Method::POST, self.url.clone());
        request.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *request.body_mut() = Some(serde_json::to_vec(&features).map_err(|_| Fallback::Garbage)?.into());
        let mut response = self.client.send(request).await.map_err(gate_fallback)?;
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

/// A refusal of the outbound gate leaves the model unreachable (the refusal is audited).
fn gate_fallback(error: GateError) -> Fallback {
    match error {
        GateError::Http(error) => transport_fallback(error),
        GateError::Timeout(_) => Fallback::Timeout,
        _ => Fallback::Unreachable,
    }
}

fn transport_fallback(error: reqwest::Error) -> Fallback {
    if error.is_timeout() { Fallback::Timeout } else { Fallback::Unreachable }
}
