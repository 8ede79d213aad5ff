//! The read side of watch: attackers and their profiles, the dashboard's figures, the replaced
//! system's dashboard paths, alert settings, and alerts followed live. All data is made through
//! the API: nodes by an admin, events by the nodes' keys.

use std::collections::BTreeSet;
use std::time::Duration;

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, create_node, decoy, ingest, ok_json_of, problem};

/// A liveness bound for waiting on a stream, never a measure of speed.
const PATIENCE: Duration = Duration::from_secs(20);

async fn get(app: &TestApp, user: &TestUser, path: &str) -> Value {
    ok_json_of(app.call("GET", path, Some(&user.access), None).await).await
}

/// A node of `admin`'s organisation: its id and key.
fn ssh(ip: &str, usernames: &[&str]) -> Value {
    json!({"kind": "honeypot", "source_ip": ip, "service": "ssh", "usernames": usernames})
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().expect("an object").keys().map(String::as_str).collect()
}

fn ips(page: &Value) -> Vec<&str> {
    page["items"].as_array().expect("items").iter().map(|item| item["source_ip"].as_str().expect("ip")).collect()
}

#[rstest]
#[tokio::test]
async fn attackers_are_listed_by_risk_and_recency_page_by_page_with_their_profiles(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let bob = app.register("bob").await;
    let (trap, key) = create_node(&app, &ada, "trap", "honeypot").await;

    // One request each, so each source is seen later than the one before.
    ingest(&app, &key, &decoy("203.0.113.9")).await;
    ingest(&app, &key, &ssh("198.51.100.1", &["root"])).await;
    ingest(&app, &key, &json!([ssh("198.51.100.2", &["admin", "root"]), ssh("198.51.100.2", &["admin"])])).await;

    let first = get(&app, &vic, "/api/v1/attackers?limit=2").await;
    assert_eq!(ips(&first)[0], "203.0.113.9", "the riskiest first: {first}");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = get(&app, &vic, &format!("/api/v1/attackers?limit=2&cursor={cursor}")).await;
    assert!(second["next_cursor"].is_null(), "{second}");
    let all: BTreeSet<&str> = ips(&first).into_iter().chain(ips(&second)).collect();
    assert_eq!(all, BTreeSet::from(["203.0.113.9", "198.51.100.1", "198.51.100.2"]));

    let recent = get(&app, &vic, "/api/v1/attackers?sort=recency").await;
    assert_eq!(ips(&recent), ["198.51.100.2", "198.51.100.1", "203.0.113.9"]);
    let by_risk = &first["items"][0];
    assert_eq!((by_risk["events"].as_u64(), by_risk["alerts"].as_u64()), (Some(1), Some(1)));
    assert_eq!(by_risk["max_score"], 8.0);

    let refused = problem(app.call("GET", "/api/v1/attackers?sort=age&limit=0", Some(&vic.access), None).await, 422);
    let fields: BTreeSet<String> = refused.await["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| error["field"].as_str().expect("field").to_owned())
        .collect();
    assert_eq!(fields, BTreeSet::from(["sort".to_owned(), "limit".to_owned()]));

    let profile = get(&app, &vic, "/api/v1/attackers/198.51.100.2").await;
    assert_eq!(profile["events"], 2);
    assert_eq!(profile["services"], json!([{"service": "ssh", "events": 2}]));
    assert_eq!(profile["nodes"], json!([{"node_id": trap, "name": "trap", "events": 2}]));
    assert_eq!(
        profile["top_usernames"],
        json!([{"username": "admin", "attempts": 2}, {"username": "root", "attempts": 1}])
    );
    problem(app.call("GET", "/api/v1/attackers/192.0.2.77", Some(&vic.access), None).await, 404).await;
    let bad = problem(app.call("GET", "/api/v1/attackers/not-an-ip", Some(&vic.access), None).await, 422).await;
    assert_eq!(bad["errors"][0]["field"], "ip");

    // The replaced system's profile, in its shape.
    let legacy = get(&app, &vic, "/api/attacker-profile/198.51.100.2").await;
    assert_eq!(
        keys(&legacy),
        BTreeSet::from([
            "source_ip",
            "total_attacks",
            "avg_risk_score",
            "max_risk_score",
            "first_seen",
            "last_seen",
            "services_targeted",
            "nodes_targeted",
            "usernames_tried"
        ])
    );
    assert_eq!(legacy["total_attacks"], 2);
    assert_eq!(legacy["services_targeted"], json!(["ssh"]));
    assert_eq!(legacy["nodes_targeted"], json!([trap]));
    assert_eq!(legacy["usernames_tried"], json!(["admin", "root"]));
    assert_eq!(legacy["avg_risk_score"], profile["avg_score"]);

    // Another organisation saw none of it.
    assert_eq!(get(&app, &bob, "/api/v1/attackers").await["items"], json!([]));
    problem(app.call("GET", "/api/v1/attackers/198.51.100.2", Some(&bob.access), None).await, 404).await;
    problem(app.call("GET", "/api/attacker-profile/198.51.100.2", Some(&bob.access), None).await, 404).await;
}

#[rstest]
#[tokio::test]
async fn the_dashboard_figures_agree_with_what_was_ingested(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let bob = app.register("bob").await;
    let (trap, trap_key) = create_node(&app, &ada, "trap", "honeypot").await;
    let (laptop, laptop_key) = create_node(&app, &ada, "laptop", "agent").await;
    create_node(&app, &ada, "quiet", "network").await;

    let three = json!([ssh("198.51.100.1", &["root"]), ssh("198.51.100.1", &["pi"]), ssh("198.51.100.1", &[])]);
    let taken = ingest(&app, &trap_key, &three).await;
    assert!(taken["accepted"].as_array().expect("accepted").iter().all(|event| event["alert_raised"] == false));
    let alerted = ingest(&app, &laptop_key, &decoy("203.0.113.9")).await;
    assert_eq!(alerted["accepted"][0]["alert_raised"], true);

    let stats = get(&app, &vic, "/api/v1/stats").await;
    assert_eq!(
        [&stats["events_24h"], &stats["alerts_24h"], &stats["events_30d"], &stats["alerts_30d"]],
        [&json!(4), &json!(1), &json!(4), &json!(1)]
    );
    let (hourly, daily) = (stats["hourly"].as_array().expect("hours"), stats["daily"].as_array().expect("days"));
    assert_eq!((hourly.len(), daily.len()), (24, 30));
    assert_eq!(hourly.iter().map(|hour| hour["events"].as_u64().expect("n")).sum::<u64>(), 4);
    assert_eq!(daily.iter().map(|day| day["alerts"].as_u64().expect("n")).sum::<u64>(), 1);
    assert_eq!(
        stats["by_service"],
        json!([{"service": "ssh", "events": 3, "alerts": 0}, {"service": "decoy", "events": 1, "alerts": 1}])
    );
    assert_eq!(
        stats["by_node"],
        json!([
            {"node_id": trap, "name": "trap", "events": 3, "alerts": 0},
            {"node_id": laptop, "name": "laptop", "events": 1, "alerts": 1}
        ])
    );
    assert_eq!(stats["top_attackers"][0]["source_ip"], "203.0.113.9");
    assert_eq!(stats["top_attackers"].as_array().map(Vec::len), Some(2));
    assert_eq!((stats["nodes_online"].as_u64(), stats["nodes_total"].as_u64()), (Some(2), Some(3)));

    let recent = get(&app, &vic, "/api/v1/alerts/recent").await;
    assert_eq!(recent.as_array().map(Vec::len), Some(1));
    assert_eq!(recent[0]["source_ip"], "203.0.113.9");
    for limit in [0, 101] {
        let path = format!("/api/v1/alerts/recent?limit={limit}");
        let refused = problem(app.call("GET", &path, Some(&vic.access), None).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], "limit");
    }

    // The replaced system's paths, in its shapes, also with an API key.
    let key = json!({"name": "old dashboard", "role": "viewer"});
    let key = ok_json_of(app.call("POST", "/api/v1/api-keys", Some(&ada.access), Some(&key)).await).await;
    let key = key["key"].as_str().expect("the key").to_owned();
    crate::helpers::remember_secret(key.clone());
    let legacy = app.client.get(app.url("/api/stats")).header("X-API-Key", &key).send().await.expect("sent");
    assert_eq!(
        ok_json_of(legacy).await,
        json!({
            "total_attacks": 4, "high_risk_alerts": 1, "active_nodes": 3, "unique_attackers": 2,
            "attacks_by_service": {"ssh": 3, "decoy": 1}, "recent_24h": 4
        })
    );
    let item_keys = BTreeSet::from([
        "id",
        "timestamp",
        "source_ip",
        "attack_type",
        "risk_score",
        "node_id",
        "status",
        "event_count",
    ]);
    for path in ["/api/recent-attacks", "/api/alerts"] {
        let alerts = get(&app, &vic, path).await;
        assert_eq!(alerts.as_array().map(Vec::len), Some(1), "{path}");
        assert_eq!(keys(&alerts[0]), item_keys, "{path}");
        assert_eq!(
            [&alerts[0]["source_ip"], &alerts[0]["risk_score"], &alerts[0]["node_id"], &alerts[0]["event_count"]],
            [&json!("203.0.113.9"), &json!(8.0), &json!(laptop), &json!(1)]
        );
    }

    // Another organisation: zeros and nothing.
    let theirs = get(&app, &bob, "/api/v1/stats").await;
    assert_eq!((theirs["events_30d"].as_u64(), theirs["nodes_total"].as_u64()), (Some(0), Some(0)));
    assert_eq!(theirs["hourly"].as_array().map(Vec::len), Some(24));
    assert_eq!(theirs["by_service"], json!([]));
    assert_eq!(get(&app, &bob, "/api/stats").await["total_attacks"], 0);
    assert_eq!(get(&app, &bob, "/api/recent-attacks").await, json!([]));
    assert_eq!(get(&app, &bob, "/api/v1/alerts/recent").await, json!([]));
}

