//! API keys: made with a role no higher than their maker's, shown once, usable two ways and in an
//! OAuth2 exchange, revoked at once.

use base64::Engine;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, problem, remember_secret};

async fn create_key(app: &TestApp, user: &TestUser, role: &str) -> (String, Value) {
    let response =
        app.call("POST", "/api/v1/api-keys", Some(&user.access), Some(&json!({"name": "ci", "role": role}))).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("JSON");
    let key = created["key"].as_str().expect("the key").to_owned();
    remember_secret(key.clone());
    (key, created["api_key"].clone())
}

#[rstest]
#[tokio::test]
async fn a_key_is_shown_once_works_two_ways_and_dies_when_deleted(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    let (key, view) = create_key(&app, &ada, "analyst").await;

    assert!(key.starts_with("rk_") && key.contains(view["prefix"].as_str().expect("prefix")));
    let listed: Value = app.call("GET", "/api/v1/api-keys", Some(&ada.access), None).await.json().await.expect("JSON");
    assert_eq!(listed[0]["id"], view["id"]);
    assert!(!listed.to_string().contains(&key), "never shown again");

    let as_bearer = app.call("GET", "/api/v1/auth/me", Some(&key), None).await;
    let as_header = app.client.get(app.url("/api/v1/auth/me")).header("x-api-key", &key).send().await.expect("sent");
    let me: Value = as_bearer.json().await.expect("JSON");
    assert_eq!((me["actor"].as_str(), me["role"].as_str()), (Some("api_key"), Some("analyst")));
    assert_eq!(as_header.status(), 200);
    let used: Value = app.call("GET", "/api/v1/api-keys", Some(&ada.access), None).await.json().await.expect("JSON");
    assert!(used[0]["last_used_at"].is_string(), "last use is recorded");

    let id = view["id"].as_str().expect("id");
    assert_eq!(app.call("DELETE", &format!("/api/v1/api-keys/{id}"), Some(&ada.access), None).await.status(), 204);
    problem(app.call("GET", "/api/v1/auth/me", Some(&key), None).await, 401).await;

    let audit: Value = app.call("GET", "/api/v1/audit", Some(&ada.access), None).await.json().await.expect("JSON");
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"api_key.create") && actions.contains(&"api_key.delete"), "{actions:?}");
}

#[rstest]
#[tokio::test]
async fn nobody_makes_a_key_above_their_own_role(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.member_of(&ada, "bob", "analyst").await;
    let eve = app.member_of(&ada, "eve", "viewer").await;

    let escalation =
        app.call("POST", "/api/v1/api-keys", Some(&bob.access), Some(&json!({"name": "x", "role": "admin"}))).await;
    let viewer =
        app.call("POST", "/api/v1/api-keys", Some(&eve.access), Some(&json!({"name": "x", "role": "viewer"}))).await;
    create_key(&app, &bob, "analyst").await;

    assert_eq!(problem(escalation, 422).await["errors"][0]["field"], "role");
    problem(viewer, 403).await;
    let keys: Value = app.call("GET", "/api/v1/api-keys", Some(&ada.access), None).await.json().await.expect("JSON");
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "only the analyst key exists");
}

#[rstest]
#[tokio::test]
async fn client_credentials_exchange_a_key_for_a_short_lived_token(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (key, view) = create_key(&app, &ada, "viewer").await;
    let token_url = app.url("/api/v1/auth/token");

    let in_form =
        app.client.post(&token_url).form(&[("grant_type", "client_credentials"), ("client_secret", key.as_str())]);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ci:{key}"));
    let in_header = app
        .client
        .post(&token_url)
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials")]);
    let wrong = app
        .client
        .post(&token_url)
        .form(&[("grant_type", "client_credentials"), ("client_secret", "rk_AAAAAAAAAAAA_nope")]);

    let from_form: Value = in_form.send().await.expect("sent").json().await.expect("JSON");
    let from_header: Value = in_header.send().await.expect("sent").json().await.expect("JSON");
    problem(wrong.send().await.expect("sent"), 401).await;

    assert!(from_form.get("refresh_token").is_none(), "a key has no session to refresh");
    assert!(from_form["expires_in"].as_u64().is_some_and(|s| s <= 900));
    let token = from_form["access_token"].as_str().expect("token").to_owned();
    remember_secret(token.clone());
    remember_secret(from_header["access_token"].as_str().expect("token").to_owned());
    let me: Value = app.call("GET", "/api/v1/auth/me", Some(&token), None).await.json().await.expect("JSON");
    assert_eq!((me["actor"].as_str(), me["role"].as_str()), (Some("api_key"), Some("viewer")));

    let id = view["id"].as_str().expect("id");
    app.call("DELETE", &format!("/api/v1/api-keys/{id}"), Some(&ada.access), None).await;
    problem(app.call("GET", "/api/v1/auth/me", Some(&token), None).await, 401).await;
}

