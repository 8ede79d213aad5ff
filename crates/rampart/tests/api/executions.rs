//! Tools and their runs through the API, with the in-process workers, on SQLite and PostgreSQL.

use std::time::Duration;

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDatabase, TestUser, json_of, problem};

/// A server whose workers renew leases quickly, so that cancels are heard within a second.
async fn spawn(backend: Backend, configure: impl FnOnce(&mut rampart::config::Config)) -> TestApp {
    TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.engine.lease = Duration::from_secs(1);
        configure(config);
    })
    .await
}

async fn submit(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let response = app.call("POST", "/api/v1/executions", Some(&user.access), Some(&body)).await;
    assert_eq!(response.status(), 202, "queued");
    json_of(response).await
}

/// Polls the run until `done` says so; fails after 20 seconds.
async fn wait_for(app: &TestApp, user: &TestUser, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let run = json_of(app.call("GET", &format!("/api/v1/executions/{id}"), Some(&user.access), None).await).await;
        if done(&run) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} never reached the expected state");
}

fn is_final(run: &Value) -> bool {
    ["succeeded", "failed", "cancelled", "timed_out"].contains(&run["status"].as_str().unwrap_or_default())
}

#[rstest]
#[tokio::test]
async fn a_run_goes_from_queued_to_succeeded_with_progress_logs_and_result(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;

    let queued = submit(&app, &ada, json!({"tool": "noop", "params": {"sleep_ms": 300}})).await;
    assert_eq!(queued["status"], "queued");
    let id = queued["id"].as_str().expect("id").to_owned();
    let done = wait_for(&app, &ada, &id, is_final).await;

    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!((done["progress"].as_u64(), done["attempt"].as_u64()), (Some(100), Some(1)));
    assert_eq!(done["result"], json!({"slept_ms": 300, "targets": []}));
    assert!(done["duration_ms"].as_i64().is_some_and(|ms| ms >= 300), "{done}");
    assert_eq!(done["actor_id"], ada.id.to_string());
    let logs = json_of(app.call("GET", &format!("/api/v1/executions/{id}/logs"), Some(&ada.access), None).await).await;
    assert_eq!(logs["items"][0]["line"], "waiting 300 ms");
    let listed =
        json_of(app.call("GET", "/api/v1/executions?tool=noop&status=succeeded", Some(&ada.access), None).await).await;
    assert_eq!(listed["items"][0]["id"], id.as_str());

    let via_tool =
        app.call("POST", "/api/v1/tools/noop/execute", Some(&ada.access), Some(&json!({"fail": true}))).await;
    let failing = json_of(via_tool).await;
    let failed = wait_for(&app, &ada, failing["id"].as_str().expect("id"), is_final).await;
    assert_eq!((failed["status"].as_str(), failed["error"].as_str()), (Some("failed"), Some("asked to fail")));
}