#[rstest]
#[tokio::test]
async fn alert_settings_are_changed_by_admins_and_apply_to_the_next_event(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let bob = app.register("bob").await;
    let (_, key) = create_node(&app, &ada, "trap", "honeypot").await;

    let settings = get(&app, &vic, "/api/v1/settings").await;
    assert_eq!(settings[0]["key"], "alerts.threshold");
    assert_eq!((&settings[0]["value"], &settings[0]["is_default"]), (&json!(7.0), &json!(true)));
    assert_eq!((&settings[1]["key"], &settings[1]["value"]), (&json!("alerts.window_seconds"), &json!(3600)));

    let path = "/api/v1/settings/alerts.threshold";
    problem(app.call("PUT", path, Some(&vic.access), Some(&json!({"value": 2}))).await, 403).await;
    problem(app.call("DELETE", path, Some(&vic.access), None).await, 403).await;
    for bad in [json!({"value": "high"}), json!({"value": 11})] {
        let refused = problem(app.call("PUT", path, Some(&ada.access), Some(&bad)).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], "value", "{bad}");
    }
    let window = "/api/v1/settings/alerts.window_seconds";
    problem(app.call("PUT", window, Some(&ada.access), Some(&json!({"value": 5}))).await, 422).await;
    problem(app.call("PUT", "/api/v1/settings/alerts.nope", Some(&ada.access), Some(&json!({"value": 2}))).await, 404)
        .await;
    problem(app.call("DELETE", "/api/v1/settings/Bad..Key", Some(&ada.access), None).await, 404).await;
    let before = ingest(&app, &key, &ssh("198.51.100.1", &["root"])).await;
    assert_eq!(before["accepted"][0]["alert_raised"], false, "a honeypot event is under the default threshold");

    let set = ok_json_of(app.call("PUT", path, Some(&ada.access), Some(&json!({"value": 2}))).await).await;
    assert_eq!((&set["value"], &set["is_default"]), (&json!(2), &json!(false)));
    let after = ingest(&app, &key, &ssh("198.51.100.2", &["root"])).await;
    assert_eq!(after["accepted"][0]["alert_raised"], true, "{after}");
    assert_eq!(get(&app, &vic, "/api/v1/settings").await[0]["value"], 2);
    assert_eq!(get(&app, &bob, "/api/v1/settings").await[0]["value"], 7.0, "another organisation keeps its own");

    let reset = ok_json_of(app.call("DELETE", path, Some(&ada.access), None).await).await;
    assert_eq!((&reset["value"], &reset["is_default"]), (&json!(7.0), &json!(true)));
    let again = ingest(&app, &key, &ssh("198.51.100.3", &["root"])).await;
    assert_eq!(again["accepted"][0]["alert_raised"], false);

    let audit = get(&app, &ada, "/api/v1/audit?action=setting.update").await;
    let details: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| (item["target"].as_str().expect("target"), item["detail"].as_str().expect("detail")))
        .collect();
    assert_eq!(
        details,
        [("setting:alerts.threshold", "reset to the default"), ("setting:alerts.threshold", "set to 2")]
    );
}

