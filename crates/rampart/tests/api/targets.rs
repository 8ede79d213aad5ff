//! Targets and scope checks through the API, on SQLite and PostgreSQL.

use rstest::rstest;
use serde_json::json;

use crate::helpers::{Backend, TestApp, json_of, problem};

#[rstest]
#[tokio::test]
async fn targets_are_created_normalised_listed_changed_and_deleted(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());

    let created = app
        .call(
            "POST",
            "/api/v1/targets",
            token,
            Some(&json!({"value": "10.0.7.1/16", "ports": "443,80", "tags": ["Prod"]})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let net = json_of(created).await;
    assert_eq!(
        (net["kind"].as_str(), net["value"].as_str(), net["ports"].as_str()),
        (Some("cidr"), Some("10.0.0.0/16"), Some("80,443"))
    );
    assert_eq!(net["tags"], json!(["prod"]));
    let name =
        json_of(app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "WWW.Bücher.Example."}))).await).await;
    assert_eq!(name["value"], "www.xn--bcher-kva.example");
    app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "10.0.5.0/24", "exclude": true}))).await;

    problem(app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "10.0.0.0/16"}))).await, 409).await;
    let bad =
        problem(app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "127.1", "ports": "0"}))).await, 422)
            .await;
    let fields: Vec<&str> =
        bad["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["value", "ports"]);
    problem(app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "--script=x"}))).await, 422).await;

    let all = json_of(app.call("GET", "/api/v1/targets", token, None).await).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3));
    let excluded = json_of(app.call("GET", "/api/v1/targets?exclude=true", token, None).await).await;
    assert_eq!(excluded["items"][0]["value"], "10.0.5.0/24");
    let hosts = json_of(app.call("GET", "/api/v1/targets?kind=host&q=bcher", token, None).await).await;
    assert_eq!(hosts["items"].as_array().map(Vec::len), Some(1));
    let tagged = json_of(app.call("GET", "/api/v1/targets?tag=prod&limit=1", token, None).await).await;
    assert_eq!(tagged["items"][0]["id"], net["id"]);
    assert_eq!(
        problem(app.call("GET", "/api/v1/targets?kind=planet", token, None).await, 422).await["errors"][0]["field"],
        "kind"
    );

    let path = format!("/api/v1/targets/{}", net["id"].as_str().expect("id"));
    let cleared =
        json_of(app.call("PATCH", &path, token, Some(&json!({"ports": null, "note": "all ports now"}))).await).await;
    assert!(cleared["ports"].is_null());
    assert_eq!(cleared["note"], "all ports now");
    let kept = json_of(app.call("PATCH", &path, token, Some(&json!({"tags": ["a", "b"]}))).await).await;
    assert!(kept["ports"].is_null() && kept["note"] == "all ports now", "absent fields are kept: {kept}");
    assert_eq!(
        problem(app.call("PATCH", &path, token, Some(&json!({"ports": "x"}))).await, 422).await["errors"][0]["field"],
        "ports"
    );
    problem(app.call("PATCH", &path, token, Some(&json!({"value": "10.9.0.0/16"}))).await, 422).await;

    assert_eq!(app.call("DELETE", &path, token, None).await.status(), 204);
    problem(app.call("GET", &path, token, None).await, 404).await;

    let audit = json_of(app.call("GET", "/api/v1/audit?limit=500", token, None).await).await;
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["target.create", "target.update", "target.delete"] {
        assert!(actions.contains(&action), "{action} is audited: {actions:?}");
    }
}

#[rstest]
#[tokio::test]
async fn a_bulk_import_creates_the_good_lines_and_reports_the_rest(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    app.call("POST", "/api/v1/targets", Some(&ada.access), Some(&json!({"value": "db.example.com"}))).await;
    let text = "# office\n10.0.0.0/16\n\n*.example.com\ndb.example.com\n10.0.0.0/33\n-oX\n10.0.0.9/16\n";

    let response = app
        .client
        .post(app.url("/api/v1/targets/bulk?tags=imported&ports=443"))
        .bearer_auth(&ada.access)
        .header("content-type", "text/plain")
        .body(text)
        .send()
        .await
        .expect("sent");
    let report = json_of(response).await;

    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(
        report["duplicates"],
        json!([{"line": 5, "value": "db.example.com"}, {"line": 8, "value": "10.0.0.9/16"}])
    );
    let errors: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["line"].as_u64().expect("line"), e["value"].as_str().expect("value")))
        .collect();
    assert_eq!(errors, [(6, "10.0.0.0/33"), (7, "-oX")]);
    let imported = json_of(app.call("GET", "/api/v1/targets?tag=imported", Some(&ada.access), None).await).await;
    assert!(imported["items"].as_array().expect("items").iter().all(|t| t["ports"] == "443"));

    let as_json = json_of(
        app.call("POST", "/api/v1/targets/bulk", Some(&ada.access), Some(&json!(["192.0.2.1", "nope..x"]))).await,
    )
    .await;
    assert_eq!((as_json["created"].as_u64(), as_json["errors"][0]["line"].as_u64()), (Some(1), Some(2)));

    let too_many: Vec<String> = (0..10_001).map(|i| format!("10.{}.{}.1", i / 256, i % 256)).collect();
    problem(app.call("POST", "/api/v1/targets/bulk", Some(&ada.access), Some(&json!(too_many))).await, 413).await;
    let xml = app
        .client
        .post(app.url("/api/v1/targets/bulk"))
        .bearer_auth(&ada.access)
        .header("content-type", "application/xml")
        .body("<a/>");
    problem(xml.send().await.expect("sent"), 415).await;
    let total = json_of(app.call("GET", "/api/v1/targets?limit=500", Some(&ada.access), None).await).await;
    assert_eq!(total["items"].as_array().map(Vec::len), Some(4), "nothing from the refused imports");
}

