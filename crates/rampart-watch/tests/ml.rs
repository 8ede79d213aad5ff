//! The external model scorer against model servers on 127.0.0.1: good answers, slow ones, a
//! closed port, errors, garbage, and the circuit breaker opening and closing again. Each server
//! counts the requests that reach it, so "no request was sent" is seen from the server's side.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Json, Router};
use rampart_core::watch::{EventInput, NewEvent, Reason, Score, ScoringRules, Signals};
use rampart_scope::{Gate, OutboundConfig, Refusal, RefusalSink, SystemResolver};
use rampart_watch::ml::{Fallback, ModelConfig, ModelScorer, PAYLOAD_SENT_MAX};
use rstest::rstest;
use serde_json::{Value, json};

/// A model server on 127.0.0.1 that counts the requests reaching it and keeps the last one.
struct Model {
    url: String,
    hits: Arc<AtomicUsize>,
    last: Arc<Mutex<Option<Value>>>,
}

impl Model {
    /// Answers each request with `answer(n)`, `n` counting requests from 1. The listener is bound
    /// before the server is spawned, so nothing waits for it to come up.
    async fn spawn<F, Fut>(answer: F) -> Model
    where
        F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let hits = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(Mutex::new(None));
        let handler = {
            let (hits, last) = (Arc::clone(&hits), Arc::clone(&last));
            move |Json(body): Json<Value>| {
                let hit = hits.fetch_add(1, Ordering::SeqCst) + 1;
                *last.lock().expect("no test thread panicked") = Some(body);
                answer(hit)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port on 127.0.0.1");
        let address = listener.local_addr().expect("bound");
        let app = Router::new().route("/score", post(handler));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Model { url: format!("http://{address}/score"), hits, last }
    }

    /// A model that always gives the same JSON answer.
    async fn answering(answer: Value) -> Model {
        Model::spawn(move |_| {
            let answer = answer.clone();
            async move { Json(answer).into_response() }
        })
        .await
    }

    /// A model that always answers with this body, sent as JSON.
    async fn saying(body: &'static str) -> Model {
        Model::spawn(move |_| async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }).await
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn last(&self) -> Value {
        self.last.lock().expect("no test thread panicked").clone().expect("a request reached the model")
    }
}

fn config(url: &str) -> ModelConfig {
    ModelConfig {
        url: url.to_owned(),
        // Generous: only the slow-model test wants a short limit, and the machine may be busy.
        timeout: Duration::from_secs(10),
        failures_to_open: 100,
        open_for: Duration::from_secs(60),
    }
}

/// Keeps the outbound gate's refusals.
#[derive(Default)]
struct Refusals(Mutex<Vec<Refusal>>);

#[async_trait::async_trait]
impl RefusalSink for Refusals {
    async fn refused(&self, refusal: &Refusal) {
        self.0.lock().expect("no test thread panicked").push(refusal.clone());
    }
}

/// The server's outbound gate with `outbound.allow` = `allow`.
fn outbound(allow: &[&str]) -> (Gate, Arc<Refusals>) {
    let config = OutboundConfig { allow: allow.iter().map(|net| (*net).to_owned()).collect() };
    let refusals = Arc::new(Refusals::default());
    (Gate::outbound(Arc::new(config.policy(Vec::new())), Arc::new(SystemResolver), refusals.clone()), refusals)
}

/// A scorer whose model, on 127.0.0.1, is explicitly allowed.
fn scorer(config: &ModelConfig) -> ModelScorer {
    ModelScorer::new(config, outbound(&["127.0.0.1/32"]).0).expect("a valid configuration")
}

fn honeypot(payload: &str) -> NewEvent {
    parsed(EventInput {
        kind: Some("honeypot".into()),
        source_ip: Some("203.0.113.7".into()),
        destination_port: Some(22),
        service: Some("ssh".into()),
        activity: Some("login_attempt".into()),
        payload: Some(payload.into()),
        usernames: vec!["root".into(), "admin".into()],
        passwords: vec!["hunter2".into(), "123456".into(), "letmein".into()],
        ..EventInput::default()
    })
}

fn parsed(input: EventInput) -> NewEvent {
    input.parse(None, rampart_core::time::now()).expect("a valid event")
}

fn builtin(event: &NewEvent) -> Score {
    ScoringRules::default().score(event, Signals { nodes_seen: 1, recent_events: 1 })
}

/// Scores `event`, failing the test if the scorer hangs: a liveness bound, not a speed claim.
async fn score(scorer: &ModelScorer, event: &NewEvent) -> Result<Score, Fallback> {
    let builtin = builtin(event);
    tokio::time::timeout(Duration::from_secs(60), scorer.score(event, &builtin))
        .await
        .expect("the scorer answers within its time limit")
}

/// Steps tokio's clock past `period` without waiting; no call is under way meanwhile.
async fn step_past(period: Duration) {
    tokio::time::pause();
    tokio::time::advance(period + Duration::from_millis(1)).await;
    tokio::time::resume();
}

fn reason(points: f64, detail: &str) -> Reason {
    Reason { rule: "model".into(), points, detail: detail.into() }
}

#[tokio::test]
async fn a_good_answer_is_the_score_with_the_models_reasons() {
    let model = Model::answering(json!({
        "risk_score": 7.25,
        "attack_type": "credential_attack",
        "reasons": ["password spraying", "known botnet range"],
        "model_version": "3.1",
    }))
    .await;
    let scorer = scorer(&config(&model.url));

    let score = score(&scorer, &honeypot("uname -a")).await.expect("scored by the model");

    assert_eq!((score.score, score.attack_type.as_str()), (7.3, "credential_attack"));
    assert_eq!(
        score.reasons,
        [reason(7.3, "scored by 127.0.0.1"), reason(0.0, "password spraying"), reason(0.0, "known botnet range")]
    );
    assert_eq!(scorer.scored(), 1);
    assert!(scorer.fallbacks().iter().all(|(_, count)| *count == 0));
}

#[tokio::test]
async fn the_model_is_sent_the_events_features_with_a_cut_payload_and_no_passwords() {
    let model = Model::answering(json!({ "risk_score": 5 })).await;
    let scorer = scorer(&config(&model.url));
    let event = honeypot(&"A".repeat(5000));
    let builtin = builtin(&event);

    score(&scorer, &event).await.expect("scored");

    let sent = model.last();
    assert_eq!(sent["kind"], "honeypot");
    assert_eq!(sent["service"], "ssh");
    assert_eq!(sent["source_ip"], "203.0.113.7");
    assert_eq!(sent["destination_port"], 22);
    assert_eq!(sent["activity"], "login_attempt");
    assert_eq!(sent["payload"].as_str().expect("text").len(), PAYLOAD_SENT_MAX);
    assert_eq!(sent["payload_truncated"], true);
    assert_eq!((sent["usernames_tried"].as_u64(), sent["passwords_tried"].as_u64()), (Some(2), Some(3)));
    assert_eq!(sent["builtin_score"], builtin.score);
    assert_eq!(sent["builtin_attack_type"], builtin.attack_type.as_str());
    let text = sent.to_string();
    assert!(!text.contains("hunter2") && !text.contains("letmein"), "passwords are counted, never sent");
}

#[tokio::test]
async fn agent_and_decoy_events_send_their_own_fields() {
    let model = Model::answering(json!({ "risk_score": 5 })).await;
    let scorer = scorer(&config(&model.url));
    let agent = parsed(EventInput {
        kind: Some("agent".into()),
        hostname: Some("db-1".into()),
        username: Some("backup".into()),
        process: Some("/usr/bin/shred".into()),
        file_path: Some("/srv/backup.tar".into()),
        action: Some("delete".into()),
        ..EventInput::default()
    });
    let decoy = parsed(EventInput {
        kind: Some("decoy".into()),
        decoy_name: Some("aws-keys.txt".into()),
        hostname: Some("ws-7".into()),
        action: Some("read".into()),
        ..EventInput::default()
    });

    score(&scorer, &agent).await.expect("scored");
    let sent = model.last();
    assert_eq!(
        (&sent["kind"], &sent["hostname"], &sent["username"], &sent["process"], &sent["file_path"], &sent["action"]),
        (
            &json!("agent"),
            &json!("db-1"),
            &json!("backup"),
            &json!("/usr/bin/shred"),
            &json!("/srv/backup.tar"),
            &json!("delete")
        )
    );
    assert_eq!((&sent["payload"], &sent["source_ip"]), (&Value::Null, &Value::Null));

    score(&scorer, &decoy).await.expect("scored");
    let sent = model.last();
    assert_eq!(
        (&sent["kind"], &sent["decoy_name"], &sent["decoy_type"], &sent["hostname"], &sent["action"]),
        (&json!("decoy"), &json!("aws-keys.txt"), &json!("file"), &json!("ws-7"), &json!("read"))
    );
}

#[rstest]
#[case::score(json!({ "score": 4 }))]
#[case::camel_case(json!({ "riskScore": 4, "reasons": null }))]
#[case::null_attack_type(json!({ "risk_score": 4, "attack_type": null }))]
#[tokio::test]
async fn score_aliases_are_accepted_and_the_attack_type_defaults_to_the_builtins(#[case] answer: Value) {
    let model = Model::answering(answer).await;
    let event = honeypot("");

    let score = score(&scorer(&config(&model.url)), &event).await.expect("scored");

    assert_eq!((score.score, score.attack_type), (4.0, builtin(&event).attack_type));
    assert_eq!(score.reasons, [reason(4.0, "scored by 127.0.0.1")]);
}

#[tokio::test]
async fn a_slow_model_times_out() {
    let model = Model::spawn(|_| std::future::pending::<axum::response::Response>()).await;
    let scorer = scorer(&ModelConfig { timeout: Duration::from_millis(200), ..config(&model.url) });

    assert_eq!(score(&scorer, &honeypot("")).await, Err(Fallback::Timeout));
    assert_eq!(model.hits(), 1, "the request was sent");
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    let address = listener.local_addr().expect("bound");
    drop(listener);
    let scorer = scorer(&config(&format!("http://{address}/score")));

    assert_eq!(score(&scorer, &honeypot("")).await, Err(Fallback::Unreachable));
}

#[tokio::test]
async fn a_model_on_loopback_is_refused_unless_outbound_allow_names_it() {
    let model = Model::answering(json!({ "risk_score": 9 })).await;
    let (gate, refusals) = outbound(&["10.0.0.0/8"]);
    let scorer = ModelScorer::new(&config(&model.url), gate).expect("a valid configuration");

    assert_eq!(score(&scorer, &honeypot("")).await, Err(Fallback::Unreachable), "the built-in score stands");
    assert_eq!(model.hits(), 0, "nothing was sent");
    assert_eq!(scorer.scored(), 0);
    assert!(scorer.fallbacks().contains(&("unreachable", 1)), "{:?}", scorer.fallbacks());
    let refusals = refusals.0.lock().expect("no test thread panicked").clone();
    assert_eq!(refusals.len(), 1, "the refusal is recorded: {refusals:?}");
    assert!(refusals[0].reason.contains("127.0.0.1"), "{refusals:?}");
}

#[tokio::test]
async fn a_server_error_is_a_bad_status() {
    let model = Model::spawn(|_| async { StatusCode::INTERNAL_SERVER_ERROR.into_response() }).await;

    assert_eq!(score(&scorer(&config(&model.url)), &honeypot("")).await, Err(Fallback::BadStatus(500)));
}

#[tokio::test]
async fn a_redirect_is_a_bad_status_and_is_not_followed() {
    let elsewhere = Model::answering(json!({ "risk_score": 1 })).await;
    let target = elsewhere.url.clone();
    let model = Model::spawn(move |_| {
        let target = target.clone();
        async move { Redirect::temporary(&target).into_response() }
    })
    .await;

    assert_eq!(score(&scorer(&config(&model.url)), &honeypot("")).await, Err(Fallback::BadStatus(307)));
    assert_eq!(elsewhere.hits(), 0, "event data reaches only the configured host");
}

#[rstest]
#[case::not_json("<html>busy</html>")]
#[case::empty("")]
#[case::not_an_object("[5]")]
#[case::no_score(r#"{"attack_type": "scan"}"#)]
#[case::null_score(r#"{"risk_score": null}"#)]
#[case::score_as_text(r#"{"risk_score": "7"}"#)]
#[case::nan(r#"{"risk_score": NaN}"#)]
#[case::nan_as_text(r#"{"risk_score": "NaN"}"#)]
#[case::above_ten(r#"{"risk_score": 42}"#)]
#[case::below_zero(r#"{"score": -0.5}"#)]
#[case::two_scores(r#"{"risk_score": 5, "score": 6}"#)]
#[case::long_attack_type(r#"{"risk_score": 5, "attack_type": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#)]
#[case::blank_attack_type(r#"{"risk_score": 5, "attack_type": "  "}"#)]
#[case::reasons_not_a_list(r#"{"risk_score": 5, "reasons": "because"}"#)]
#[case::reasons_not_text(r#"{"risk_score": 5, "reasons": [1, 2]}"#)]
#[case::control_characters(r#"{"risk_score": 5, "reasons": ["\u001b[31mred"]}"#)]
#[tokio::test]
async fn an_unusable_answer_is_garbage(#[case] body: &'static str) {
    let model = Model::saying(body).await;

    assert_eq!(score(&scorer(&config(&model.url)), &honeypot("")).await, Err(Fallback::Garbage));
}

#[derive(Clone, Copy, Debug)]
enum Length {
    Declared,
    Streamed,
}

#[rstest]
#[tokio::test]
async fn an_answer_over_64_kb_is_garbage_even_if_it_holds_a_score(
    #[values(Length::Declared, Length::Streamed)] length: Length,
) {
    // Valid JSON with a valid score: only the size makes it garbage.
    let padding = "x".repeat(16 * 1024);
    let parts: Vec<String> = std::iter::once(r#"{"risk_score": 5, "padding": [""#.to_owned())
        .chain(std::iter::repeat_n(format!("{padding}\", \""), 5))
        .chain(std::iter::once(format!("{padding}\"]}}")))
        .collect();
    let model = Model::spawn(move |_| {
        let parts = parts.clone();
        async move {
            let body = match length {
                Length::Declared => Body::from(parts.concat()),
                Length::Streamed => Body::from_stream(futures_util::stream::iter(
                    parts.into_iter().map(|part| Ok::<_, Infallible>(Bytes::from(part))),
                )),
            };
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    })
    .await;

    assert_eq!(score(&scorer(&config(&model.url)), &honeypot("")).await, Err(Fallback::Garbage));
}

#[tokio::test]
async fn fallbacks_are_counted_by_reason() {
    let model = Model::spawn(|hit| async move {
        match hit {
            1 | 4 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            2 => "not json".into_response(),
            _ => Json(json!({ "risk_score": 2 })).into_response(),
        }
    })
    .await;
    let scorer = scorer(&config(&model.url));

    for _ in 0..4 {
        let _ = score(&scorer, &honeypot("")).await;
    }

    assert_eq!(scorer.scored(), 1);
    assert_eq!(
        scorer.fallbacks(),
        [("circuit_open", 0), ("timeout", 0), ("unreachable", 0), ("bad_status", 2), ("garbage", 1)]
    );
    assert_eq!(Fallback::BadStatus(503).as_str(), "bad_status");
}

/// A model that fails with 500 until it is told it is healthy.
async fn flaky_model() -> (Model, Arc<AtomicBool>) {
    let healthy = Arc::new(AtomicBool::new(false));
    let model = Model::spawn({
        let healthy = Arc::clone(&healthy);
        move |_| {
            let healthy = healthy.load(Ordering::SeqCst);
            async move {
                if healthy {
                    Json(json!({ "risk_score": 6 })).into_response()
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
    })
    .await;
    (model, healthy)
}

fn breaker_config(url: &str) -> ModelConfig {
    ModelConfig { failures_to_open: 3, open_for: Duration::from_secs(60), ..config(url) }
}

#[tokio::test]
async fn consecutive_failures_open_the_circuit_and_then_no_request_is_sent() {
    let (model, _healthy) = flaky_model().await;
    let scorer = scorer(&breaker_config(&model.url));
    let event = honeypot("");

    for _ in 0..3 {
        assert_eq!(score(&scorer, &event).await, Err(Fallback::BadStatus(500)));
    }
    assert!(scorer.circuit_is_open());
    for _ in 0..5 {
        assert_eq!(score(&scorer, &event).await, Err(Fallback::CircuitOpen));
    }

    assert_eq!(model.hits(), 3, "no request reaches the model while the circuit is open");
    let counts = scorer.fallbacks();
    assert!(counts.contains(&("bad_status", 3)) && counts.contains(&("circuit_open", 5)), "{counts:?}");
}

#[tokio::test]
async fn after_open_for_a_successful_trial_closes_the_circuit() {
    let (model, healthy) = flaky_model().await;
    let config = breaker_config(&model.url);
    let scorer = scorer(&config);
    let event = honeypot("");
    for _ in 0..3 {
        let _ = score(&scorer, &event).await;
    }
    assert_eq!(score(&scorer, &event).await, Err(Fallback::CircuitOpen));

    healthy.store(true, Ordering::SeqCst);
    step_past(config.open_for).await;

    assert_eq!(score(&scorer, &event).await.map(|score| score.score), Ok(6.0), "the trial call");
    assert_eq!(model.hits(), 4);
    assert!(!scorer.circuit_is_open());
    for _ in 0..3 {
        assert!(score(&scorer, &event).await.is_ok());
    }
    assert_eq!(model.hits(), 7, "every call reaches the model again");
}

#[tokio::test]
async fn a_failed_trial_opens_the_circuit_for_another_period() {
    let (model, healthy) = flaky_model().await;
    let config = breaker_config(&model.url);
    let scorer = scorer(&config);
    let event = honeypot("");
    for _ in 0..3 {
        let _ = score(&scorer, &event).await;
    }

    step_past(config.open_for).await;
    assert_eq!(score(&scorer, &event).await, Err(Fallback::BadStatus(500)), "the trial call");
    assert_eq!(score(&scorer, &event).await, Err(Fallback::CircuitOpen));
    assert_eq!(model.hits(), 4, "one trial, then nothing");

    healthy.store(true, Ordering::SeqCst);
    step_past(config.open_for).await;
    assert!(score(&scorer, &event).await.is_ok());
    assert_eq!(model.hits(), 5);
}
