//! `/api/v1/findings` and `/api/v1/changes` through the router: a report imported twice is one
//! finding seen twice; triage needs an analyst, says why, is audited and kept in the finding's
//! history; a bulk change is all or nothing; another organisation's findings do not exist.

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, json_of, problem};

/// A SARIF report of two results: a critical one and a note.
const SARIF: &str = r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": [
  {"ruleId": "python.sql-injection", "level": "error", "message": {"text": "SQL built from user input"},
   "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app/db.py"}, "region": {"startLine": 42}}}]},
  {"ruleId": "python.debug", "level": "note", "message": {"text": "Debug left on"},
   "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app/settings.py"}, "region": {"startLine": 3}}}]}
]}]}"#;

async fn import(app: &TestApp, user: &TestUser, report: &str) {
    let response = app.import(user, "format=sarif&source=semgrep.sarif", report.to_owned()).await;
    assert_eq!(response.status(), 201, "imported");
}

async fn findings(app: &TestApp, user: &TestUser, query: &str) -> Vec<Value> {
    let page = json_of(app.call("GET", &format!("/api/v1/findings?{query}"), Some(&user.access), None).await).await;
    page["items"].as_array().unwrap_or_else(|| panic!("a page: {page}")).clone()
}

#[rstest]
#[tokio::test]
async fn a_report_imported_twice_is_one_finding_per_issue_seen_twice(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    import(&app, &ada, SARIF).await;
    import(&app, &ada, SARIF).await;

    let listed = findings(&app, &ada, "").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["severity"], "high", "the most severe first");
    assert_eq!(listed[0]["asset"], "app/db.py");
    assert_eq!(listed[0]["location"], "line 42");
    assert_eq!(listed[0]["occurrences"], 2);
    assert_eq!(listed[0]["tools"], json!(["import"]));
    assert_eq!(listed[0]["status"], "open");
    assert!(listed[0]["due_at"].is_string() && listed[0]["overdue"] == false);
    assert_eq!(findings(&app, &ada, "severity=low").await.len(), 1);
    assert_eq!(findings(&app, &ada, "q=SQL").await.len(), 1);
    assert_eq!(findings(&app, &ada, "sort=severity").await[0]["severity"], "low");

    let id = listed[0]["id"].as_str().expect("id");
    let detail = json_of(app.call("GET", &format!("/api/v1/findings/{id}"), Some(&ada.access), None).await).await;
    assert_eq!(detail["runs"].as_array().map(Vec::len), Some(2), "{detail}");
    assert_eq!(detail["history"], json!([]));

    let changes = json_of(app.call("GET", "/api/v1/changes?kind=finding_new", Some(&ada.access), None).await).await;
    assert_eq!(changes["items"].as_array().map(Vec::len), Some(2), "new once each: {changes}");
    let summary = json_of(app.call("GET", "/api/v1/findings/summary", Some(&ada.access), None).await).await;
    assert_eq!(summary["total"], 2);
    assert_eq!(summary["by_severity"], json!({"high": 1, "low": 1}));
    assert_eq!(summary["by_tool"], json!({"import": 2}));

    // Bad filters are named.
    let bad = app.call("GET", "/api/v1/findings?severity=severe&sort=title", Some(&ada.access), None).await;
    let body = problem(bad, 422).await;
    assert!(body.to_string().contains("severity") || body.to_string().contains("sort"), "{body}");
}

