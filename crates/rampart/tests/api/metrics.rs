use rstest::rstest;

use crate::helpers::{Backend, TestApp};

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
