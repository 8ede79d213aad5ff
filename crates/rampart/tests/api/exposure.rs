//! What the server lets a stranger or a tenant reach of it and its surroundings: registration,
//! the server's scope policy, the client address behind proxies and the metrics.

use rampart::config::Config;
use rstest::rstest;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestDatabase, json_of, problem};

#[rstest]
#[tokio::test]
async fn registration_is_closed_by_default(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.auth.registration = Config::default().auth.registration;
    })
    .await;
    let body = json!({"email": "eve@example.com", "username": "eve", "password": "a long enough passphrase 7731", "full_name": "Eve"});

    let response = app.post_json("/api/v1/auth/register", &body).await;

    problem(response, 403).await;
    assert_eq!(app.store.users().count().await.expect("count"), 0, "no account made");
}

#[rstest]
#[tokio::test]
async fn targets_outside_the_servers_policy_are_refused_on_value(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.scope.allow = vec!["10.0.0.0/8".into(), "2001:db8::/32".into(), "*.example.com".into()];
    })
    .await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());
    let app = &app;
    let create = |value: &str, exclude: bool| {
        let body = json!({"value": value, "exclude": exclude});
        async move { app.call("POST", "/api/v1/targets", token, Some(&body)).await }
    };

    for allowed in [
        "10.1.0.0/16",
        "10.2.3.4",
        "::ffff:10.9.9.9",
        "64:ff9b::a05:0/112",
        "2001:db8:1::/48",
        "www.example.com",
        "*.lab.example.com",
    ] {
        assert_eq!(create(allowed, false).await.status(), 201, "{allowed}");
    }
    for refused in [
        "192.168.0.0/16",
        "127.0.0.1",
        "0.0.0.0/0",
        "10.0.0.0/7",
        "example.org",
        "*.example.org",
        // Denied whatever the allow list says, in every spelling.
        "169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::/48",
        "2001:0:4136:e378:8000:63bf:5601:5601",
        "224.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
    ] {
        let body = problem(create(refused, false).await, 422).await;
        assert_eq!(body["errors"][0]["field"], "value", "{refused}: {body}");
        assert_eq!(body["errors"][0]["message"], "not allowed by the server's policy", "{refused}: {body}");
    }

    // An IPv6 network that holds IPv4 spellings in part is refused as it is read.
    for ambiguous in ["::/0", "2000::/3"] {
        assert_eq!(problem(create(ambiguous, false).await, 422).await["errors"][0]["field"], "value", "{ambiguous}");
    }

    // An exclusion only narrows, so it is always allowed; turning it into an inclusion is not.
    let hole = json_of(create("192.168.0.0/16", true).await).await;
    let path = format!("/api/v1/targets/{}", hole["id"].as_str().expect("id"));
    let include = app.call("PATCH", &path, token, Some(&json!({"exclude": false}))).await;
    assert_eq!(problem(include, 422).await["errors"][0]["field"], "value");

    let lines = json!(["10.3.0.0/16", "192.0.2.1", "64:ff9b::7f00:1", "2002:7f00:1::/48"]);
    let report = json_of(app.call("POST", "/api/v1/targets/bulk", token, Some(&lines)).await).await;
    assert_eq!(report["created"], 1, "{report}");
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 3, "{report}");
    assert!(errors.iter().all(|e| e["message"] == "not allowed by the server's policy"), "{report}");

    let listed = json_of(app.call("GET", "/api/v1/targets?limit=500", token, None).await).await;
    let values: Vec<&str> =
        listed["items"].as_array().expect("items").iter().filter_map(|t| t["value"].as_str()).collect();
    assert_eq!(values.len(), 9, "seven allowed, the hole and one imported: {values:?}");
    assert!(values.contains(&"10.5.0.0/16"), "NAT64 spelling stored as IPv4: {values:?}");
}

#[rstest]
#[tokio::test]
async fn the_scope_check_holds_every_target_to_the_servers_policy(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let token = Some(ada.access.as_str());
    for value in ["127.0.0.0/8", "10.0.0.0/8"] {
        assert_eq!(app.call("POST", "/api/v1/targets", token, Some(&json!({"value": value}))).await.status(), 201);
    }
    let port = app.addr.port();
    let own = [
        format!("127.0.0.1:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("[64:ff9b::7f00:1]:{port}"),
        format!("[2002:7f00:1::]:{port}"),
        format!("[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}"),
        format!("0.0.0.0:{port}"),
        "[64:ff9b::a9fe:a9fe]:80".to_owned(),
    ];
    let mut inputs: Vec<String> = own.to_vec();
    inputs.push("[64:ff9b::a00:1]:22".to_owned());
    inputs.push(format!("127.0.0.1:{}", port.wrapping_add(1).max(1)));

    let results =
        json_of(app.call("POST", "/api/v1/scope/check", token, Some(&json!({"targets": inputs}))).await).await;

    let results = results["results"].as_array().expect("results");
    for (input, result) in own.iter().zip(results) {
        assert_eq!(result["in_scope"], false, "{input}: {result}");
        assert_eq!(result["reason"], "out of scope: denied by the server's policy", "{input}: {result}");
    }
    assert_eq!(results[own.len()]["in_scope"], true, "NAT64 of an authorised address: {results:?}");
    assert_eq!(results[own.len()]["host"], "10.0.0.1");
    assert_eq!(results[own.len() + 1]["in_scope"], true, "another port of the host: {results:?}");
}

#[rstest]
#[tokio::test]
async fn the_client_behind_a_trusted_proxy_is_read_in_any_spelling(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.http.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    let ada = app.register("ada").await;
    let cases = [
        ("6.6.6.6, 203.0.113.9:443", "10.0.0.1", "203.0.113.9"),
        ("6.6.6.6, [2001:db8::9]:443", "10.0.0.2", "2001:db8::9"),
        ("6.6.6.6, [2001:db8::10]", "10.0.0.3", "2001:db8::10"),
        // The nearest hop cannot be read: the client is the proxy, never the forged hop.
        ("6.6.6.6, not-an-address", "10.0.0.4", "127.0.0.1"),
    ];
    for (forwarded, value, _) in cases {
        let response = app
            .client()
            .post(app.url("/api/v1/targets"))
            .bearer_auth(&ada.access)
            .header("X-Forwarded-For", forwarded)
            .json(&json!({"value": value}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 201, "{forwarded}");
    }

    let audit =
        json_of(app.call("GET", "/api/v1/audit?action=target.create&limit=10", Some(&ada.access), None).await).await;
    let items = audit["items"].as_array().expect("items");
    for (forwarded, value, expected) in cases {
        let event = items.iter().find(|e| e["detail"] == value).unwrap_or_else(|| panic!("{value}: {audit}"));
        assert_eq!(event["ip"], expected, "{forwarded}: {event}");
    }
}
