//! Registration, login, tokens, sessions: each flow on SQLite and PostgreSQL.

use rstest::rstest;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestDatabase, gauge, json_of, problem};

#[rstest]
#[tokio::test]
async fn registering_creates_an_admin_of_a_personal_organisation(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;

    let ada = app.register("ada").await;
    let me = json_of(app.call("GET", "/api/v1/auth/me", Some(&ada.access), None).await).await;

    assert_eq!(me["actor"], "user");
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["org_id"], ada.org.to_string());
    assert_eq!(me["memberships"].as_array().map(Vec::len), Some(1));
    assert!(me["user"].get("password_hash").is_none());
}

#[rstest]
#[tokio::test]
async fn registration_reports_every_bad_field_and_taken_names(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    app.register("ada").await;

    let bad = problem(
        app.post_json("/api/v1/auth/register", &json!({"email": "nope", "username": "x", "password": "password1"}))
            .await,
        422,
    )
    .await;
    let taken = problem(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": "ADA@example.com", "username": "ada2", "password": "another fine passphrase"}),
        )
        .await,
        422,
    )
    .await;

    let fields: Vec<&str> =
        bad["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["email", "username", "password"]);
    assert!(bad["errors"][2]["message"].as_str().is_some_and(|m| m.contains("common")), "{bad}");
    assert_eq!(taken["errors"][0]["field"], "email");
}

