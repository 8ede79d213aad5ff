//! Superusers manage accounts; admins manage their organisation and read its audit log.

use rstest::rstest;
use serde_json::json;

use crate::helpers::{Backend, TestApp, json_of, problem};

#[rstest]
#[tokio::test]
async fn superusers_manage_accounts(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.superuser("root").await;
    let ada = app.register("ada").await;
    let token = Some(root.access.as_str());

    let body = json!({"email": "grace@example.com", "username": "grace", "password": "compilers all the way down", "full_name": "Grace"});
    let created = app.call("POST", "/api/v1/users", token, Some(&body)).await;
    assert_eq!(created.status(), 201);
    let grace = json_of(created).await;
    let grace_id = grace["id"].as_str().expect("id").to_owned();
    problem(app.call("POST", "/api/v1/users", token, Some(&body)).await, 422).await;
    assert_eq!(app.login("grace", "compilers all the way down", None).await.status(), 200);

    let page_one = json_of(app.call("GET", "/api/v1/users?limit=2", token, None).await).await;
    let cursor = page_one["next_cursor"].as_str().expect("more to come").to_owned();
    let page_two = json_of(app.call("GET", &format!("/api/v1/users?limit=2&cursor={cursor}"), token, None).await).await;
    assert_eq!(page_one["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page_two["items"].as_array().map(Vec::len), Some(1));
    assert!(page_two["next_cursor"].is_null());
    assert_eq!(
        problem(app.call("GET", "/api/v1/users?limit=0", token, None).await, 422).await["errors"][0]["field"],
        "limit"
    );
    assert_eq!(
        problem(app.call("GET", "/api/v1/users?cursor=bogus", token, None).await, 422).await["errors"][0]["field"],
        "cursor"
    );

    let patch = json!({"full_name": "Grace Hopper", "password": "a new and longer passphrase"});
    let updated = json_of(app.call("PATCH", &format!("/api/v1/users/{grace_id}"), token, Some(&patch)).await).await;
    assert_eq!(updated["full_name"], "Grace Hopper");
    assert_eq!(app.login("grace", "a new and longer passphrase", None).await.status(), 200);
    let weak =
        app.call("PATCH", &format!("/api/v1/users/{grace_id}"), token, Some(&json!({"password": "password"}))).await;
    assert_eq!(problem(weak, 422).await["errors"][0]["field"], "password");

    assert_eq!(app.call("DELETE", &format!("/api/v1/users/{grace_id}"), token, None).await.status(), 204);
    problem(app.call("GET", &format!("/api/v1/users/{grace_id}"), token, None).await, 404).await;
    problem(app.login("grace", "a new and longer passphrase", None).await, 401).await;

    problem(app.call("GET", "/api/v1/users", Some(&ada.access), None).await, 403).await;
}

#[rstest]
#[tokio::test]
async fn a_password_reset_by_a_superuser_ends_the_users_sessions(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let root = app.superuser("root").await;
    let ada = app.register("ada").await;
    let second = json_of(app.login("ada", &ada.password, None).await).await;
    let second_access = second["access_token"].as_str().expect("token").to_owned();
    let second_refresh = second["refresh_token"].as_str().expect("token").to_owned();
    crate::helpers::remember_secret(second_access.clone());
    crate::helpers::remember_secret(second_refresh.clone());

    let patch = json!({"password": "a brand new passphrase for ada"});
    let reset = app.call("PATCH", &format!("/api/v1/users/{}", ada.id), Some(&root.access), Some(&patch)).await;
    assert_eq!(reset.status(), 200);

    for access in [&ada.access, &second_access] {
        problem(app.call("GET", "/api/v1/auth/me", Some(access), None).await, 401).await;
    }
    for refresh in [&ada.refresh, &second_refresh] {
        let refreshed = app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh})).await;
        problem(refreshed, 401).await;
    }
    problem(app.login("ada", &ada.password, None).await, 401).await;
    assert_eq!(app.login("ada", "a brand new passphrase for ada", None).await.status(), 200);
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(&root.access), None).await.status(), 200, "others go on");
}

