//! Decisions, the allowlist and bouncers through the real router, and the CrowdSec bouncer
//! protocol as firewall bouncers speak it: startup, deltas and lifted values with every filter,
//! lookups of addresses inside banned ranges, `HEAD`, bad keys, tenants apart.

use std::time::Duration;

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, json_of, problem, remember_secret};

/// Makes a bouncer in the admin's organisation; answers its id and key.
pub async fn bouncer(app: &TestApp, admin: &TestUser, name: &str) -> (String, String) {
    let response = app.call("POST", "/api/v1/bouncers", Some(&admin.access), Some(&json!({"name": name}))).await;
    assert_eq!(response.status(), 201, "bouncer {name}");
    let made = json_of(response).await;
    let key = made["key"].as_str().expect("the key, shown once").to_owned();
    assert!(key.starts_with("bk_"));
    remember_secret(key.clone());
    (made["id"].as_str().expect("id").to_owned(), key)
}

/// A bouncer's request to the protocol's `path`.
pub async fn bouncer_get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.client()
        .get(app.url(path))
        .header("X-Api-Key", key)
        .header("User-Agent", "crowdsec-firewall-bouncer/v0.0.28-test")
        .send()
        .await
        .expect("request sent")
}

/// A pull of the stream, which must answer 200 with both lists.
pub async fn pull(app: &TestApp, key: &str, query: &str) -> Value {
    let response = bouncer_get(app, key, &format!("/v1/decisions/stream?{query}")).await;
    assert_eq!(response.status(), 200);
    let delta = json_of(response).await;
    assert!(delta["new"].is_array() && delta["deleted"].is_array(), "{delta}");
    delta
}

/// The values of a list of wire decisions, sorted.
fn values(list: &Value) -> Vec<String> {
    let mut values: Vec<String> =
        list.as_array().into_iter().flatten().map(|d| d["value"].as_str().expect("value").to_owned()).collect();
    values.sort();
    values
}

pub async fn decide(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let response = app.call("POST", "/api/v1/decisions", Some(&user.access), Some(&body)).await;
    assert_eq!(response.status(), 201, "decide {body}");
    json_of(response).await
}