#[rstest]
#[tokio::test]
async fn bad_requests_and_out_of_scope_targets_queue_nothing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());
    app.call("POST", "/api/v1/targets", token, Some(&json!({"value": "10.0.0.0/8"}))).await;

    let cases = [
        (json!({"tool": "nmap-but-not-really", "params": {}}), "tool"),
        (json!({"tool": "noop", "params": {"sleep_ms": "soon"}}), "params.sleep_ms"),
        (json!({"tool": "noop", "params": {"sleep_ms": 600001}}), "params.sleep_ms"),
        (json!({"tool": "noop", "params": {"colour": "blue"}}), "params.colour"),
        (json!({"tool": "noop", "params": {}, "timeout_seconds": 0}), "timeout_seconds"),
        (
            json!({"tool": "noop", "params": {"targets": ["10.1.2.3", "192.0.2.1:80", "10.9.9.9:22"]}}),
            "params.targets[1]",
        ),
        // A refusal names the parameter that holds the target, whatever the tool calls it.
        (
            json!({"tool": "dns_lookup", "params": {"names": ["10.1.2.3", "192.0.2.7"], "resolvers": ["10.0.0.53"]}}),
            "params.names[1]",
        ),
        (
            json!({"tool": "dns_lookup", "params": {"names": ["10.1.2.3"], "resolvers": ["10.0.0.53", "192.0.2.53"]}}),
            "params.resolvers[1]",
        ),
        (
            json!({"tool": "http_probe", "params": {"urls": ["http://10.1.1.1/", "http://192.0.2.8/"]}}),
            "params.urls[1]",
        ),
        (json!({"tool": "secret_scan", "params": {"repository": "https://192.0.2.9/repo.git"}}), "params.repository"),
    ];
    for (body, field) in cases {
        let refused = problem(app.call("POST", "/api/v1/executions", token, Some(&body)).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
    }
    let scope = problem(
        app.call(
            "POST",
            "/api/v1/executions",
            token,
            Some(&json!({"tool": "noop", "params": {"targets": ["192.0.2.1:80", "-oX"]}})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(scope["errors"].as_array().map(Vec::len), Some(2), "every out-of-scope target is named: {scope}");

    let runs = json_of(app.call("GET", "/api/v1/executions", token, None).await).await;
    assert_eq!(runs["items"].as_array().map(Vec::len), Some(0), "nothing was queued");
    let audit = json_of(app.call("GET", "/api/v1/audit?action=scope.refused", token, None).await).await;
    assert!(!audit["items"].as_array().expect("items").is_empty());
}

#[rstest]
#[tokio::test]
async fn a_run_names_a_bounded_number_of_targets_and_a_refusal_stores_a_bounded_detail(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());

    let too_many: Vec<String> = (0..1001).map(|i| format!("192.0.2.{}", i % 250)).collect();
    let refused = problem(
        app.call("POST", "/api/v1/executions", token, Some(&json!({"tool": "noop", "params": {"targets": too_many}})))
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"].as_array().map(Vec::len), Some(1), "one error, not one per target");
    assert_eq!(refused["errors"][0]["field"], "params.targets", "{refused}");

    // As many as a run may name, none in scope: each is named in the answer, but the audit keeps a line.
    let most: Vec<String> = (0..1000).map(|i| format!("192.0.2.{}", i % 250)).collect();
    let refused = problem(
        app.call("POST", "/api/v1/executions", token, Some(&json!({"tool": "noop", "params": {"targets": most}})))
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"].as_array().map(Vec::len), Some(1000));

    // More refused targets than an answer lists: the first are named, the rest counted.
    let many: Vec<String> = (0..1500).map(|i| format!("192.0.2.{}", i % 250)).collect();
    let body = json!({"tool": "tcp_scan", "params": {"targets": many, "ports": "22"}});
    let refused = problem(app.call("POST", "/api/v1/executions", token, Some(&body)).await, 422).await;
    assert_eq!(
        refused["errors"].as_array().map(Vec::len),
        Some(rampart_core::validation::ERRORS_MAX),
        "{}",
        refused["detail"]
    );
    assert_eq!(refused["detail"], "the request has invalid fields; 500 more are not listed");
    let audit = json_of(app.call("GET", "/api/v1/audit?action=scope.refused", token, None).await).await;
    let detail = audit["items"][0]["detail"].as_str().expect("a detail");
    assert!(detail.chars().count() <= rampart_core::identity::DETAIL_MAX, "{} characters", detail.len());
    assert!(detail.starts_with("params.targets[0]: 192.0.2.0"), "{detail}");
}

#[rstest]
#[tokio::test]
async fn a_queued_run_and_a_running_run_can_be_cancelled(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |config| config.engine.per_org = 1).await;
    let ada = app.register("ada").await;

    let running = submit(&app, &ada, json!({"tool": "noop", "params": {"sleep_ms": 60000}})).await;
    let running_id = running["id"].as_str().expect("id").to_owned();
    wait_for(&app, &ada, &running_id, |run| run["status"] == "running").await;
    // One at a time for this organisation: the second waits in the queue.
    let queued = submit(&app, &ada, json!({"tool": "noop", "params": {"sleep_ms": 60000}})).await;
    let queued_id = queued["id"].as_str().expect("id").to_owned();

    let cancelled = app.call("POST", &format!("/api/v1/executions/{queued_id}/cancel"), Some(&ada.access), None).await;
    assert_eq!(cancelled.status(), 202);
    assert_eq!(json_of(cancelled).await["status"], "cancelled", "a queued run ends at once");
    let asked = app.call("POST", &format!("/api/v1/executions/{running_id}/cancel"), Some(&ada.access), None).await;
    let asked = json_of(asked).await;
    assert_eq!(asked["cancel_requested"], true);
    let ended = wait_for(&app, &ada, &running_id, is_final).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    let again = wait_for(&app, &ada, &queued_id, is_final).await;
    assert_eq!(again["attempt"], 0, "a cancelled queued run is never started");
}

#[rstest]
#[tokio::test]
async fn a_run_past_its_time_limit_is_timed_out(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;

    let run = submit(&app, &ada, json!({"tool": "noop", "params": {"sleep_ms": 30000}, "timeout_seconds": 1})).await;
    let ended = wait_for(&app, &ada, run["id"].as_str().expect("id"), is_final).await;

    assert_eq!(ended["status"], "timed_out", "{ended}");
}

#[rstest]
#[tokio::test]
async fn the_per_organisation_limit_holds_and_every_run_ends(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |config| {
        config.engine.per_org = 2;
        config.engine.workers = 4;
    })
    .await;
    let ada = app.register("ada").await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(
            submit(&app, &ada, json!({"tool": "noop", "params": {"sleep_ms": 250}})).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }

    let mut most_running = 0;
    loop {
        let running =
            json_of(app.call("GET", "/api/v1/executions?status=running", Some(&ada.access), None).await).await;
        most_running = most_running.max(running["items"].as_array().map(Vec::len).unwrap_or(0));
        let finished =
            json_of(app.call("GET", "/api/v1/executions?status=succeeded", Some(&ada.access), None).await).await;
        if finished["items"].as_array().map(Vec::len) == Some(ids.len()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert!(most_running <= 2, "at most two of this organisation's runs at once, saw {most_running}");
    assert!(most_running >= 1);
}

#[rstest]
#[tokio::test]
async fn the_tool_catalogue_describes_parameters_and_honours_the_organisations_switch(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;

    let tools = json_of(app.call("GET", "/api/v1/tools?category=diagnostics", Some(&ada.access), None).await).await;
    let noop = json_of(app.call("GET", "/api/v1/tools/noop", Some(&ada.access), None).await).await;
    problem(app.call("GET", "/api/v1/tools/nothing", Some(&ada.access), None).await, 404).await;

    assert_eq!(tools[0]["name"], "noop");
    assert_eq!(noop["enabled"], true);
    assert!(noop["params_schema"]["properties"]["sleep_ms"].is_object(), "{noop}");
    assert!(noop["result_schema"]["properties"]["slept_ms"].is_object(), "{noop}");

    // Only an admin switches a tool; the switch is audited.
    let bob = app.member_of(&ada, "bob", "analyst").await;
    problem(app.call("PATCH", "/api/v1/tools/noop", Some(&bob.access), Some(&json!({"enabled": false}))).await, 403)
        .await;
    problem(app.call("PATCH", "/api/v1/tools/nothing", Some(&ada.access), Some(&json!({"enabled": false}))).await, 404)
        .await;
    problem(app.call("PATCH", "/api/v1/tools/noop", Some(&ada.access), Some(&json!({"enabled": "no"}))).await, 422)
        .await;
    let switched = app.call("PATCH", "/api/v1/tools/noop", Some(&ada.access), Some(&json!({"enabled": false}))).await;
    assert_eq!(switched.status(), 200);
    assert_eq!(json_of(switched).await["enabled"], false);
    let audit = json_of(app.call("GET", "/api/v1/audit?action=tool.update", Some(&ada.access), None).await).await;
    assert_eq!(audit["items"][0]["target"], "tool:noop", "{audit}");
    let disabled = json_of(app.call("GET", "/api/v1/tools?enabled=false", Some(&ada.access), None).await).await;
    assert_eq!(disabled[0]["name"], "noop");
    let refused =
        problem(app.call("POST", "/api/v1/tools/noop/execute", Some(&ada.access), Some(&json!({}))).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "tool");
}

#[rstest]
#[tokio::test]
async fn a_tool_whose_binary_is_missing_is_listed_unavailable_with_its_reason_and_refused(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |config| {
        let declared = r#"{"name": "absent", "binary": "/nonexistent/absent", "args": ["{targets}"],
            "params": {"targets": "targets"}, "parser": "lines"}"#;
        config.tools.external = vec![serde_json::from_str(declared).expect("a declared tool")];
    })
    .await;
    let ada = app.register("ada").await;

    let tools = json_of(app.call("GET", "/api/v1/tools", Some(&ada.access), None).await).await;
    let absent = json_of(app.call("GET", "/api/v1/tools/absent", Some(&ada.access), None).await).await;
    let refused = problem(
        app.call("POST", "/api/v1/tools/absent/execute", Some(&ada.access), Some(&json!({"targets": ["127.0.0.1"]})))
            .await,
        422,
    )
    .await;

    assert_eq!(
        (&absent["available"], &absent["unavailable_reason"]),
        (&json!(false), &json!("absent is not installed"))
    );
    let nmap = tools.as_array().expect("a list").iter().find(|tool| tool["name"] == "nmap").expect("nmap is listed");
    assert_eq!(
        (&nmap["available"], &nmap["unavailable_reason"]),
        (&json!(true), &Value::Null),
        "nmap is installed here"
    );
    assert_eq!(refused["errors"][0]["field"], "tool");
    assert!(refused["errors"][0]["message"].as_str().is_some_and(|m| m.contains("unavailable")), "{refused}");
}

/// The events of a server-sent stream, as (name, data) pairs, read until the stream ends.
async fn sse(app: &TestApp, user: &TestUser, id: &str) -> Vec<(String, Value)> {
    let response = app.call("GET", &format!("/api/v1/executions/{id}/events"), Some(&user.access), None).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("ASCII").starts_with("text/event-stream"));
    let text = response.text().await.expect("the stream ends with the run");
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let name = block.lines().find_map(|line| line.strip_prefix("event: ")).map(str::to_owned);
        let data = block.lines().find_map(|line| line.strip_prefix("data: "));
        if let (Some(name), Some(data)) = (name, data) {
            events.push((name, serde_json::from_str(data).expect("JSON data")));
        }
    }
    events
}