#[rstest]
#[tokio::test]
async fn triage_needs_an_analyst_says_why_and_is_audited(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let ana = app.member_of(&ada, "ana", "analyst").await;
    let bob = app.register("bob").await;
    import(&app, &ada, SARIF).await;
    let listed = findings(&app, &ada, "").await;
    let id = listed[0]["id"].as_str().expect("id");
    let path = format!("/api/v1/findings/{id}");

    let judged = json!({"status": "false_positive", "note": "test fixture, not production code"});
    assert_eq!(app.call("PATCH", &path, Some(&vic.access), Some(&judged)).await.status(), 403);
    assert_eq!(app.call("PATCH", &path, Some(&bob.access), Some(&judged)).await.status(), 404);
    assert_eq!(app.call("GET", &path, Some(&bob.access), None).await.status(), 404);
    let unexplained = app.call("PATCH", &path, Some(&ana.access), Some(&json!({"status": "false_positive"}))).await;
    assert_eq!(problem(unexplained, 422).await["errors"][0]["field"], "note");
    let stranger = json!({"assignee": bob.id});
    let refused = app.call("PATCH", &path, Some(&ana.access), Some(&stranger)).await;
    assert_eq!(problem(refused, 422).await["errors"][0]["field"], "assignee");
    let forever = json!({"status": "accepted", "note": "fine"});
    let refused = app.call("PATCH", &path, Some(&ana.access), Some(&forever)).await;
    assert_eq!(problem(refused, 422).await["errors"][0]["field"], "accepted_until");

    let changed = json_of(app.call("PATCH", &path, Some(&ana.access), Some(&judged)).await).await;
    assert_eq!(changed["status"], "false_positive");
    let assigned = json_of(app.call("PATCH", &path, Some(&ana.access), Some(&json!({"assignee": vic.id}))).await).await;
    assert_eq!(assigned["assignee"], json!(vic.id));
    assert_eq!(findings(&app, &ada, &format!("assignee={}", vic.id)).await.len(), 1);

    let detail = json_of(app.call("GET", &path, Some(&vic.access), None).await).await;
    let history = detail["history"].as_array().expect("history");
    assert_eq!(history.len(), 2, "{detail}");
    assert_eq!(history[0]["status"], "false_positive");
    assert_eq!(history[0]["note"], "test fixture, not production code");
    assert_eq!(history[0]["actor_id"], json!(ana.id));
    assert_eq!((history[1]["assigned"].clone(), history[1]["assignee"].clone()), (json!(true), json!(vic.id)));
    let audit = json_of(app.call("GET", "/api/v1/audit?action=finding.update", Some(&ada.access), None).await).await;
    let events = audit["items"].as_array().expect("items");
    assert_eq!(events.len(), 2, "{audit}");
    assert!(events.iter().any(|event| event["detail"].as_str().is_some_and(|d| d.contains("why: test fixture"))));
    assert!(events.iter().all(|event| event["target"] == format!("finding:{id}")));

    // Seen again, a false positive stays one.
    import(&app, &ada, SARIF).await;
    let again = json_of(app.call("GET", &path, Some(&ada.access), None).await).await;
    assert_eq!((again["status"].clone(), again["occurrences"].clone()), (json!("false_positive"), json!(2)));
}

#[rstest]
#[tokio::test]
async fn a_bulk_change_is_all_or_nothing_within_the_organisation(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    import(&app, &ada, SARIF).await;
    import(&app, &bob, SARIF).await;
    let mine: Vec<Value> = findings(&app, &ada, "").await.iter().map(|f| f["id"].clone()).collect();
    let theirs = findings(&app, &bob, "").await[0]["id"].clone();

    let mixed = json!({"ids": [mine[0], theirs], "status": "acknowledged"});
    assert_eq!(app.call("POST", "/api/v1/findings/bulk", Some(&ada.access), Some(&mixed)).await.status(), 404);
    assert_eq!(findings(&app, &ada, "status=acknowledged").await.len(), 0, "nothing changed");
    assert_eq!(findings(&app, &bob, "status=acknowledged").await.len(), 0);

    let empty = app.call("POST", "/api/v1/findings/bulk", Some(&ada.access), Some(&json!({"ids": []}))).await;
    assert_eq!(problem(empty, 422).await["errors"][0]["field"], "ids");

    let all = json!({"ids": [mine[0], mine[1], mine[0]], "status": "acknowledged", "note": "triaged"});
    let changed = json_of(app.call("POST", "/api/v1/findings/bulk", Some(&ada.access), Some(&all)).await).await;
    assert_eq!(changed.as_array().map(Vec::len), Some(2), "each once: {changed}");
    assert_eq!(findings(&app, &ada, "status=acknowledged").await.len(), 2);
    let audit = json_of(app.call("GET", "/api/v1/audit?action=finding.update", Some(&ada.access), None).await).await;
    assert_eq!(audit["items"][0]["target"], "findings:2", "one event for the bulk change");
}