#[rstest]
#[tokio::test]
async fn login_takes_an_email_or_a_username_and_refuses_alike_otherwise(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    let by_email = app.login("ADA@example.com", &ada.password, None).await;
    let by_name = app.login("ada", &ada.password, None).await;
    let wrong = app.login("ada", "not her passphrase at all", None).await;
    let unknown = app.login("nobody", &ada.password, None).await;
    // A NUL cannot be compared in PostgreSQL's text: it must still read as nobody, not as a 500.
    let control = app.login("ada\u{0}", &ada.password, None).await;

    assert_eq!(by_email.status(), 200);
    assert_eq!(json_of(by_name).await["token_type"], "bearer");
    assert_eq!(wrong.headers()["www-authenticate"], r#"Bearer realm="rampart""#);
    let wrong = problem(wrong, 401).await;
    let unknown = problem(unknown, 401).await;
    assert_eq!(wrong["detail"], unknown["detail"], "no hint whether the account exists");
    assert_eq!(problem(control, 401).await["detail"], unknown["detail"]);
}

#[rstest]
#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    let first = app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": ada.refresh})).await;
    assert_eq!(first.status(), 200);
    let first = json_of(first).await;
    let next_refresh = first["refresh_token"].as_str().expect("rotated").to_owned();
    let next_access = first["access_token"].as_str().expect("access").to_owned();
    crate::helpers::remember_secret(next_refresh.clone());
    assert_ne!(next_refresh, ada.refresh);
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(&next_access), None).await.status(), 200);

    // The old token again: someone else has it. The whole session ends.
    problem(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": ada.refresh})).await, 401).await;

    problem(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": next_refresh})).await, 401).await;
    problem(app.call("GET", "/api/v1/auth/me", Some(&next_access), None).await, 401).await;
    problem(app.call("GET", "/api/v1/auth/me", Some(&ada.access), None).await, 401).await;
    let relogin = app.login("ada", &ada.password, None).await;
    let relogin = json_of(relogin).await;
    let audit =
        app.call("GET", "/api/v1/audit?action=auth.refresh_reuse", relogin["access_token"].as_str(), None).await;
    let audit = json_of(audit).await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
    assert_eq!(audit["items"][0]["outcome"], "denied");
}

#[rstest]
#[tokio::test]
async fn logout_ends_the_access_and_refresh_tokens(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    let out = app.call("POST", "/api/v1/auth/logout", Some(&ada.access), None).await;

    assert_eq!(out.status(), 204);
    problem(app.call("GET", "/api/v1/auth/me", Some(&ada.access), None).await, 401).await;
    problem(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": ada.refresh})).await, 401).await;
}

#[rstest]
#[tokio::test]
async fn a_deactivated_user_is_refused_at_once(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.superuser("root").await;
    let ada = app.register("ada").await;
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(&ada.access), None).await.status(), 200);

    let deactivated = app.call("POST", &format!("/api/v1/users/{}/deactivate", ada.id), Some(&root.access), None).await;

    assert_eq!(json_of(deactivated).await["is_active"], false);
    problem(app.call("GET", "/api/v1/auth/me", Some(&ada.access), None).await, 401).await;
    problem(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": ada.refresh})).await, 401).await;
    problem(app.login("ada", &ada.password, None).await, 401).await;
}

#[rstest]
#[tokio::test]
async fn removing_a_membership_or_a_role_applies_to_the_next_request(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.member_of(&ada, "bob", "analyst").await;
    let keys = "/api/v1/api-keys";
    let key_body = json!({"name": "k", "role": "viewer"});
    assert_eq!(app.call("POST", keys, Some(&bob.access), Some(&key_body)).await.status(), 201);

    let demoted = app
        .call(
            "PATCH",
            &format!("/api/v1/orgs/{}/members/{}", ada.org, bob.id),
            Some(&ada.access),
            Some(&json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(demoted.status(), 200);
    problem(app.call("POST", keys, Some(&bob.access), Some(&key_body)).await, 403).await;

    let removed =
        app.call("DELETE", &format!("/api/v1/orgs/{}/members/{}", ada.org, bob.id), Some(&ada.access), None).await;
    assert_eq!(removed.status(), 204);
    problem(app.call("GET", keys, Some(&bob.access), None).await, 401).await;
}

#[rstest]
#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_removed(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let member = format!("/api/v1/orgs/{}/members/{}", ada.org, ada.id);

    problem(app.call("PATCH", &member, Some(&ada.access), Some(&json!({"role": "analyst"}))).await, 409).await;
    problem(app.call("DELETE", &member, Some(&ada.access), None).await, 409).await;

    let me = json_of(app.call("GET", "/api/v1/auth/me", Some(&ada.access), None).await).await;
    assert_eq!(me["role"], "admin");
}

#[rstest]
#[tokio::test]
async fn switching_organisation_moves_the_session(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.member_of(&ada, "bob", "viewer").await;
    let bob_home = json_of(app.login("bob", &bob.password, None).await).await;
    let bob_home_org = bob_home["org_id"].as_str().expect("org").to_owned();
    assert_ne!(bob_home_org, ada.org.to_string());

    let switched =
        app.call("POST", "/api/v1/auth/switch-org", Some(&bob.access), Some(&json!({"org": bob_home_org}))).await;
    let switched = json_of(switched).await;

    assert_eq!(switched["org_id"], bob_home_org);
    assert_eq!(switched["role"], "admin");
    problem(app.call("GET", "/api/v1/auth/me", Some(&bob.access), None).await, 401).await;
    let nowhere = serde_json::json!({"org": "not-a-member-here"});
    problem(app.call("POST", "/api/v1/auth/switch-org", switched["access_token"].as_str(), Some(&nowhere)).await, 403)
        .await;
}

#[tokio::test]
async fn registration_can_be_closed() {
    let app = TestApp::spawn_with(TestDatabase::create(Backend::Sqlite).await, |config| {
        config.auth.registration = rampart::config::Registration::Closed;
    })
    .await;

    let body = json!({"email": "ada@example.com", "username": "ada", "password": "analytical engine 1843"});
    problem(app.post_json("/api/v1/auth/register", &body).await, 403).await;
}

#[tokio::test]
async fn too_many_attempts_are_refused_with_retry_after_and_audited() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let url = database.url();
    let app = TestApp::spawn_with(database, |config| config.auth.attempts_per_minute = 3).await;

    let mut responses = Vec::new();
    for _ in 0..4 {
        responses.push(app.login("nobody", "some passphrase or other", None).await);
    }
    let last = responses.pop().expect("four");

    assert!(responses.iter().all(|r| r.status() == 401), "failed attempts count too");
    assert!(last.headers()["retry-after"].to_str().expect("ASCII").parse::<u64>().is_ok_and(|s| s >= 1));
    problem(last, 429).await;
    use sqlx::ConnectOptions;
    // Its statements are not the server's: keep them out of the captured logs.
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("a SQLite URL");
    let mut db =
        options.log_statements(tracing::log::LevelFilter::Off).connect().await.expect("open the test database");
    let (refused,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.rate_limited' AND outcome = 'denied'")
            .fetch_one(&mut db)
            .await
            .expect("count");
    let (failed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.login' AND outcome = 'failure'")
            .fetch_one(&mut db)
            .await
            .expect("count");
    assert_eq!((refused, failed), (1, 3));
}

#[rstest]
#[tokio::test]
async fn the_oauth2_password_grant_logs_in(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type", "password"), ("username", "ada"), ("password", ada.password.as_str())])
        .send()
        .await
        .expect("sent");
    let unsupported =
        app.client.post(app.url("/api/v1/auth/token")).form(&[("grant_type", "implicit")]).send().await.expect("sent");
    let missing =
        app.client.post(app.url("/api/v1/auth/token")).form(&[("username", "ada")]).send().await.expect("sent");

    let tokens = json_of(response).await;
    assert_eq!(tokens["token_type"], "bearer");
    let me = app.call("GET", "/api/v1/auth/me", tokens["access_token"].as_str(), None).await;
    assert_eq!(me.status(), 200);
    problem(unsupported, 400).await;
    assert_eq!(problem(missing, 422).await["errors"][0]["field"], "grant_type");
}

#[rstest]
#[tokio::test]
async fn the_login_limit_is_the_accounts_however_it_is_spelled(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.auth.attempts_per_minute = 3;
        // Each attempt names another client, so only the account's limit is at play.
        config.http.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
    })
    .await;
    let ada = app.register("ada").await;
    let attempt = |n: u8, login: &'static str| {
        let body = json!({"login": login, "password": "not her passphrase at all"});
        app.client.post(app.url("/api/v1/auth/login")).header("x-forwarded-for", format!("203.0.113.{n}")).json(&body)
    };

    let mut statuses = Vec::new();
    for (n, login) in [(1, "ada@example.com"), (2, "ada"), (3, "ADA@example.com"), (4, "Ada"), (5, "ada")] {
        statuses.push(attempt(n, login).send().await.expect("sent").status().as_u16());
    }

    assert_eq!(statuses, [401, 401, 401, 429, 429], "email and username share one limit");
    let other = app.client.post(app.url("/api/v1/auth/login")).header("x-forwarded-for", "203.0.113.9");
    let right = other.json(&json!({"login": "nobody", "password": ada.password})).send().await.expect("sent");
    assert_eq!(right.status(), 401, "another account has its own limit");
}