#[rstest]
#[tokio::test]
async fn the_scope_check_says_in_or_out_and_why(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let token = Some(ada.access.as_str());
    for body in [
        json!({"value": "10.0.0.0/16"}),
        json!({"value": "10.0.5.0/24", "exclude": true}),
        json!({"value": "*.example.com", "ports": "443"}),
        json!({"value": "127.0.0.0/8"}),
    ] {
        assert_eq!(app.call("POST", "/api/v1/targets", token, Some(&body)).await.status(), 201);
    }
    let own_api = format!("127.0.0.1:{}", app.addr.port());
    let inputs = json!({"targets": ["10.0.4.2:22", "10.0.5.9", "www.EXAMPLE.com.:443", "www.example.com:80", "example.com", "169.254.169.254:80", own_api, "127.0.0.1:1", "127.1", "::ffff:10.0.4.2"]});

    let results = json_of(app.call("POST", "/api/v1/scope/check", token, Some(&inputs)).await).await;
    let answers: Vec<bool> =
        results["results"].as_array().expect("results").iter().map(|r| r["in_scope"] == true).collect();
    assert_eq!(answers, [true, false, true, false, false, false, false, true, false, true], "{results}");
    let reason = |i: usize| results["results"][i]["reason"].as_str().expect("reason").to_owned();
    assert!(reason(1).contains("excluded by target 10.0.5.0/24"), "{}", reason(1));
    assert!(reason(3).contains("only ports 443"), "{}", reason(3));
    // Refused by the server's policy, without telling the policy or the server's socket.
    for denied in [5, 6] {
        assert_eq!(reason(denied), "out of scope: denied by the server's policy", "{results}");
    }
    assert!(reason(8).contains("ambiguous"), "{}", reason(8));
    assert_eq!(results["results"][2]["host"], "www.example.com");
    assert_eq!(results["results"][9]["host"], "10.0.4.2");

    let other = json_of(
        app.call("POST", "/api/v1/scope/check", Some(&bob.access), Some(&json!({"targets": ["10.0.4.2"]}))).await,
    )
    .await;
    assert_eq!(other["results"][0]["in_scope"], false, "another organisation's scope is its own");
    let too_many: Vec<String> = (0..1001).map(|i| format!("10.0.0.{}", i % 250)).collect();
    problem(app.call("POST", "/api/v1/scope/check", token, Some(&json!({"targets": too_many}))).await, 422).await;
}

/// PostgreSQL cannot store a NUL in text or JSON: free text with one is refused with the field
/// named on both backends, and a refusal that quotes one is still recorded, never a 500.
#[rstest]
#[tokio::test]
async fn text_with_a_nul_is_refused_by_field_on_both_backends(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());

    let cases = [
        ("/api/v1/targets", json!({"value": "10.0.0.1", "note": "a\u{0}b"}), "note"),
        ("/api/v1/targets", json!({"value": "10.0.0.2", "note": "\u{1b}[2J"}), "note"),
        ("/api/v1/executions", json!({"tool": "noop", "params": {"targets": ["a\u{0}b"]}}), "params.targets[0]"),
    ];
    for (path, body, field) in cases {
        let refused = problem(app.call("POST", path, token, Some(&body)).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{path} {body}: {refused}");
    }
    let audit = json_of(app.call("GET", "/api/v1/audit?action=scope.refused", token, None).await).await;
    let detail = audit["items"][0]["detail"].as_str().expect("the refusal is recorded");
    assert!(detail.contains("a\u{FFFD}b"), "{detail}");

    let kept = app
        .call("POST", "/api/v1/targets", token, Some(&json!({"value": "10.0.0.3", "note": "line\nbreak\ttab"})))
        .await;
    assert_eq!(kept.status(), 201, "line breaks and tabs are text");

    // A node's metadata is what its owner says of it: a NUL there is kept as U+FFFD.
    let metadata = json!({"site": "b\u{0}", "a\u{0}": {"deep": ["c\u{0}"]}});
    let node = app
        .call("POST", "/api/v1/nodes", token, Some(&json!({"name": "n1", "kind": "honeypot", "metadata": metadata})))
        .await;
    assert_eq!(node.status(), 201);
    let stored = json_of(node).await["metadata"].clone();
    assert_eq!(stored, json!({"site": "b\u{FFFD}", "a\u{FFFD}": {"deep": ["c\u{FFFD}"]}}));
}

