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
    let (analyst_key, _) = create_key(&app, &bob, "analyst").await;
    let by_key =
        app.call("POST", "/api/v1/api-keys", Some(&analyst_key), Some(&json!({"name": "y", "role": "admin"}))).await;

    assert_eq!(problem(escalation, 422).await["errors"][0]["field"], "role");
    problem(viewer, 403).await;
    assert_eq!(problem(by_key, 422).await["errors"][0]["field"], "role");
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
