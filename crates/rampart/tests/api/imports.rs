//! `POST /api/v1/imports`: each format, as a multipart form or a raw body, becomes a finished
//! `import` execution with its findings and artifacts; an XML bomb or an external entity is a
//! 422 on `file`, a body past the limit a 413, a viewer a 403, and nothing is stored for any.

use rampart_core::output::Artifact;
use rampart_core::{ExecutionId, OrgId};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDatabase, TestUser, json_of, problem};

const NMAP_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" version="7.93" xmloutputversion="1.05">
<host><status state="up"/><address addr="10.0.0.5" addrtype="ipv4"/>
<ports>
<port protocol="tcp" portid="6379"><state state="open"/><service name="redis" product="Redis key-value store" version="7.0.11"/></port>
<port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/><script id="ssh-hostkey" output="256 aa:bb (ED25519)"/></port>
</ports></host>
</nmaprun>"#;

const SARIF: &str = r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": [
  {"ruleId": "python.sql-injection", "level": "error", "message": {"text": "SQL built from user input"},
   "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app/db.py"}, "region": {"startLine": 42}}}]}
]}]}"#;

const NUCLEI: &str = "{\"template-id\": \"git-config\", \"info\": {\"name\": \"Git config exposed\", \"severity\": \"medium\"}, \
    \"host\": \"https://app.example\", \"matched-at\": \"https://app.example/.git/config\", \"ip\": \"10.0.0.7\"}\n\
    {\"template-id\": \"tech-detect\", \"info\": {\"name\": \"nginx\", \"severity\": \"info\"}, \"host\": \"https://app.example\", \
    \"matched-at\": \"https://app.example/\"}\n";

const GITLEAKS: &str = r#"[{"RuleID": "aws-access-token", "Description": "AWS access key", "File": "config/prod.env",
  "StartLine": 3, "Commit": "0123456789abcdef0123456789abcdef01234567", "Secret": "AKIAIOSFODNN7EXAMPLE", "Match": "key=AKIAIOSFODNN7EXAMPLE"}]"#;

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<nmaprun>&lol3;</nmaprun>"#;

const XXE: &str =
    r#"<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><nmaprun>&xxe;</nmaprun>"#;

const BOUNDARY: &str = "rampart-import-boundary";

/// A multipart body with a `format` part and a `file` part named `name`.
fn form(format: &str, name: &str, file: &str) -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\n{format}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{file}\r\n--{BOUNDARY}--\r\n"
    )
}

async fn post_form(app: &TestApp, user: &TestUser, body: String) -> reqwest::Response {
    app.client()
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&user.access)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .expect("request sent")
}

async fn imports_of(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let page = json_of(app.call("GET", "/api/v1/executions?tool=import", Some(&user.access), None).await).await;
    page["items"].as_array().expect("items").clone()
}

async fn output_of(app: &TestApp, user: &TestUser, execution: &Value) -> rampart_core::output::RunOutput {
    let id = ExecutionId::from_uuid(execution["id"].as_str().expect("an id").parse().expect("a uuid"));
    app.store.executions().output(OrgId::from_uuid(user.org), id).await.expect("the output")
}

