//! Every error status is an RFC 9457 problem carrying the request id.

use rstest::rstest;
use serde_json::json;

use crate::helpers::{Backend, TEST_PASSWORD, TestApp, problem};

#[tokio::test]
async fn an_unknown_route_is_404() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let body = problem(app.get("/api/v1/nothing-here").await, 404).await;

    assert_eq!(body["title"], "Not Found");
}

#[rstest]
#[case::post("POST")]
#[case::delete("DELETE")]
#[case::trace("TRACE")]
#[case::made_up("BREW")]
#[tokio::test]
async fn an_undeclared_method_is_405(#[case] method: &str) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method token");

    let response = app.client.request(method, app.url("/api/v1/health/live")).send().await.expect("sent");

    problem(response, 405).await;
}

#[tokio::test]
async fn a_405_names_the_allowed_methods() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app.client.delete(app.url("/api/v1/health")).send().await.expect("sent");

    let allow = response.headers()["allow"].to_str().expect("ASCII").to_owned();
    assert!(allow.contains("GET"), "{allow}");
    problem(response, 405).await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app
        .client
        .post(app.url("/api/v1/test/echo"))
        .header("content-type", "application/json")
        .body(r#"{"name": "x", "count": "#)
        .send()
        .await
        .expect("sent");

    let body = problem(response, 400).await;
    assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("malformed JSON")), "{body}");
}

#[rstest]
#[case::missing(None)]
#[case::text(Some("text/plain"))]
#[case::form(Some("application/x-www-form-urlencoded"))]
#[tokio::test]
async fn a_body_that_is_not_json_is_415(#[case] content_type: Option<&str>) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut request = app.client.post(app.url("/api/v1/test/echo")).body(r#"{"name": "x", "count": 1}"#);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }

    problem(request.send().await.expect("sent"), 415).await;
}

#[tokio::test]
async fn fields_of_the_wrong_shape_are_422_and_named() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let wrong_type = problem(app.post_json("/api/v1/test/echo", &json!({"name": "x", "count": 300})).await, 422).await;
    let missing = problem(app.post_json("/api/v1/test/echo", &json!({"count": 1})).await, 422).await;
    let rule = problem(app.post_json("/api/v1/test/echo", &json!({"name": " ", "count": 1})).await, 422).await;

    assert_eq!(wrong_type["type"], "urn:rampart:problem:validation");
    assert_eq!(wrong_type["errors"][0]["field"], "count");
    assert_eq!(missing["errors"][0]["field"], "name");
    assert_eq!(rule["errors"][0]["field"], "name");
    assert_eq!(rule["errors"][0]["message"], "must not be empty");
}

#[tokio::test]
async fn a_valid_body_is_accepted() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response =
        app.post_json("/api/v1/test/echo", &json!({"name": "x", "count": 2, "password": TEST_PASSWORD})).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>().await.expect("JSON"), json!({"name": "x", "count": 2}));
}

#[tokio::test]
async fn a_handler_that_panics_is_500_without_details() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let body = problem(app.get("/api/v1/test/panic").await, 500).await;

    assert_eq!(body["detail"], "internal error");
    // The server goes on serving.
    assert_eq!(app.get("/api/v1/health/live").await.status(), 200);
}

#[tokio::test]
async fn a_request_that_runs_too_long_is_cut_off_with_503() {
    let app = TestApp::spawn_with(rampart_testkit::TestDatabase::create(Backend::Sqlite).await, |config| {
        config.http.request_timeout = std::time::Duration::from_millis(200);
    })
    .await;

    let body = problem(app.get("/api/v1/test/slow?ms=10000").await, 503).await;

    assert_eq!(body["type"], "urn:rampart:problem:timeout");
}

#[tokio::test]
async fn a_bad_query_string_is_400() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    problem(app.get("/api/v1/test/slow?ms=soon").await, 400).await;
}