#[rstest]
#[tokio::test]
async fn analysts_make_list_and_end_decisions(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let ann = app.member_of(&ada, "ann", "analyst").await;

    let ban = decide(&app, &ann, json!({"value": "203.0.113.7", "duration": "1h30m", "scenario": "ssh-bf"})).await;
    assert_eq!(
        (ban["kind"].as_str(), ban["scope"].as_str(), ban["origin"].as_str()),
        (Some("ban"), Some("ip"), Some("manual"))
    );
    assert_eq!(ban["active"], true);
    assert!(ban["seq"].as_i64().is_some());
    let range = decide(&app, &ann, json!({"value": "198.51.100.77/24", "kind": "captcha"})).await;
    assert_eq!((range["value"].as_str(), range["scope"].as_str()), (Some("198.51.100.0/24"), Some("range")));
    assert_eq!(range["scenario"], "rampart/manual");

    for (body, field) in [
        (json!({"value": "0.0.0.0/0"}), "value"),
        (json!({"value": "127.0.0.1"}), "value"),
        (json!({"value": "not-an-address"}), "value"),
        (json!({"value": "203.0.113.8", "kind": "drop"}), "kind"),
        (json!({"value": "203.0.113.8", "duration": "0s"}), "duration"),
        (json!({"value": "203.0.113.8", "duration": "4h", "until": "2099-01-01T00:00:00Z"}), "until"),
        (json!({"value": "203.0.113.8", "until": "2001-01-01T00:00:00Z"}), "until"),
    ] {
        let refused = problem(app.call("POST", "/api/v1/decisions", Some(&ann.access), Some(&body)).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{body}: {refused}");
    }

    let list = json_of(app.call("GET", "/api/v1/decisions?kind=captcha", Some(&ada.access), None).await).await;
    assert_eq!(values(&list["items"]), vec!["198.51.100.0/24"]);
    let list = json_of(app.call("GET", "/api/v1/decisions?value=203.0.113.7", Some(&ada.access), None).await).await;
    assert_eq!(list["items"][0]["id"], ban["id"]);
    let page = json_of(app.call("GET", "/api/v1/decisions?limit=1", Some(&ada.access), None).await).await;
    assert_eq!(page["items"][0]["id"], range["id"], "newest first");
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let next =
        json_of(app.call("GET", &format!("/api/v1/decisions?limit=1&cursor={cursor}"), Some(&ada.access), None).await);
    assert_eq!(next.await["items"][0]["id"], ban["id"]);

    let path = format!("/api/v1/decisions/{}", ban["id"].as_str().expect("id"));
    assert_eq!(app.call("DELETE", &path, Some(&ann.access), None).await.status(), 204);
    assert_eq!(app.call("DELETE", &path, Some(&ann.access), None).await.status(), 404, "ended already");
    let ended = json_of(app.call("GET", &path, Some(&ada.access), None).await).await;
    assert_eq!(ended["active"], false);
    assert!(ended["deleted_at"].is_string());
    let active = json_of(app.call("GET", "/api/v1/decisions?active=true", Some(&ada.access), None).await).await;
    assert_eq!(values(&active["items"]), vec!["198.51.100.0/24"]);

    problem(app.call("DELETE", "/api/v1/decisions", Some(&ann.access), None).await, 422).await;
    let ended = json_of(app.call("DELETE", "/api/v1/decisions?kind=captcha", Some(&ann.access), None).await).await;
    assert_eq!(ended["deleted"], 1);

    // An import is all or none, each error named by its place.
    let import = json!({"decisions": [{"value": "192.0.2.1"}, {"value": "10.0.0.0/4"}, {"value": "192.0.2.3"}]});
    let refused = problem(app.call("POST", "/api/v1/decisions/import", Some(&ann.access), Some(&import)).await, 422);
    assert_eq!(refused.await["errors"][0]["field"], "decisions[1].value");
    let import = json!({"decisions": [{"value": "192.0.2.1"}, {"value": "192.0.2.2", "duration": "7d"}]});
    let imported = app.call("POST", "/api/v1/decisions/import", Some(&ann.access), Some(&import)).await;
    assert_eq!(json_of(imported).await["created"], 2);
    let list = json_of(app.call("GET", "/api/v1/decisions?origin=import", Some(&ada.access), None).await).await;
    assert_eq!(values(&list["items"]), vec!["192.0.2.1", "192.0.2.2"]);

    let audit = json_of(app.call("GET", "/api/v1/audit?limit=100", Some(&ada.access), None).await).await;
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["decision.create", "decision.delete", "decision.import"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[rstest]
#[tokio::test]
async fn the_allowlist_wins_over_every_decision(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (_, key) = bouncer(&app, &ada, "edge").await;
    let existing = decide(&app, &ada, json!({"value": "198.51.100.0/24"})).await;
    assert_eq!(values(&pull(&app, &key, "").await["new"]), vec!["198.51.100.0/24"]);

    let body = json!({"value": "198.51.100.5", "note": "the office"});
    let added = app.call("POST", "/api/v1/allowlist", Some(&ada.access), Some(&body)).await;
    assert_eq!(added.status(), 201);
    let entry = json_of(added).await;
    assert_eq!(entry["ended"], 1, "the range covering it ended");
    let delta = pull(&app, &key, "").await;
    assert_eq!(delta["deleted"][0]["id"], existing["seq"], "firewalls lift it");
    assert_eq!(delta["new"], json!([]));

    let wide = json!({"value": "198.51.0.0/16"});
    let refused = problem(app.call("POST", "/api/v1/decisions", Some(&ada.access), Some(&wide)).await, 422).await;
    let message = refused["errors"][0]["message"].as_str().expect("message");
    assert!(message.contains("198.51.100.5") && message.contains("the office"), "names the entry: {message}");
    assert!(message.contains(entry["id"].as_str().expect("id")), "{message}");
    let duplicate = app.call("POST", "/api/v1/allowlist", Some(&ada.access), Some(&body)).await;
    assert_eq!(duplicate.status(), 409);
    for (bad, field) in
        [(json!({"value": "office"}), "value"), (json!({"value": "192.0.2.1", "note": "a\u{7}b"}), "note")]
    {
        let refused = problem(app.call("POST", "/api/v1/allowlist", Some(&ada.access), Some(&bad)).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{bad}");
    }
    for bad in [json!({"name": ""}), json!({"name": "edge;drop"}), json!({"name": "x".repeat(101)})] {
        let refused = problem(app.call("POST", "/api/v1/bouncers", Some(&ada.access), Some(&bad)).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], "name", "{bad}");
    }
    let bouncers = json_of(app.call("GET", "/api/v1/bouncers", Some(&ada.access), None).await).await;
    assert_eq!(bouncers["items"].as_array().map(Vec::len), Some(1), "a refused bouncer is not made");

    let list = json_of(app.call("GET", "/api/v1/allowlist", Some(&ada.access), None).await).await;
    assert_eq!(list["items"][0]["value"], "198.51.100.5");
    let path = format!("/api/v1/allowlist/{}", entry["id"].as_str().expect("id"));
    assert_eq!(app.call("DELETE", &path, Some(&ada.access), None).await.status(), 204);
    decide(&app, &ada, json!({"value": "198.51.0.0/16"})).await;
}

#[rstest]
#[tokio::test]
async fn bouncers_pull_as_crowdsec_bouncers_do(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (id, key) = bouncer(&app, &ada, "edge").await;

    for bad in ["", "bk_nothing", ada.access.as_str()] {
        let refused = bouncer_get(&app, bad, "/v1/decisions/stream").await;
        assert_eq!(refused.status(), 403);
        assert_eq!(json_of(refused).await, json!({"message": "access forbidden"}));
    }
    assert_eq!(pull(&app, &key, "startup=true").await, json!({"deleted": [], "new": []}));

    let ip =
        decide(&app, &ada, json!({"value": "203.0.113.7", "duration": "4h", "scenario": "crowdsecurity/ssh-bf"})).await;
    decide(&app, &ada, json!({"value": "198.51.100.0/24", "duration": "1h", "scenario": "bench/range"})).await;
    let delta = pull(&app, &key, "").await;
    assert_eq!(values(&delta["new"]), vec!["198.51.100.0/24", "203.0.113.7"]);
    let wire = delta["new"].as_array().expect("new").iter().find(|d| d["value"] == "203.0.113.7").expect("ip");
    assert_eq!(wire["id"], ip["seq"]);
    assert_eq!(
        (wire["origin"].as_str(), wire["type"].as_str(), wire["scope"].as_str()),
        (Some("manual"), Some("ban"), Some("Ip"))
    );
    assert_eq!(wire["scenario"], "crowdsecurity/ssh-bf");
    let duration = wire["duration"].as_str().expect("duration");
    assert!(duration.starts_with("3h59m") || duration == "4h0m0s", "Go-style and positive: {duration}");
    assert_eq!(pull(&app, &key, "").await, json!({"deleted": [], "new": []}), "nothing changed since");

    // A HEAD answers as a GET would, and leaves the delta for the next pull.
    let longer = decide(&app, &ada, json!({"value": "203.0.113.7", "duration": "8h"})).await;
    let head = app.client().head(app.url("/v1/decisions/stream")).header("X-Api-Key", &key).send().await;
    let head = head.expect("sent");
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.expect("body").is_empty());
    let delta = pull(&app, &key, "").await;
    assert_eq!(delta["new"][0]["id"], longer["seq"], "the longest decision of a value is the one told");

    // Ending the longest tells the one left; ending the last lifts the value.
    let end = |decision: &Value| format!("/api/v1/decisions/{}", decision["id"].as_str().expect("id"));
    assert_eq!(app.call("DELETE", &end(&longer), Some(&ada.access), None).await.status(), 204);
    let delta = pull(&app, &key, "").await;
    assert_eq!((delta["new"][0]["id"].clone(), delta["deleted"].clone()), (ip["seq"].clone(), json!([])));
    assert_eq!(app.call("DELETE", &end(&ip), Some(&ada.access), None).await.status(), 204);
    let delta = pull(&app, &key, "").await;
    assert_eq!((values(&delta["deleted"]), delta["new"].clone()), (vec!["203.0.113.7".to_owned()], json!([])));
    let duration = delta["deleted"][0]["duration"].as_str().expect("duration");
    assert!(!duration.starts_with('-') && duration != "0s", "never negative nor zero: {duration}");

    // Every filter, on a startup.
    decide(&app, &ada, json!({"value": "192.0.2.9", "kind": "captcha", "scenario": "crowdsecurity/http-probing"}))
        .await;
    let import = json!({"decisions": [{"value": "192.0.2.10", "scenario": "feed/firehol"}]});
    assert_eq!(app.call("POST", "/api/v1/decisions/import", Some(&ada.access), Some(&import)).await.status(), 201);
    for (query, expected) in [
        ("startup=true", vec!["192.0.2.10", "192.0.2.9", "198.51.100.0/24"]),
        ("startup=true&scopes=ip", vec!["192.0.2.10", "192.0.2.9"]),
        ("startup=true&scopes=Range", vec!["198.51.100.0/24"]),
        ("startup=true&scopes=bogus", vec![]),
        ("startup=true&origins=import", vec!["192.0.2.10"]),
        ("startup=true&origins=manual,import", vec!["192.0.2.10", "192.0.2.9", "198.51.100.0/24"]),
        ("startup=true&scenarios_containing=HTTP,firehol", vec!["192.0.2.10", "192.0.2.9"]),
        ("startup=true&scenarios_not_containing=range,feed", vec!["192.0.2.9"]),
        ("startup=true&type=captcha", vec!["192.0.2.9"]),
    ] {
        assert_eq!(values(&pull(&app, &key, query).await["new"]), expected, "{query}");
    }
    let lifted = pull(&app, &key, "startup=true").await;
    assert_eq!(values(&lifted["deleted"]), vec!["203.0.113.7"], "a startup tells what was lifted lately");

    // Lookups: an address inside a banned range matches it, unless `contains=false`.
    let lookup = |query: &str| {
        let (app, key) = (&app, &key);
        let path = format!("/v1/decisions?{query}");
        async move {
            let response = bouncer_get(app, key, &path).await;
            assert_eq!(response.status(), 200, "{path}");
            json_of(response).await
        }
    };
    assert_eq!(values(&lookup("ip=198.51.100.77").await), vec!["198.51.100.0/24"]);
    assert_eq!(lookup("ip=198.51.100.77&contains=false").await, Value::Null);
    assert_eq!(lookup("ip=203.0.113.99").await, Value::Null, "no decision is `null`");
    assert_eq!(values(&lookup("range=198.51.100.0/25").await), vec!["198.51.100.0/24"]);
    assert_eq!(values(&lookup("range=198.0.0.0/8&contains=false").await), vec!["198.51.100.0/24"]);
    assert_eq!(values(&lookup("value=192.0.2.9").await), vec!["192.0.2.9"]);
    assert_eq!(values(&lookup("type=captcha").await), vec!["192.0.2.9"]);
    assert_eq!(values(&lookup("ip=192.0.2.9&type=ban").await), Vec::<String>::new());
    assert_eq!(values(&lookup("scope=range").await), vec!["198.51.100.0/24"]);
    assert_eq!(values(&lookup("").await).len(), 3);
    let bad = bouncer_get(&app, &key, "/v1/decisions?ip=notanip").await;
    assert_eq!(bad.status(), 400);
    assert!(json_of(bad).await["message"].is_string());

    // The last pull is recorded within seconds, with the bouncer's address and version.
    let path = format!("/api/v1/bouncers/{id}");
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = json_of(app.call("GET", &path, Some(&ada.access), None).await).await;
        if seen["last_pull_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen["version"], "v0.0.28-test", "{seen}");
    assert_eq!(seen["last_ip"], "127.0.0.1");
    assert!(seen.get("key").is_none(), "the key is shown once");

    // Deleted, its key stops working at once.
    assert_eq!(app.call("DELETE", &path, Some(&ada.access), None).await.status(), 204);
    assert_eq!(bouncer_get(&app, &key, "/v1/decisions/stream").await.status(), 403);
}

#[rstest]
#[tokio::test]
async fn a_bouncer_sees_its_own_organisation_only(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let (_, ours) = bouncer(&app, &ada, "edge").await;
    let (_, theirs) = bouncer(&app, &bob, "edge").await;
    decide(&app, &ada, json!({"value": "203.0.113.7"})).await;
    decide(&app, &bob, json!({"value": "192.0.2.1"})).await;
    assert_eq!(values(&pull(&app, &ours, "startup=true").await["new"]), vec!["203.0.113.7"]);
    assert_eq!(values(&pull(&app, &theirs, "startup=true").await["new"]), vec!["192.0.2.1"]);
    assert_eq!(json_of(bouncer_get(&app, &theirs, "/v1/decisions?ip=203.0.113.7").await).await, Value::Null);
    let other = app.call("GET", "/api/v1/decisions", Some(&bob.access), None).await;
    assert_eq!(values(&json_of(other).await["items"]), vec!["192.0.2.1"]);
}

#[rstest]
#[tokio::test]
async fn firewalls_without_a_bouncer_read_an_export(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    decide(&app, &ada, json!({"value": "203.0.113.7", "duration": "1h"})).await;
    decide(&app, &ada, json!({"value": "203.0.113.7", "duration": "2h"})).await;
    decide(&app, &ada, json!({"value": "2001:db8::/48"})).await;
    decide(&app, &ada, json!({"value": "192.0.2.9", "kind": "captcha"})).await;
    let export = |query: &'static str| {
        let (app, ada) = (&app, &ada);
        async move { app.call("GET", &format!("/api/v1/decisions/export?{query}"), Some(&ada.access), None).await }
    };
    let plain = export("format=plain").await;
    assert_eq!(plain.status(), 200);
    assert!(plain.headers()["content-type"].to_str().expect("text").starts_with("text/plain"));
    let mut lines: Vec<String> = plain.text().await.expect("text").lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, vec!["2001:db8::/48", "203.0.113.7"], "each banned value once");
    let nft = export("format=nftables").await.text().await.expect("text");
    assert!(nft.contains("203.0.113.7 timeout 2h") || nft.contains("203.0.113.7 timeout 1h59m"), "{nft}");
    let captcha = export("format=plain&type=captcha").await.text().await.expect("text");
    assert_eq!(captcha, "192.0.2.9\n");
    let ipset = export("format=ipset").await.text().await.expect("text");
    assert!(ipset.contains("add rampart-v6 2001:db8::/48 timeout"), "{ipset}");
    assert_eq!(export("format=pf").await.status(), 422);
}

/// Waits until `path` lists `count` items (the policies decide once the outbox's dispatcher has
/// delivered the alert, a notice after the commit).
async fn until_listed(app: &TestApp, user: &TestUser, path: &str, count: usize) -> Value {
    for _ in 0..200 {
        let listed = json_of(app.call("GET", path, Some(&user.access), None).await).await;
        let items = listed.get("items").unwrap_or(&listed);
        if items.as_array().map(Vec::len) == Some(count) {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never listed {count} items");
}

#[rstest]
#[tokio::test]
async fn policies_ban_repeat_offenders_longer_and_dry_runs_only_record(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (_, node) = crate::helpers::create_node(&app, &ada, "trap", "agent").await;
    let create = |body: Value| {
        let (app, ada) = (&app, &ada);
        async move { app.call("POST", "/api/v1/policies", Some(&ada.access), Some(&body)).await }
    };
    let bad = create(json!({"name": "x", "durations": ["soon"]})).await;
    let bad = problem(bad, 422).await;
    let fields: Vec<&str> =
        bad["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"min_score") && fields.contains(&"durations[0]"), "{fields:?}");
    let escalating = create(json!({"name": "decoys", "min_score": 5, "durations": ["1h", "2h"]})).await;
    assert_eq!(escalating.status(), 201);
    let escalating = json_of(escalating).await;
    assert_eq!(escalating["durations"], json!(["1h0m0s", "2h0m0s"]));
    assert_eq!(escalating["repeat_window"], "720h0m0s");
    let dry = json_of(create(json!({"name": "dry", "min_events": 1, "dry_run": true})).await).await;

    // A first alert bans the source for the first duration…
    let touched = crate::helpers::ingest(&app, &node, &json!([crate::helpers::decoy("203.0.113.50")])).await;
    let first_alert = touched["accepted"][0]["alert_id"].as_str().expect("an alert").to_owned();
    let decided = until_listed(&app, &ada, "/api/v1/decisions?origin=policy", 1).await;
    let decision = &decided["items"][0];
    assert_eq!(
        (decision["value"].as_str(), decision["scenario"].as_str()),
        (Some("203.0.113.50"), Some("rampart/policy/decoys"))
    );
    assert_eq!(decision["alert_id"].as_str(), Some(first_alert.as_str()));
    // How long it lasts, to the second (its end is set when the policy decides, a moment
    // before the row is written).
    let span = |decision: &Value| {
        let at = |field: &str| {
            decision[field].as_str().expect("time").parse::<chrono::DateTime<chrono::Utc>>().expect("time")
        };
        chrono::Duration::seconds((at("until") - at("created_at")).num_milliseconds().saturating_add(500) / 1000)
    };
    assert_eq!(span(decision), chrono::Duration::hours(1));

    // …and again after the alert is resolved: a repeat, for the next duration.
    let resolve = json!({"status": "resolved", "note": "seen"});
    let path = format!("/api/v1/alerts/{first_alert}");
    assert_eq!(app.call("PATCH", &path, Some(&ada.access), Some(&resolve)).await.status(), 200);
    crate::helpers::ingest(&app, &node, &json!([crate::helpers::decoy("203.0.113.50")])).await;
    let decided = until_listed(&app, &ada, "/api/v1/decisions?origin=policy", 2).await;
    assert_eq!(span(&decided["items"][0]), chrono::Duration::hours(2), "the newest is the repeat's");
    let hits_path = format!("/api/v1/policies/{}/hits", escalating["id"].as_str().expect("id"));
    let hits = until_listed(&app, &ada, &hits_path, 2).await;
    assert!(hits.as_array().expect("hits").iter().all(|hit| hit["outcome"] == "decided"));

    // The dry run records what it would have done, and does nothing.
    let dry_hits = format!("/api/v1/policies/{}/hits", dry["id"].as_str().expect("id"));
    let hits = until_listed(&app, &ada, &dry_hits, 2).await;
    assert!(
        hits.as_array().expect("hits").iter().all(|hit| hit["outcome"] == "dry_run" && hit["decision_id"].is_null())
    );
    let all = json_of(app.call("GET", "/api/v1/decisions?scenario=rampart/policy/dry", Some(&ada.access), None).await);
    assert_eq!(all.await["items"], json!([]));

    // A source on the allowlist is left alone, and the hit says why.
    let allow = json!({"value": "198.51.100.9"});
    assert_eq!(app.call("POST", "/api/v1/allowlist", Some(&ada.access), Some(&allow)).await.status(), 201);
    crate::helpers::ingest(&app, &node, &json!([crate::helpers::decoy("198.51.100.9")])).await;
    let hits = until_listed(&app, &ada, &hits_path, 3).await;
    assert_eq!((hits[0]["value"].as_str(), hits[0]["outcome"].as_str()), (Some("198.51.100.9"), Some("allowlisted")));
    assert_eq!(
        until_listed(&app, &ada, "/api/v1/decisions?origin=policy", 2).await["items"].as_array().map(Vec::len),
        Some(2)
    );

    // Switched off, a policy takes no more alerts.
    let off = json!({"name": "decoys", "min_score": 5, "enabled": false});
    let path = format!("/api/v1/policies/{}", escalating["id"].as_str().expect("id"));
    let updated = json_of(app.call("PUT", &path, Some(&ada.access), Some(&off)).await).await;
    assert_eq!(updated["enabled"], false);
    assert_eq!(
        app.call("DELETE", &format!("/api/v1/policies/{}", dry["id"].as_str().expect("id")), Some(&ada.access), None)
            .await
            .status(),
        204
    );
}