#[rstest]
#[tokio::test]
async fn each_format_is_imported_as_a_finished_execution_with_its_findings(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let bob = app.member_of(&ada, "bob", "analyst").await;

    let nmap = post_form(&app, &bob, form("nmap_xml", "scan.xml", NMAP_XML)).await;
    let sarif = app.import(&bob, "format=sarif&source=semgrep.sarif", SARIF).await;
    let nuclei = post_form(&app, &bob, form("nuclei_jsonl", "nuclei.jsonl", NUCLEI)).await;
    let gitleaks = app.import(&bob, "format=gitleaks_json", GITLEAKS).await;

    let mut created = Vec::new();
    for response in [nmap, sarif, nuclei, gitleaks] {
        assert_eq!(response.status(), 201);
        created.push(json_of(response).await);
    }
    for execution in &created {
        assert_eq!((&execution["tool"], &execution["status"]), (&json!("import"), &json!("succeeded")), "{execution}");
    }
    assert_eq!(created[0]["params"], json!({"format": "nmap_xml", "source": "scan.xml"}));
    assert_eq!(created[1]["params"], json!({"format": "sarif", "source": "semgrep.sarif"}));

    let nmap = output_of(&app, &bob, &created[0]).await;
    let checks: Vec<(&str, &str, &str)> = nmap
        .findings
        .items()
        .iter()
        .map(|finding| (finding.check_id.as_str(), finding.asset.as_str(), finding.location.as_str()))
        .collect();
    assert!(checks.contains(&("nmap.exposed_redis", "10.0.0.5", "tcp/6379")), "{checks:?}");
    assert!(checks.contains(&("nmap.service_version", "10.0.0.5", "tcp/6379")), "{checks:?}");
    assert!(checks.contains(&("nmap.script.ssh-hostkey", "10.0.0.5", "tcp/22")), "{checks:?}");
    assert_eq!(nmap.artifacts.items().iter().filter(|artifact| artifact.kind() == "service").count(), 2);

    let sarif = output_of(&app, &bob, &created[1]).await;
    let finding = &sarif.findings.items()[0];
    assert_eq!(
        (finding.check_id.as_str(), finding.asset.as_str(), finding.location.as_str(), finding.severity.as_str()),
        ("sarif.python.sql-injection", "app/db.py", "line 42", "high")
    );

    let nuclei = output_of(&app, &bob, &created[2]).await;
    assert_eq!(nuclei.findings.items().len(), 2);
    assert_eq!(nuclei.findings.items()[0].check_id, "nuclei.git-config");
    assert!(nuclei.artifacts.items().contains(&Artifact::url("https://app.example/.git/config")));
    assert!(nuclei.artifacts.items().contains(&Artifact::Host { address: [10, 0, 0, 7].into() }));

    let gitleaks = output_of(&app, &bob, &created[3]).await;
    let leak = &gitleaks.findings.items()[0];
    assert_eq!(
        (leak.check_id.as_str(), leak.asset.as_str(), leak.location.as_str()),
        ("gitleaks.aws-access-token", "config/prod.env", "0123456789abcdef0123456789abcdef01234567:3")
    );
    assert!(!format!("{leak:?}").contains("AKIAIOSFODNN7EXAMPLE"), "the secret is never kept");

    // Listed among the organisation's executions, each recorded in the audit log.
    assert_eq!(imports_of(&app, &ada).await.len(), 4);
    let audit = json_of(app.call("GET", "/api/v1/audit?action=execution.create", Some(&ada.access), None).await).await;
    assert!(
        audit["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|event| event["detail"] == "import of a gitleaks_json report"),
        "{audit}"
    );
}

#[rstest]
#[tokio::test]
async fn an_xml_bomb_and_an_external_entity_are_refused_on_the_file_and_nothing_is_stored(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;

    let bomb = problem(post_form(&app, &ada, form("nmap_xml", "bomb.xml", BILLION_LAUGHS)).await, 422).await;
    let xxe = problem(app.import(&ada, "format=nmap_xml", XXE).await, 422).await;
    let unknown = problem(app.import(&ada, "format=pdf", "x").await, 422).await;
    let broken = problem(app.import(&ada, "format=sarif", "{\"version\": \"1.0\"}").await, 422).await;

    for refused in [&bomb, &xxe] {
        assert_eq!(refused["errors"][0]["field"], "file", "{refused}");
        assert!(
            refused["errors"][0]["message"].as_str().is_some_and(|m| m.contains("DTDs and entities are refused")),
            "{refused}"
        );
    }
    assert_eq!(unknown["errors"][0]["field"], "format");
    assert_eq!(broken["errors"][0]["field"], "file");
    assert!(imports_of(&app, &ada).await.is_empty());
}

#[rstest]
#[tokio::test]
async fn a_report_past_the_body_limit_is_refused_before_it_is_read(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn_with(TestDatabase::create(backend).await, |config| {
        config.http.body_limit = 16 * 1024;
        config.http.import_body_limit = 64 * 1024;
    })
    .await;
    let ada = app.register("ada").await;
    let huge = format!("<nmaprun>{}</nmaprun>", " ".repeat(64 * 1024));

    problem(app.import(&ada, "format=nmap_xml", huge.clone()).await, 413).await;
    problem(post_form(&app, &ada, form("nmap_xml", "huge.xml", &huge)).await, 413).await;
    assert!(imports_of(&app, &ada).await.is_empty());
    // The import's own limit holds, not the smaller one of the API's other routes.
    let large = format!("<nmaprun>{}</nmaprun>", " ".repeat(32 * 1024));
    assert_eq!(app.import(&ada, "format=nmap_xml", large).await.status(), 201);
    assert_eq!(imports_of(&app, &ada).await.len(), 1);
}

#[rstest]
#[tokio::test]
async fn a_viewer_cannot_import(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;

    problem(app.import(&vic, "format=gitleaks_json", GITLEAKS).await, 403).await;

    assert!(imports_of(&app, &ada).await.is_empty());
}

#[rstest]
#[tokio::test]
async fn a_form_or_query_without_a_known_format_or_a_file_is_refused_by_field(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let no_file =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\nsarif\r\n--{BOUNDARY}--\r\n");

    let missing_file = problem(post_form(&app, &ada, no_file).await, 422).await;
    let missing_format = problem(app.import(&ada, "source=x", GITLEAKS).await, 422).await;
    let bad_query = app
        .client()
        .post(app.url("/api/v1/imports?format=pdf"))
        .bearer_auth(&ada.access)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(form("gitleaks_json", "leaks.json", GITLEAKS))
        .send()
        .await
        .expect("request sent");
    let bad_query = problem(bad_query, 422).await;

    assert_eq!(missing_file["errors"][0]["field"], "file");
    assert_eq!(missing_format["errors"][0]["field"], "format");
    assert_eq!(bad_query["errors"][0]["field"], "format");
    assert!(imports_of(&app, &ada).await.is_empty());
}