#[rstest]
#[tokio::test]
async fn a_follower_gets_the_current_state_then_every_change_until_the_end(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;

    let live = submit(&app, &ada, json!({"tool": "noop", "params": {"sleep_ms": 1200}})).await;
    let events = sse(&app, &ada, live["id"].as_str().expect("id")).await;
    let states: Vec<&str> =
        events.iter().filter(|(name, _)| name == "state").filter_map(|(_, run)| run["status"].as_str()).collect();
    assert_eq!(states.last(), Some(&"succeeded"), "{events:?}");
    assert!(states.len() >= 2, "changes are streamed as they happen: {states:?}");
    assert!(events.iter().any(|(name, line)| name == "log" && line["line"] == "waiting 1200 ms"), "{events:?}");

    // A late subscriber starts from where the run is: here, its end.
    let late = sse(&app, &ada, live["id"].as_str().expect("id")).await;
    assert_eq!(late.iter().filter(|(name, _)| name == "state").count(), 1);
    assert_eq!(late.last().map(|(_, run)| run["status"].clone()), Some(json!("succeeded")));
}

#[tokio::test]
async fn any_server_streams_a_run_that_another_servers_worker_runs() {
    let worker = spawn(Backend::Postgres, |_| {}).await;
    let url = worker.database().postgres_url().expect("PostgreSQL").to_owned();
    // A second server on the same database, running no workers: the run can only be executed by
    // the first, and what the second streams reaches it through the database's notices.
    let front = TestApp::spawn_with(TestDatabase::Postgres { url }, |config| config.engine.workers = 0).await;
    let ada = front.register("ada").await;

    let live = submit(&front, &ada, json!({"tool": "noop", "params": {"sleep_ms": 1200}})).await;
    let events = sse(&front, &ada, live["id"].as_str().expect("id")).await;
    let states: Vec<&str> =
        events.iter().filter(|(name, _)| name == "state").filter_map(|(_, run)| run["status"].as_str()).collect();
    assert_eq!(states.last(), Some(&"succeeded"), "{events:?}");
    // Read only every 2 s without notices, a 1.2 s run would show two states; each progress step
    // the worker writes arrives as it happens.
    assert!(
        states.len() >= 3 && states.contains(&"running"),
        "the run's progress reached the other server: {states:?}"
    );
    assert!(events.iter().any(|(name, line)| name == "log" && line["line"] == "waiting 1200 ms"), "{events:?}");
}