/// The value of a gauge of `/metrics` with these labels.
#[rstest]
#[tokio::test]
async fn concurrent_logins_never_hash_more_passwords_at_once_than_the_bound(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let slots = gauge(&app, r#"rampart_password_hashes{state="slots"}"#).await;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    assert_eq!(slots, i64::try_from(cores).expect("few cores"));

    let logins = (0..64).map(|n| {
        let password = if n % 2 == 0 { ada.password.clone() } else { "not her passphrase at all".to_owned() };
        app.client.post(app.url("/api/v1/auth/login")).json(&json!({"login": "ada", "password": password})).send()
    });
    let responses = futures_util::future::join_all(logins).await;

    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for response in responses {
        let response = response.expect("answered");
        let status = response.status().as_u16();
        if status == 503 {
            assert!(response.headers().contains_key("retry-after"), "a busy answer says when to retry");
        }
        *answered.entry(status).or_default() += 1;
    }
    assert!(answered.keys().all(|status| [200, 401, 503].contains(status)), "{answered:?}");
    assert!(answered.get(&200).is_some_and(|n| *n > 0), "{answered:?}");
    let max_in_flight = gauge(&app, r#"rampart_password_hashes{state="max_in_flight"}"#).await;
    assert!((1..=slots).contains(&max_in_flight), "{max_in_flight} hashes ran at once; the bound is {slots}");
    assert_eq!(gauge(&app, r#"rampart_password_hashes{state="in_flight"}"#).await, 0);
}