/// A filter neither database can compare (a NUL, a time before year 1 or after 9999) is a 422
/// naming the parameter on both backends, never a 500.
#[rstest]
#[tokio::test]
async fn filters_a_database_cannot_compare_are_refused_by_parameter(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());

    let long = "x".repeat(201);
    let cases = [
        ("/api/v1/targets?q=%00".to_owned(), "q"),
        ("/api/v1/targets?tag=a%00".to_owned(), "tag"),
        (format!("/api/v1/targets?q={long}"), "q"),
        ("/api/v1/executions?tool=%00".to_owned(), "tool"),
        ("/api/v1/executions?since=-200000-01-01T00:00:00Z".to_owned(), "since"),
        ("/api/v1/alerts?since=-200000-01-01T00:00:00Z".to_owned(), "since"),
        ("/api/v1/audit?since=-200000-01-01T00:00:00Z".to_owned(), "since"),
        ("/api/v1/audit?until=%2B200000-01-01T00:00:00Z".to_owned(), "until"),
    ];
    for (path, field) in cases {
        let refused = problem(app.call("GET", &path, token, None).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{path}: {refused}");
    }
    let listed = app.call("GET", "/api/v1/executions?since=2026-01-01T00:00:00Z&tool=noop", token, None).await;
    assert_eq!(listed.status(), 200);
}

/// The peak resident memory of this process so far, in bytes (Linux).
fn peak_resident() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux's /proc");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse::<usize>().ok()).expect("a size in kB") * 1024
}

/// A bulk import past its 10,000 lines is refused without a string made for every line: a body
/// of a million empty lines (or array entries) takes no more memory than a few of them.
#[rstest]
#[tokio::test]
async fn a_bulk_import_of_a_million_lines_is_refused_in_bounded_memory(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let text = "\n".repeat((1 << 20) - 1);
    let array = format!("[{}\"\"]", "\"\",".repeat(((1 << 20) - 8) / 3));
    let before = peak_resident();

    for (content_type, body) in [("text/plain", text), ("application/json", array)] {
        let sent = app
            .client()
            .post(app.url("/api/v1/targets/bulk"))
            .bearer_auth(&ada.access)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sent");
        problem(sent, 413).await;
    }

    let grown = peak_resident().saturating_sub(before);
    assert!(grown < 12 << 20, "refusing the imports grew the peak resident memory by {grown} bytes");
}

/// A target's ports are bounded: a bulk import stores them once for every line.
#[rstest]
#[tokio::test]
async fn a_targets_ports_are_bounded_where_they_are_written(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());
    // Every other port: more than 1,000 characters that merge to nothing shorter.
    let mut ports = String::from("1");
    let mut port = 1;
    while ports.len() <= 1000 {
        port += 2;
        ports.push_str(&format!(",{port}"));
    }

    let refused = problem(
        app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "10.0.0.1", "ports": ports}))).await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "ports", "{refused}");
    let bulk = app
        .client()
        .post(app.url(&format!("/api/v1/targets/bulk?ports={ports}")))
        .bearer_auth(&ada.access)
        .header("content-type", "text/plain")
        .body("10.0.0.2\n10.0.0.3");
    let refused = problem(bulk.send().await.expect("sent"), 422).await;
    assert_eq!(refused["errors"][0]["field"], "ports", "{refused}");

    let created = json_of(app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "10.0.0.4"}))).await).await;
    let path = format!("/api/v1/targets/{}", created["id"].as_str().expect("id"));
    let refused = problem(app.call("PATCH", &path, token, Some(&json!({"ports": ports}))).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "ports", "{refused}");
    let total = json_of(app.call("GET", "/api/v1/targets", token, None).await).await;
    assert_eq!(total["items"].as_array().map(Vec::len), Some(1), "nothing else stored");
}
