//! Moving from the replaced system: an admin creates a node with the id (`node-<hex>`) and key
//! (`nk_…`) it had there, so its deployed sensors keep working unchanged. The key is hashed as it
//! arrives, and then opens every sensor route as a key made here would.

use rampart_identity::opaque;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, json_of, problem, remember_secret};

/// A key as the replaced system made them: `nk_` and `secrets.token_urlsafe(32)`.
const OLD_KEY: &str = "nk_q3Xv-8_kZpL0aN2mW9rT_b7YcE5uJ1sH4dF6gK-oPiQ";
const OLD_ID: &str = "node-0123456789abcdef";

async fn import(app: &TestApp, admin: &TestUser, body: &Value) -> reqwest::Response {
    app.call("POST", "/api/v1/nodes", Some(&admin.access), Some(body)).await
}

#[rstest]
#[tokio::test]
async fn an_imported_node_keeps_its_id_and_key_and_its_sensors_keep_working(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    remember_secret(OLD_KEY.to_owned());
    let ada = app.register("ada").await;
    let body = json!({"name": "old-trap", "kind": "honeypot", "legacy_id": OLD_ID, "key": OLD_KEY});
    let response = import(&app, &ada, &body).await;
    assert_eq!(response.status(), 201);
    let node = json_of(response).await;
    assert_eq!((node["legacy_id"].as_str(), node["key"].as_str()), (Some(OLD_ID), Some(OLD_KEY)), "{node}");
    let prefix = node["key_prefix"].as_str().expect("a prefix").to_owned();
    assert!(!OLD_KEY.starts_with(&prefix), "the shown prefix is derived, not the key's start: {prefix}");
    let id = node["id"].as_str().expect("id").to_owned();
    let shown = json_of(app.call("GET", &format!("/api/v1/nodes/{id}"), Some(&ada.access), None).await).await;
    assert_eq!(shown["legacy_id"], OLD_ID);
    assert!(shown.get("key").is_none());

    // Only its hash is stored.
    let lookup = opaque::node_key_lookup(OLD_KEY).expect("a lookup");
    let (stored, hash) = app.store.nodes().find_by_key(&lookup).await.expect("read").expect("found");
    assert_eq!((stored.id.to_string(), hash.clone()), (id.clone(), opaque::hash(OLD_KEY)));
    assert!(!hash.contains(&OLD_KEY[3..]));

    // Every sensor route takes the imported key; the old paths take the old id as the claim.
    let event = json!({"kind": "honeypot", "source_ip": "203.0.113.1", "service": "ssh", "activity": "login_attempt"});
    assert_eq!(app.sensor_call("/api/v1/ingest/events", OLD_KEY, &event).await.status(), 200);
    for node_id in [OLD_ID, id.as_str()] {
        let log =
            json!({"node_id": node_id, "service": "ssh", "source_ip": "203.0.113.2", "activity": "login_attempt"});
        let receipt = json_of(app.sensor_call("/api/honeypot-log", OLD_KEY, &log).await).await;
        assert_eq!(receipt["status"], "success", "{receipt}");
    }
    let alert =
        json!({"node_id": OLD_ID, "hostname": "fin-laptop-3", "file_accessed": "passwords.xlsx", "action": "open"});
    let receipt = json_of(app.sensor_call("/api/agent-alert", OLD_KEY, &alert).await).await;
    assert_eq!(receipt["attack_type"], "decoy_access", "{receipt}");
    let canary = json!({"src_host": "203.0.113.3", "logtype": 4002, "logdata": {"USERNAME": "root", "PASSWORD": "x"}});
    assert_eq!(app.sensor_call("/api/v1/ingest/opencanary", OLD_KEY, &canary).await.status(), 200);
    let hec = app
        .client()
        .post(app.url("/services/collector/event"))
        .header("Authorization", format!("Splunk {OLD_KEY}"))
        .body(r#"{"event": {"eventid": "cowrie.session.connect", "src_ip": "203.0.113.4"}}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(hec.status(), 200);

    // Another node's old id is refused as another node's id is; a near key is unknown.
    let other = json!({"node_id": "node-fedcba9876543210", "service": "ssh", "source_ip": "203.0.113.5"});
    problem(app.sensor_call("/api/honeypot-log", OLD_KEY, &other).await, 403).await;
    let near = format!("{}x", &OLD_KEY[..OLD_KEY.len() - 1]);
    problem(app.sensor_call("/api/v1/ingest/events", &near, &event).await, 401).await;

    // Rotated, the imported key stops working and the node keeps its old id.
    let rotated =
        json_of(app.call("POST", &format!("/api/v1/nodes/{id}/rotate-key"), Some(&ada.access), None).await).await;
    remember_secret(rotated["key"].as_str().expect("key").to_owned());
    assert_eq!(rotated["legacy_id"], OLD_ID);
    problem(app.sensor_call("/api/v1/ingest/events", OLD_KEY, &event).await, 401).await;
}

#[rstest]
#[tokio::test]
async fn an_import_is_refused_for_a_taken_id_or_key_bad_formats_and_a_viewer(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    remember_secret(OLD_KEY.to_owned());
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let body = json!({"name": "old-trap", "kind": "honeypot", "legacy_id": OLD_ID, "key": OLD_KEY});
    problem(import(&app, &vic, &body).await, 403).await;
    assert_eq!(import(&app, &ada, &body).await.status(), 201);

    let taken =
        problem(import(&app, &ada, &json!({"name": "other", "kind": "honeypot", "legacy_id": OLD_ID})).await, 409)
            .await;
    assert!(taken["detail"].as_str().is_some_and(|detail| detail.contains("legacy_id")), "{taken}");
    let second_key = "nk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    remember_secret(second_key.to_owned());
    let key_taken = problem(
        import(&app, &bob, &json!({"name": "other", "kind": "honeypot", "legacy_id": OLD_ID, "key": OLD_KEY})).await,
        409,
    )
    .await;
    assert!(key_taken["detail"].as_str().is_some_and(|detail| detail.contains("key")), "{key_taken}");
    // Another organisation may have a node of the same old id: ids are the organisation's.
    let same_id = json!({"name": "other", "kind": "honeypot", "legacy_id": OLD_ID, "key": second_key});
    assert_eq!(import(&app, &bob, &same_id).await.status(), 201);

    let bad = json!({"name": "bad", "kind": "honeypot", "legacy_id": "node-XYZ", "key": "nk_short"});
    let refused = problem(import(&app, &ada, &bad).await, 422).await;
    let fields: Vec<&str> =
        refused["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["legacy_id", "key"], "{refused}");
    for key in [
        "rk_q3Xv8kZpL0aN2mW9rTb7YcE5uJ1sH4dF6gKoPiQ",
        "nk_q3Xv8kZpL0aN2mW9rTb7YcE5uJ1sH4d+/6gKoPiQ",
        "nk_ spaces in it are bad here",
    ] {
        let refused =
            problem(import(&app, &ada, &json!({"name": "bad", "kind": "honeypot", "key": key})).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], "key", "{refused}");
    }

    // A key of Rampart's own form (from another server) is imported too, and found as made here.
    let own = "nk_abcdefghijkl_q3Xv-8_kZpL0aN2mW9rT_b7YcE5uJ1sH4dF6gK-oPiQ";
    remember_secret(own.to_owned());
    let node = json_of(import(&app, &ada, &json!({"name": "moved", "kind": "honeypot", "key": own})).await).await;
    assert_eq!((node["key_prefix"].as_str(), node["legacy_id"].as_str()), (Some("nk_abcdefghijkl"), None), "{node}");
    let event = json!({"kind": "honeypot", "source_ip": "203.0.113.1", "service": "ssh"});
    assert_eq!(app.sensor_call("/api/v1/ingest/events", own, &event).await.status(), 200);
}