/// Reads server-sent events from `response` until one named `name` arrives.
async fn next_event(response: &mut reqwest::Response, buffer: &mut String, name: &str) -> Value {
    let wait = async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let event = block.lines().find_map(|line| line.strip_prefix("event: "));
                let data = block.lines().find_map(|line| line.strip_prefix("data: "));
                if let (Some(event), Some(data)) = (event, data)
                    && event == name
                {
                    return serde_json::from_str(data).expect("JSON data");
                }
            }
            let chunk = response.chunk().await.expect("the stream is open").expect("the stream does not end");
            buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.expect("an event arrives")
}

#[rstest]
#[tokio::test]
async fn new_alerts_of_the_organisation_are_streamed_as_server_sent_events(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let bob = app.register("bob").await;
    let (_, key) = create_node(&app, &ada, "trap", "agent").await;
    let (_, bobs_key) = create_node(&app, &bob, "trap", "agent").await;
    // Raised before anyone follows: not sent.
    ingest(&app, &key, &decoy("203.0.113.1")).await;

    let mut events = app.call("GET", "/api/v1/alerts/events", Some(&vic.access), None).await;
    assert_eq!(events.status(), 200);
    assert!(events.headers()["content-type"].to_str().expect("ASCII").starts_with("text/event-stream"));
    // Another organisation's alert is not sent either.
    ingest(&app, &bobs_key, &decoy("203.0.113.66")).await;
    let raised = ingest(&app, &key, &decoy("203.0.113.9")).await;

    let mut buffer = String::new();
    let alert = next_event(&mut events, &mut buffer, "alert").await;
    assert_eq!(alert["id"], raised["accepted"][0]["alert_id"]);
    assert_eq!(
        (&alert["source_ip"], &alert["max_score"], &alert["events"]),
        (&json!("203.0.113.9"), &json!(8.0), &json!(1))
    );

    // A change of the same alert is sent again.
    let id = alert["id"].as_str().expect("id");
    let ack = json!({"status": "acknowledged"});
    ok_json_of(app.call("PATCH", &format!("/api/v1/alerts/{id}"), Some(&ada.access), Some(&ack)).await).await;
    let changed = next_event(&mut events, &mut buffer, "alert").await;
    assert_eq!((&changed["id"], &changed["status"]), (&alert["id"], &json!("acknowledged")));
}

#[rstest]
#[tokio::test]
async fn new_alerts_of_the_organisation_are_streamed_over_a_websocket(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (_, key) = create_node(&app, &ada, "trap", "agent").await;
    let plain = app.call("GET", "/api/v1/alerts/stream", Some(&ada.access), None).await;
    problem(plain, 400).await;

    let mut request =
        format!("ws://{}/api/v1/alerts/stream", app.addr).into_client_request().expect("a WebSocket request");
    request.headers_mut().insert("authorization", format!("Bearer {}", ada.access).parse().expect("a header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the upgrade succeeds");
    let raised = ingest(&app, &key, &decoy("203.0.113.9")).await;

    let message = tokio::time::timeout(PATIENCE, async {
        loop {
            match socket.next().await.expect("the socket is open").expect("a message") {
                Message::Text(text) => return serde_json::from_str::<Value>(&text).expect("JSON"),
                Message::Close(_) => panic!("closed before the alert"),
                _ => {}
            }
        }
    })
    .await
    .expect("the alert arrives");
    assert_eq!(message["type"], "alert");
    assert_eq!(message["data"]["id"], raised["accepted"][0]["alert_id"]);
    assert_eq!(message["data"]["source_ip"], "203.0.113.9");
}
