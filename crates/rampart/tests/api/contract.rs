//! The API does what its OpenAPI document says: the cases a schema-driven fuzzer found where the
//! two parted (`scripts/contract` runs the fuzzer itself against a live server).

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem};

#[rstest]
#[tokio::test]
async fn an_empty_query_value_is_read_as_absent(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let created = app.call("POST", "/api/v1/targets", Some(&ada.access), Some(&json!({"value": "192.0.2.0/24"}))).await;
    assert_eq!(created.status(), 201);

    for path in [
        "/api/v1/targets?cursor=",
        "/api/v1/targets?cursor=&limit=&kind=&q=",
        "/api/v1/executions?cursor=&since=&user=&status=",
        "/api/v1/audit?cursor=&since=&until=&actor=&action=",
        "/api/v1/attackers?cursor=&sort=",
    ] {
        let response = app.call("GET", path, Some(&ada.access), None).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    let page: Value =
        app.call("GET", "/api/v1/targets?cursor=&limit=", Some(&ada.access), None).await.json().await.expect("JSON");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");

    // A value that is there but wrong still names its parameter.
    let body = problem(app.call("GET", "/api/v1/targets?limit=ten", Some(&ada.access), None).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "limit", "{body}");
}

#[rstest]
#[tokio::test]
async fn parameters_that_are_not_an_object_are_refused(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    let body =
        problem(app.call("POST", "/api/v1/tools/noop/execute", Some(&ada.access), Some(&json!([]))).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "body", "{body}");
    let submitted = json!({"tool": "noop", "params": []});
    let body = problem(app.call("POST", "/api/v1/executions", Some(&ada.access), Some(&submitted)).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "params", "{body}");

    let runs: Value = app.call("GET", "/api/v1/executions", Some(&ada.access), None).await.json().await.expect("JSON");
    assert_eq!(runs["items"].as_array().map(Vec::len), Some(0), "nothing was queued: {runs}");
    // A tool the server does not have is not found, as `GET /tools/{name}` says.
    problem(app.call("POST", "/api/v1/tools/nothing/execute", Some(&ada.access), Some(&json!({}))).await, 404).await;
}

#[rstest]
#[tokio::test]
async fn a_malformed_path_id_is_a_documented_400(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    problem(app.call("GET", "/api/v1/targets/not-a-uuid", Some(&ada.access), None).await, 400).await;

    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("JSON");
    let operation = &spec["paths"]["/api/v1/targets/{id}"]["get"];
    let id = operation["parameters"].as_array().expect("parameters").iter().find(|p| p["name"] == "id").expect("id");
    assert_eq!(id["in"], "path");
    assert_eq!(id["schema"]["format"], "uuid", "{id}");
    assert_eq!(operation["responses"]["400"]["$ref"], "#/components/responses/BadRequest", "{operation}");
    assert_eq!(
        spec["components"]["responses"]["BadRequest"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
}

#[tokio::test]
async fn every_operation_documents_the_problems_it_can_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("JSON");

    for (template, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let responses = operation["responses"].as_object().expect("responses");
            let has = |status: &str| responses.contains_key(status);
            let name = format!("{} {template}", method.to_uppercase());
            assert!(has("503"), "{name}: every request may time out");
            if operation.get("security").is_some() {
                assert!(has("401") && has("403"), "{name}: secured");
            }
            if operation.get("requestBody").is_some() {
                assert!(has("400") && has("413") && has("415") && has("422"), "{name}: takes a body");
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let parameter_name = parameter["name"].as_str().expect("a name");
                match parameter["in"].as_str() {
                    Some("path") => {
                        assert!(
                            template.contains(&format!("{{{parameter_name}}}")),
                            "{name}: {parameter_name} is no path parameter"
                        );
                        assert!(has("400") && has("404"), "{name}: has a path parameter");
                    }
                    Some("query") => assert!(has("422"), "{name}: has a query parameter"),
                    _ => {}
                }
            }
        }
    }
}

#[rstest]
#[tokio::test]
async fn a_run_is_cancelled_by_its_cancel_route_not_deleted(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let submitted = json!({"tool": "noop", "params": {"sleep_ms": 1}});
    let run: Value =
        app.call("POST", "/api/v1/executions", Some(&ada.access), Some(&submitted)).await.json().await.expect("JSON");
    let path = format!("/api/v1/executions/{}", run["id"].as_str().expect("id"));

    problem(app.call("DELETE", &path, Some(&ada.access), None).await, 405).await;

    assert_eq!(app.call("GET", &path, Some(&ada.access), None).await.status(), 200);
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("JSON");
    assert!(spec["paths"]["/api/v1/executions/{id}"].get("delete").is_none());
}
