//! The OpenAPI document and the interactive docs, which must work with no internet access.

use serde_json::Value;

use crate::helpers::{Backend, PUBLIC_PAGES, TestApp};

/// Every `src=`/`href=` attribute and CSS `url(...)` in `text`.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["src=\"", "href=\"", "url("] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let end = rest.find(['"', ')']).unwrap_or(rest.len());
            found.push(rest[..end].trim_matches(['\'', '"']).to_owned());
        }
    }
    found
}

fn is_external(reference: &str) -> bool {
    let lower = reference.to_ascii_lowercase();
    lower.starts_with("http:") || lower.starts_with("https:") || lower.starts_with("//")
}

#[tokio::test]
async fn docs_load_without_any_external_resource() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let page = app.get("/docs").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().expect("ASCII").starts_with("text/html"));
    let csp = page.headers()["content-security-policy"].to_str().expect("ASCII").to_owned();
    let html = page.text().await.expect("body");

    // The policy itself forbids loading anything from elsewhere.
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    let page_refs = references(&html);
    assert!(page_refs.len() >= 3, "{page_refs:?}");
    for reference in &page_refs {
        assert!(!is_external(reference), "external reference in the page: {reference}");
        let asset = app.get(reference).await;
        assert_eq!(asset.status(), 200, "{reference} is served");
        let text = asset.text().await.expect("body");
        if reference.ends_with(".css") {
            let css_refs = references(&text);
            assert!(
                css_refs.iter().all(|r| !is_external(r) && (r.starts_with("data:") || !r.contains(':'))),
                "{css_refs:?}"
            );
        }
    }
    // The UI is pointed at our document and at no online validator.
    let init = app.get("/docs/init.js").await.text().await.expect("body");
    assert!(init.contains("\"/api/v1/openapi.json\"") && init.contains("validatorUrl: null"), "{init}");
}

#[tokio::test]
async fn an_unknown_docs_file_is_404() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    crate::helpers::problem(app.get("/docs/../../etc/passwd").await, 404).await;
    crate::helpers::problem(app.get("/docs/nothing.js").await, 404).await;
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let spec: Value = response.json().await.expect("JSON");

    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "{}", spec["openapi"]);
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = spec["paths"].as_object().expect("paths");
    for &path in PUBLIC_PAGES {
        let item = &paths[path]["get"];
        assert!(item["responses"]["200"].is_object(), "{path} documents its 200");
        assert!(item["tags"].as_array().is_some_and(|t| !t.is_empty()), "{path} has a tag");
    }
    // Every documented GET answers, and nothing undocumented hides under /api/v1.
    for path in paths.keys().filter(|p| !p.contains('{')) {
        assert_ne!(app.get(path).await.status(), 404, "{path} is served");
    }
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    for schema in ["Problem", "HealthReport", "ComponentHealth", "Liveness"] {
        assert!(schemas.contains_key(schema), "{schema} is described");
    }
    assert!(schemas["Problem"]["example"].is_object(), "problems come with an example");
    assert!(schemas["HealthReport"]["example"].is_object(), "health comes with an example");
}

/// Runs the browser script against the test server; its one line of JSON.
fn drive_docs(app: &TestApp, args: &[&str]) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests need `npm ci --prefix crates/rampart/tests/browser` and Chromium (scripts/test installs both)"
    );
    let output = std::process::Command::new("node")
        .arg(dir.join("docs_authorize.js"))
        .arg(format!("http://{}", app.addr))
        .args(args)
        .output()
        .expect("node runs (scripts/test installs Node.js's Chromium driver)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

#[tokio::test]
async fn the_authorize_button_logs_in_with_a_password_or_an_api_key_in_a_real_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.register("ada").await;
    let (key, _) = crate::helpers::create_api_key(&app, &ada, "docs").await;

    // The browser blocks, so it runs off the runtime that serves the test server.
    let app = std::sync::Arc::new(app);
    let run = |args: Vec<String>| {
        let app = app.clone();
        tokio::task::spawn_blocking(move || drive_docs(&app, &args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let with_password = run(vec!["password".into(), "ada".into(), ada.password.clone()]).await.expect("joined");
    let with_key = run(vec!["api_key".into(), key]).await.expect("joined");

    for (result, actor) in [(&with_password, "user"), (&with_key, "api_key")] {
        assert_eq!(result["status"], "200", "{result}");
        assert_eq!(result["actor"], actor, "{result}");
        assert_eq!(result["external"], serde_json::json!([]), "nothing is loaded from elsewhere: {result}");
        assert_eq!(result["consoleErrors"], serde_json::json!([]), "no script or policy error: {result}");
    }
}
