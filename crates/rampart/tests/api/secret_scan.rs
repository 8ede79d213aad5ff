//! `secret_scan` through the API, on SQLite and PostgreSQL: a run over a repository this test
//! writes (a secret added in an old commit and removed since) stores its findings, and the secret
//! is nowhere in clear: not in the run, its result, logs, stored findings, its report or the
//! server's logs. Its report imported again is the same findings.
//! A repository outside the allowed directories is refused at submission, naming the field.

use std::time::Duration;

use rampart_core::{ExecutionId, OrgId};
use rampart_testkit::git::GitRepo;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDatabase, assert_no_secret, json_of, problem, remember_secret};

const TOKEN: &str = "ghp_Zq8Lm2Xv7Tr4Nb9Kc3Wp6Yd1Hs5Jf0GaE2uQ";
const AWS_KEY: &str = "AKIAZ7XQ4MRT2KWNLB6C";

#[rstest]
#[tokio::test]
async fn a_run_over_an_allowed_repository_stores_redacted_findings_and_no_secret_in_clear(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    remember_secret(TOKEN.to_owned());
    remember_secret(AWS_KEY.to_owned());
    let root = tempfile::tempdir().expect("a temp dir");
    let allowed = root.path().join("repos");
    let repository = allowed.join("app");
    std::fs::create_dir_all(&repository).expect("dirs");
    std::fs::create_dir_all(root.path().join("elsewhere")).expect("dirs");
    let repo = GitRepo::init(&repository);
    repo.commit("main", &[("README.md", b"# app\n")], 1_600_000_000);
    let leaked = format!("# deploy\nGITHUB_TOKEN={TOKEN}\nAWS_ACCESS_KEY_ID={AWS_KEY}\n");
    let added = repo.commit("main", &[("README.md", b"# app\n"), ("deploy.env", leaked.as_bytes())], 1_600_000_100);
    repo.commit("main", &[("README.md", b"# app\n"), ("deploy.env", b"# deploy\n")], 1_600_000_200);

    let allowed_paths = vec![allowed.clone()];
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, move |config| {
        config.engine.lease = Duration::from_secs(1);
        config.secret_scan.allowed_paths = allowed_paths;
    })
    .await;
    let ada = app.register("ada").await;

    let outside = root.path().join("elsewhere").to_str().expect("UTF-8").to_owned();
    let body = json!({"tool": "secret_scan", "params": {"repository": outside}});
    let refused = problem(app.call("POST", "/api/v1/executions", Some(&ada.access), Some(&body)).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "params.repository", "{refused}");

    let path = repository.to_str().expect("UTF-8").to_owned();
    let body = json!({"tool": "secret_scan", "params": {"repository": path}});
    let response = app.call("POST", "/api/v1/executions", Some(&ada.access), Some(&body)).await;
    assert_eq!(response.status(), 202);
    let id = json_of(response).await["id"].as_str().expect("an id").to_owned();
    let mut run = Value::Null;
    for _ in 0..400 {
        run = json_of(app.call("GET", &format!("/api/v1/executions/{id}"), Some(&ada.access), None).await).await;
        if ["succeeded", "failed", "cancelled", "timed_out"].contains(&run["status"].as_str().unwrap_or_default()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(run["status"], "succeeded", "{run}");
    let secrets = run["result"]["secrets"].as_array().expect("secrets");
    let rules: Vec<(&str, &str, u64, &str)> = secrets
        .iter()
        .map(|secret| {
            (
                secret["rule"].as_str().unwrap_or_default(),
                secret["commit"].as_str().unwrap_or_default(),
                secret["line"].as_u64().unwrap_or_default(),
                secret["redacted"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(rules.contains(&("github-pat", added.as_str(), 2, "ghp_…")), "{rules:?}");
    assert!(rules.contains(&("aws-access-key-id", added.as_str(), 3, "AKIA…")), "{rules:?}");

    let execution = ExecutionId::from_uuid(id.parse().expect("a uuid"));
    let stored = app.store.executions().output(OrgId::from_uuid(ada.org), execution).await.expect("the output");
    let checks: Vec<&str> = stored.findings.items().iter().map(|finding| finding.check_id.as_str()).collect();
    assert!(
        checks.contains(&"secret_scan.github-pat") && checks.contains(&"secret_scan.aws-access-key-id"),
        "{checks:?}"
    );
    assert!(stored.findings.items().iter().all(|finding| finding.location.starts_with("deploy.env#sha256:")));

    let logs = json_of(app.call("GET", &format!("/api/v1/executions/{id}/logs"), Some(&ada.access), None).await).await;
    // The run's report, exported as SARIF and imported again, is the same findings: a tool and an
    // import of what it found are one finding each.
    let report =
        app.call("GET", &format!("/api/v1/executions/{id}/report?format=sarif"), Some(&ada.access), None).await;
    assert_eq!(report.status(), 200);
    let sarif = report.text().await.expect("a report");
    assert_eq!(app.import(&ada, "format=sarif&source=rampart.sarif", sarif.clone()).await.status(), 201);
    let tracked = json_of(app.call("GET", "/api/v1/findings?limit=500", Some(&ada.access), None).await).await;
    let tracked = tracked["items"].as_array().expect("items");
    assert_eq!(tracked.len(), stored.findings.items().len(), "no new finding: {tracked:?}");
    for finding in tracked {
        assert_eq!(finding["tools"], json!(["secret_scan", "import"]), "{finding}");
        assert_eq!(finding["occurrences"], 2);
    }
    let everything = format!("{run} {logs} {:?} {sarif}", stored.findings);
    assert_no_secret(&everything);
    for part in [&TOKEN[4..], &AWS_KEY[4..]] {
        assert!(!everything.contains(part), "a part of a secret leaked: {part}");
    }
}