#[rstest]
#[tokio::test]
async fn admins_manage_their_organisation_and_members(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let token = Some(ada.access.as_str());
    let org_path = format!("/api/v1/orgs/{}", ada.org);

    let renamed = json_of(app.call("PATCH", &org_path, token, Some(&json!({"name": "Lovelace Security"}))).await).await;
    assert_eq!(
        (renamed["name"].as_str(), renamed["slug"].as_str()),
        (Some("Lovelace Security"), Some("lovelace-security"))
    );
    let taken = app.call("PATCH", &org_path, token, Some(&json!({"name": "x", "slug": "bob"}))).await;
    assert_eq!(problem(taken, 422).await["errors"][0]["field"], "slug");

    let members = format!("{org_path}/members");
    let direct = app.call("POST", &members, token, Some(&json!({"email": "bob@example.com", "role": "analyst"}))).await;
    problem(direct, 403).await;
    let invitations = format!("{org_path}/invitations");
    let bad = app.call("POST", &invitations, token, Some(&json!({"email": "bob", "role": "root"}))).await;
    let bad = problem(bad, 422).await;
    let fields: Vec<&str> =
        bad["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["email", "role"]);
    app.join(&ada, &bob, "analyst").await;
    let again =
        app.call("POST", &invitations, token, Some(&json!({"email": "bob@example.com", "role": "viewer"}))).await;
    assert_eq!(problem(again, 422).await["errors"][0]["field"], "email", "already a member");
    let listed = json_of(app.call("GET", &members, token, None).await).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));

    let created = app.call("POST", "/api/v1/orgs", Some(&bob.access), Some(&json!({"name": "Blue Team"}))).await;
    assert_eq!(json_of(created).await["slug"], "blue-team");
    let orgs = json_of(app.call("GET", "/api/v1/orgs", Some(&bob.access), None).await).await;
    assert_eq!(orgs.as_array().map(Vec::len), Some(3), "home, Lovelace and Blue Team");
}

#[rstest]
#[tokio::test]
async fn the_audit_log_is_for_admins_filtered_and_paged(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    app.login("ada", "not the password", None).await;
    app.login("ada", &ada.password, None).await;
    let token = Some(ada.access.as_str());

    let all = json_of(app.call("GET", "/api/v1/audit", token, None).await).await;
    let logins = json_of(app.call("GET", "/api/v1/audit?action=auth.login&limit=1", token, None).await).await;
    let by_vic = json_of(app.call("GET", &format!("/api/v1/audit?actor={}", vic.id), token, None).await).await;
    let future = json_of(app.call("GET", "/api/v1/audit?since=2999-01-01T00:00:00Z", token, None).await).await;

    let actions: Vec<&str> =
        all["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"invitation.accept") && actions.contains(&"auth.login"), "{actions:?}");
    let first = &all["items"][0];
    assert!(first["ip"].as_str().is_some_and(|ip| ip.starts_with("127.")), "{first}");
    assert!(first["request_id"].is_string());
    assert_eq!(logins["items"].as_array().map(Vec::len), Some(1));
    assert!(logins["next_cursor"].is_string());
    assert!(by_vic["items"].as_array().expect("items").iter().all(|e| e["actor_id"] == vic.id.to_string()));
    assert_eq!(future["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        problem(app.call("GET", "/api/v1/audit?action=made.up", token, None).await, 422).await["errors"][0]["field"],
        "action"
    );
    problem(app.call("GET", "/api/v1/audit", Some(&vic.access), None).await, 403).await;
    // Failed logins of an account name no organisation, so they stay out of every organisation's log.
    assert!(all["items"].as_array().expect("items").iter().all(|e| e["outcome"] != "failure"));
}