/// A token for `key` from the `client_credentials` exchange.
async fn exchanged(app: &TestApp, key: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_secret", key)])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.expect("JSON")["access_token"].as_str().expect("token").to_owned();
    remember_secret(token.clone());
    token
}

/// An admin's write: renaming the organisation.
async fn rename(app: &TestApp, org: uuid::Uuid, credential: &str, name: &str) -> reqwest::Response {
    app.call("PATCH", &format!("/api/v1/orgs/{org}"), Some(credential), Some(&json!({"name": name}))).await
}

#[rstest]
#[tokio::test]
async fn a_key_acts_with_at_most_its_creators_current_role(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.member_of(&ada, "bob", "admin").await;
    let (key, _) = create_key(&app, &bob, "admin").await;
    let token = exchanged(&app, &key).await;
    let member = format!("/api/v1/orgs/{}/members/{}", ada.org, bob.id);
    for credential in [&key, &token] {
        assert_eq!(rename(&app, ada.org, credential, "Admin Work").await.status(), 200);
    }

    let demoted = app.call("PATCH", &member, Some(&ada.access), Some(&json!({"role": "viewer"}))).await;
    assert_eq!(demoted.status(), 200);

    for credential in [&key, &token] {
        problem(rename(&app, ada.org, credential, "Not Any More").await, 403).await;
        assert_eq!(app.call("GET", "/api/v1/targets", Some(credential), None).await.status(), 200, "reads still work");
        let me: Value = app.call("GET", "/api/v1/auth/me", Some(credential), None).await.json().await.expect("JSON");
        assert_eq!(me["role"], "viewer");
    }

    assert_eq!(app.call("DELETE", &member, Some(&ada.access), None).await.status(), 204);

    for credential in [&key, &token] {
        problem(app.call("GET", "/api/v1/targets", Some(credential), None).await, 401).await;
    }
    let refused = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_secret", key.as_str())]);
    problem(refused.send().await.expect("sent"), 401).await;
}

#[rstest]
#[tokio::test]
async fn a_key_stops_when_its_creator_is_deactivated_or_deleted(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let root = app.superuser("root").await;
    let ada = app.register("ada").await;
    let bob = app.member_of(&ada, "bob", "analyst").await;
    let (ada_key, _) = create_key(&app, &ada, "admin").await;
    let (bob_key, _) = create_key(&app, &bob, "analyst").await;
    for key in [&ada_key, &bob_key] {
        assert_eq!(app.call("GET", "/api/v1/targets", Some(key), None).await.status(), 200);
    }

    let deactivated = app.call("POST", &format!("/api/v1/users/{}/deactivate", ada.id), Some(&root.access), None).await;
    assert_eq!(deactivated.status(), 200);
    let deleted = app.call("DELETE", &format!("/api/v1/users/{}", bob.id), Some(&root.access), None).await;
    assert_eq!(deleted.status(), 204);

    for key in [&ada_key, &bob_key] {
        problem(app.call("GET", "/api/v1/targets", Some(key), None).await, 401).await;
    }
}

#[rstest]
#[tokio::test]
async fn a_key_cannot_create_keys(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let (key, _) = create_key(&app, &ada, "admin").await;
    let token = exchanged(&app, &key).await;
    let body = json!({"name": "offspring", "role": "viewer"});

    for credential in [&key, &token] {
        problem(app.call("POST", "/api/v1/api-keys", Some(credential), Some(&body)).await, 403).await;
    }
    let by_header =
        app.client.post(app.url("/api/v1/api-keys")).header("x-api-key", &key).json(&body).send().await.expect("sent");
    problem(by_header, 403).await;

    let keys: Value = app.call("GET", "/api/v1/api-keys", Some(&ada.access), None).await.json().await.expect("JSON");
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "only the user's key exists");
}