#[rstest]
#[tokio::test]
async fn findings_export_in_every_format_and_a_run_has_its_report(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    import(&app, &ada, SARIF).await;
    let run = json_of(app.call("GET", "/api/v1/executions?tool=import", Some(&ada.access), None).await).await;
    let run = run["items"][0]["id"].as_str().expect("the import").to_owned();

    let get = |path: String, user: &TestUser| {
        let (app, token) = (&app, user.access.clone());
        async move { app.call("GET", &path, Some(&token), None).await }
    };
    let json = get("/api/v1/findings/export?format=json&severity=high".into(), &ada).await;
    assert_eq!(json.status(), 200);
    assert_eq!(json.headers()["content-type"], "application/json");
    assert!(json.headers()["content-disposition"].to_str().expect("text").contains("findings.json"));
    let json: Value = json.json().await.expect("JSON");
    assert_eq!(json["findings"].as_array().map(Vec::len), Some(1), "filtered: {json}");
    assert_eq!(json["criteria"]["severity"], "high");

    let csv = get("/api/v1/findings/export?format=csv".into(), &ada).await.text().await.expect("CSV");
    assert_eq!(csv.lines().count(), 3, "a header and two rows: {csv}");
    let sarif: Value = get("/api/v1/findings/export?format=sarif".into(), &ada).await.json().await.expect("SARIF");
    assert_eq!(sarif["version"], "2.1.0");
    let html = get("/api/v1/findings/export?format=html".into(), &ada).await.text().await.expect("HTML");
    assert!(html.contains("SQL built from user input"));
    let pdf = get("/api/v1/findings/export?format=pdf".into(), &ada).await;
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.expect("PDF").starts_with(b"%PDF-"));

    let report: Value = get(format!("/api/v1/executions/{run}/report"), &ada).await.json().await.expect("JSON");
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(2), "{report}");
    assert_eq!(get(format!("/api/v1/executions/{run}/report"), &bob).await.status(), 404);
    let theirs: Value = get("/api/v1/findings/export?format=json".into(), &bob).await.json().await.expect("JSON");
    assert_eq!(theirs["findings"], json!([]), "another organisation's findings are not in its export");
    let bad = get("/api/v1/findings/export?format=docx".into(), &ada).await;
    assert_eq!(problem(bad, 422).await["errors"][0]["field"], "format");
}

#[rstest]
#[tokio::test]
async fn an_imported_scan_fills_the_inventory_and_each_asset_lists_its_findings(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let nmap = r#"<nmaprun><host><status state="up"/><address addr="10.0.0.5" addrtype="ipv4"/><ports>
        <port protocol="tcp" portid="6379"><state state="open"/><service name="redis"/></port>
        <port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port>
        </ports></host></nmaprun>"#;
    assert_eq!(app.import(&ada, "format=nmap_xml", nmap).await.status(), 201);

    let assets = json_of(app.call("GET", "/api/v1/assets?kind=service", Some(&ada.access), None).await).await;
    let services = assets["items"].as_array().expect("items");
    let values: Vec<&str> = services.iter().filter_map(|asset| asset["value"].as_str()).collect();
    assert_eq!(values.len(), 2, "{assets}");
    assert!(values.contains(&"10.0.0.5:tcp/6379") && values.contains(&"10.0.0.5:tcp/22"), "{values:?}");
    let redis = services.iter().find(|asset| asset["value"] == "10.0.0.5:tcp/6379").expect("redis");
    assert_eq!(redis["data"]["name"], "redis");
    let on_host = json_of(app.call("GET", "/api/v1/assets?host=10.0.0.5", Some(&ada.access), None).await).await;
    assert_eq!(on_host["items"].as_array().map(Vec::len), Some(3), "the host and its two services: {on_host}");

    let path = format!("/api/v1/assets/{}", redis["id"].as_str().expect("id"));
    let detail = json_of(app.call("GET", &path, Some(&ada.access), None).await).await;
    let findings = detail["findings"].as_array().expect("findings");
    assert!(!findings.is_empty(), "an exposed Redis is a finding: {detail}");
    assert!(findings.iter().all(|finding| finding["location"] == "tcp/6379"), "only that port's: {detail}");
    assert_eq!(app.call("GET", &path, Some(&bob.access), None).await.status(), 404);
    let opened = json_of(app.call("GET", "/api/v1/changes?kind=port_opened", Some(&ada.access), None).await).await;
    assert_eq!(opened["items"].as_array().map(Vec::len), Some(2), "{opened}");
}
