//! Prometheus metrics: what they count, who may read them, and that no tenant shows in them.

use rstest::rstest;

use crate::helpers::{Backend, TestApp, TestDatabase};

#[rstest]
#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    app.get("/api/v1/health/live").await;
    app.get("/api/v1/health/live").await;
    app.get("/api/v1/no/such/thing/123").await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(
        text.contains(r#"rampart_http_requests_total{method="GET",route="/api/v1/health/live",status="200"} 2"#),
        "{text}"
    );
    // Unmatched paths share one label, so a scanner cannot blow up the series count.
    assert!(text.contains(r#"route="unmatched",status="404"} 1"#), "{text}");
    assert!(!text.contains("/api/v1/no/such/thing"), "{text}");
    assert!(text.contains(r#"rampart_http_request_duration_seconds_bucket{le="#), "{text}");
    assert!(text.contains(r#"rampart_db_pool_connections{state="max"} 10"#), "{text}");
}

#[rstest]
#[tokio::test]
async fn metrics_with_a_token_answer_only_the_scraper_bearing_it(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let token = "scraper-token-0123456789abcdef";
    crate::helpers::remember_secret(token.to_owned());
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.metrics.token = Some(token.to_owned());
    })
    .await;
    let ada = app.register("ada").await;

    assert_eq!(app.get("/metrics").await.status(), 401, "no token");
    for wrong in ["scraper-token-0123456789abcdeX", "scraper-token", "", ada.access.as_str()] {
        assert_eq!(app.call("GET", "/metrics", Some(wrong), None).await.status(), 401, "{wrong:?}");
    }
    let response = app.call("GET", "/metrics", Some(token), None).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.expect("body").contains("rampart_http_requests_total"));
}

#[rstest]
#[tokio::test]
async fn metrics_show_no_tenant(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let body = serde_json::json!({"value": "10.0.0.0/24"});
    let created: serde_json::Value =
        app.call("POST", "/api/v1/targets", Some(&ada.access), Some(&body)).await.json().await.expect("JSON");
    let target = created["id"].as_str().expect("id").to_owned();
    app.call("GET", &format!("/api/v1/targets/{target}"), Some(&ada.access), None).await;
    app.call("GET", &format!("/api/v1/orgs/{}", ada.org), Some(&ada.access), None).await;

    let text = app.get("/metrics").await.text().await.expect("body");

    for tenant in [ada.org.to_string(), ada.id.to_string(), target, "ada".to_owned(), "10.0.0.0".to_owned()] {
        assert!(!text.contains(&tenant), "{tenant} in {text}");
    }
    assert!(text.contains(r#"route="/api/v1/targets/{id}""#), "routes are templates: {text}");
}