#[rstest]
#[tokio::test]
async fn a_scan_past_the_address_budget_is_refused_at_submit_naming_the_field(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = spawn(backend, |_| {}).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());
    // In scope, so that nothing but the size of the run can refuse it.
    for value in ["1.2.0.0/16", "2001:db8::/32"] {
        assert_eq!(app.call("POST", "/api/v1/targets", token, Some(&json!({"value": value}))).await.status(), 201);
    }

    // The same /16 75,000 times: each fits the budget, together they are billions of addresses.
    let repeated = json!({"tool": "tcp_scan", "params": {"targets": vec!["1.2.0.0/16"; 75_000], "ports": "22"}});
    assert!(serde_json::to_vec(&repeated).expect("JSON").len() < 1024 * 1024, "the body fits the default limit");
    // `::/0` holds IPv4 spellings in part, which the target parser refuses before its size counts.
    let cases = [
        (repeated, "params.targets", "65536"),
        (json!({"tool": "tcp_scan", "params": {"targets": ["1.2.0.0/16", "1.2.3.4"]}}), "params.targets", "65536"),
        (json!({"tool": "tcp_scan", "params": {"targets": ["::/0"]}}), "params.targets[0]", "IPv4 in part"),
        (
            json!({"tool": "tcp_scan", "params": {"targets": ["1.2.3.4", "2001:db8::/32"]}}),
            "params.targets[1]",
            "65536",
        ),
    ];
    for (body, field, reason) in cases {
        let refused = problem(app.call("POST", "/api/v1/executions", token, Some(&body)).await, 422).await;
        assert_eq!(refused["errors"].as_array().map(Vec::len), Some(1), "{refused}");
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
        assert!(refused["errors"][0]["message"].as_str().is_some_and(|m| m.contains(reason)), "{refused}");
    }

    let runs = json_of(app.call("GET", "/api/v1/executions", token, None).await).await;
    assert_eq!(runs["items"].as_array().map(Vec::len), Some(0), "nothing was queued");
}
