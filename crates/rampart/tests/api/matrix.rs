//! The access matrix, read from the live OpenAPI document so that it cannot fall behind: for every
//! operation, no credential is 401; a viewer on every write that needs more is 403 (and on every
//! superuser route); a user of another organisation on every object route is 404. A public route
//! must be listed below, and a route with path parameters must say where its fixture comes from:
//! a route the matrix cannot classify fails the test until it is described.

use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, PUBLIC_PAGES, TestApp, TestUser};

/// Reachable without a credential, by design: the public pages and the ways to sign in.
const PUBLIC: &[&str] = &["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/refresh"];

/// Sensors' routes: a node key (`X-Node-Key`, or as a Splunk HEC token) and nothing else opens them.
const SENSOR: &[&str] = &[
    "/api/v1/ingest/events",
    "/api/honeypot-log",
    "/api/agent-alert",
    "/api/v1/ingest/opencanary",
    "/services/collector/event",
    "/services/collector/event/1.0",
    "/services/collector",
];

/// Bouncers' routes: a bouncer's key (`X-Api-Key`) and nothing else opens them; CrowdSec answers
/// 403 without one, and so does Rampart.
const BOUNCER: &[&str] = &["/v1/decisions/stream", "/v1/decisions"];

/// Objects of the first organisation that object routes are tried on.
struct Fixtures {
    org: String,
    member: String,
    api_key: String,
    target: String,
    execution: String,
    node: String,
    alert: String,
    invitation: String,
    finding: String,
    asset: String,
    decision: String,
    allowed: String,
    bouncer: String,
    policy: String,
}

/// The concrete path for a template, or `None` when the template is not described here.
fn concrete(template: &str, f: &Fixtures) -> Option<String> {
    let path = match template {
        "/api/v1/api-keys/{id}" => format!("/api/v1/api-keys/{}", f.api_key),
        "/api/v1/targets/{id}" => format!("/api/v1/targets/{}", f.target),
        "/api/v1/executions/{id}" => format!("/api/v1/executions/{}", f.execution),
        "/api/v1/executions/{id}/logs" => format!("/api/v1/executions/{}/logs", f.execution),
        "/api/v1/executions/{id}/cancel" => format!("/api/v1/executions/{}/cancel", f.execution),
        "/api/v1/executions/{id}/events" => format!("/api/v1/executions/{}/events", f.execution),
        "/api/v1/executions/{id}/stream" => format!("/api/v1/executions/{}/stream", f.execution),
        "/api/v1/executions/{id}/report" => format!("/api/v1/executions/{}/report", f.execution),
        // The tool catalogue is the server's, not an organisation's: not a tenant's object.
        "/api/v1/tools/{name}" | "/api/v1/tools/{name}/execute" => {
            "/api/v1/tools/noop".to_owned() + if template.ends_with("execute") { "/execute" } else { "" }
        }
        "/api/v1/nodes/{id}" => format!("/api/v1/nodes/{}", f.node),
        "/api/v1/nodes/{id}/rotate-key" => format!("/api/v1/nodes/{}/rotate-key", f.node),
        "/api/v1/nodes/{id}/decoys" => format!("/api/v1/nodes/{}/decoys", f.node),
        "/api/v1/alerts/{id}" => format!("/api/v1/alerts/{}", f.alert),
        "/api/v1/findings/{id}" => format!("/api/v1/findings/{}", f.finding),
        "/api/v1/assets/{id}" => format!("/api/v1/assets/{}", f.asset),
        "/api/v1/decisions/{id}" => format!("/api/v1/decisions/{}", f.decision),
        "/api/v1/allowlist/{id}" => format!("/api/v1/allowlist/{}", f.allowed),
        "/api/v1/bouncers/{id}" => format!("/api/v1/bouncers/{}", f.bouncer),
        "/api/v1/policies/{id}" => format!("/api/v1/policies/{}", f.policy),
        "/api/v1/policies/{id}/hits" => format!("/api/v1/policies/{}/hits", f.policy),
        // The decoy event below came from this address.
        "/api/v1/attackers/{ip}" => "/api/v1/attackers/203.0.113.9".to_owned(),
        "/api/attacker-profile/{ip}" => "/api/attacker-profile/203.0.113.9".to_owned(),
        // Every organisation has each setting: a key is not a tenant's object.
        "/api/v1/settings/{key}" => "/api/v1/settings/alerts.threshold".to_owned(),
        "/api/v1/orgs/{id}" => format!("/api/v1/orgs/{}", f.org),
        "/api/v1/orgs/{id}/members" => format!("/api/v1/orgs/{}/members", f.org),
        "/api/v1/orgs/{id}/members/{user_id}" => format!("/api/v1/orgs/{}/members/{}", f.org, f.member),
        "/api/v1/orgs/{id}/leave" => format!("/api/v1/orgs/{}/leave", f.org),
        "/api/v1/orgs/{id}/invitations" => format!("/api/v1/orgs/{}/invitations", f.org),
        "/api/v1/orgs/{id}/invitations/{invitation_id}" => {
            format!("/api/v1/orgs/{}/invitations/{}", f.org, f.invitation)
        }
        // An invitation is its addressee's: to anyone else it does not exist.
        "/api/v1/invitations/{id}/accept" => format!("/api/v1/invitations/{}/accept", f.invitation),
        "/api/v1/invitations/{id}/decline" => format!("/api/v1/invitations/{}/decline", f.invitation),
        "/api/v1/users/{id}" => format!("/api/v1/users/{}", f.member),
        "/api/v1/users/{id}/deactivate" => format!("/api/v1/users/{}/deactivate", f.member),
        "/docs/{file}" => "/docs/init.js".to_owned(),
        template if !template.contains('{') => template.to_owned(),
        _ => return None,
    };
    Some(path)
}

/// The example body of an operation's JSON request, from its schema.
fn example_body(spec: &Value, operation: &Value) -> Option<Value> {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(reference) => &spec["components"]["schemas"][reference.rsplit('/').next()?],
        None => schema,
    };
    Some(schema.get("example").cloned().unwrap_or_else(|| json!({})))
}

fn role_of(operation: &Value, path: &str, method: &str) -> Option<&'static str> {
    let requirements = operation["security"].as_array()?;
    let scopes: Vec<&str> = requirements
        .iter()
        .filter_map(|requirement| requirement["bearer"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let role = ["viewer", "analyst", "admin", "superuser"].into_iter().find(|role| scopes == [*role]);
    assert!(role.is_some(), "{method} {path}: its bearer requirement names no single role ({scopes:?}); describe it");
    role
}

#[rstest]
#[tokio::test]
async fn every_operation_obeys_the_access_matrix(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.register("ada").await;
    let vic = app.member_of(&ada, "vic", "viewer").await;
    let bob: TestUser = app.register("bob").await;
    let key =
        app.call("POST", "/api/v1/api-keys", Some(&ada.access), Some(&json!({"name": "k", "role": "viewer"}))).await;
    let key: Value = key.json().await.expect("JSON");
    let target = app.call("POST", "/api/v1/targets", Some(&ada.access), Some(&json!({"value": "192.0.2.0/24"}))).await;
    let target: Value = target.json().await.expect("JSON");
    let execution = app
        .call(
            "POST",
            "/api/v1/executions",
            Some(&ada.access),
            Some(&json!({"tool": "noop", "params": {"sleep_ms": 1}})),
        )
        .await;
    let execution: Value = execution.json().await.expect("JSON");
    let node =
        app.call("POST", "/api/v1/nodes", Some(&ada.access), Some(&json!({"name": "trap", "kind": "agent"}))).await;
    let node: Value = node.json().await.expect("JSON");
    let invitation = app
        .call(
            "POST",
            &format!("/api/v1/orgs/{}/invitations", ada.org),
            Some(&ada.access),
            Some(&json!({"email": "carol@example.com", "role": "viewer"})),
        )
        .await;
    let invitation: Value = invitation.json().await.expect("JSON");
    let sarif = r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": [
        {"ruleId": "sqli", "level": "error", "message": {"text": "SQL built from input"}}]}]}"#;
    assert_eq!(app.import(&ada, "format=sarif", sarif).await.status(), 201, "the import gives a finding");
    let nmap = r#"<nmaprun><host><status state="up"/><address addr="192.0.2.7" addrtype="ipv4"/>
        <ports><port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port></ports></host></nmaprun>"#;
    assert_eq!(app.import(&ada, "format=nmap_xml", nmap).await.status(), 201, "the import gives assets");
    let assets: Value = app.call("GET", "/api/v1/assets", Some(&ada.access), None).await.json().await.expect("JSON");
    let findings: Value =
        app.call("GET", "/api/v1/findings", Some(&ada.access), None).await.json().await.expect("JSON");
    let decoy = json!({"kind": "decoy", "decoy_name": "aws-keys.txt", "source_ip": "203.0.113.9"});
    let ingested = app.sensor_call("/api/v1/ingest/events", node["key"].as_str().expect("key"), &decoy).await;
    let ingested: Value = ingested.json().await.expect("JSON");
    let made = |path: &'static str, body: Value| {
        let (app, ada) = (&app, &ada);
        async move {
            let response = app.call("POST", path, Some(&ada.access), Some(&body)).await;
            assert_eq!(response.status(), 201, "POST {path}");
            let made: Value = response.json().await.expect("JSON");
            made["id"].as_str().expect("id").to_owned()
        }
    };
    let decision = made("/api/v1/decisions", json!({"value": "203.0.113.9"})).await;
    let allowed = made("/api/v1/allowlist", json!({"value": "198.51.100.1"})).await;
    let bouncer = made("/api/v1/bouncers", json!({"name": "edge"})).await;
    let policy = made("/api/v1/policies", json!({"name": "p", "min_score": 9, "dry_run": true})).await;
    let fixtures = Fixtures {
        org: ada.org.to_string(),
        member: vic.id.to_string(),
        api_key: key["api_key"]["id"].as_str().expect("id").to_owned(),
        target: target["id"].as_str().expect("id").to_owned(),
        execution: execution["id"].as_str().expect("id").to_owned(),
        node: node["id"].as_str().expect("id").to_owned(),
        alert: ingested["accepted"][0]["alert_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a decoy raises an alert: {ingested}"))
            .to_owned(),
        invitation: invitation["id"].as_str().expect("id").to_owned(),
        finding: findings["items"][0]["id"].as_str().expect("a finding").to_owned(),
        asset: assets["items"][0]["id"].as_str().expect("an asset").to_owned(),
        decision,
        allowed,
        bouncer,
        policy,
    };
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("JSON");

    let mut checked = 0;
    for (template, item) in spec["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else { continue };
            let upper = method.to_uppercase();
            let path = concrete(template, &fixtures).unwrap_or_else(|| {
                panic!("{upper} {template}: no fixture for its path parameters; describe it in matrix.rs")
            });
            let body = example_body(&spec, operation);
            if SENSOR.contains(&template.as_str()) {
                // A user's token is no node key.
                for token in [None, Some(ada.access.as_str())] {
                    let response = app.call(&upper, &path, token, body.as_ref()).await;
                    assert_eq!(response.status(), 401, "{upper} {template} without a node key");
                }
                checked += 1;
                continue;
            }
            if BOUNCER.contains(&template.as_str()) {
                // A user's token is no bouncer key.
                for token in [None, Some(ada.access.as_str())] {
                    let response = app.call(&upper, &path, token, body.as_ref()).await;
                    assert_eq!(response.status(), 403, "{upper} {template} without a bouncer key");
                }
                checked += 1;
                continue;
            }
            let Some(role) =
                (operation.get("security").is_some()).then(|| role_of(operation, template, &upper)).flatten()
            else {
                assert!(
                    PUBLIC_PAGES.contains(&template.as_str()) || PUBLIC.contains(&template.as_str()),
                    "{upper} {template} has no security and is not listed as public"
                );
                continue;
            };

            let anonymous = app.call(&upper, &path, None, body.as_ref()).await;
            assert_eq!(anonymous.status(), 401, "{upper} {template} without a credential");

            let write = method != "get";
            if role == "superuser" || (write && role != "viewer") {
                let response = app.call(&upper, &path, Some(&vic.access), body.as_ref()).await;
                assert_eq!(response.status(), 403, "{upper} {template} as a viewer");
            }
            let tenant_object = template.contains('{')
                && !template.starts_with("/api/v1/tools/")
                && !template.starts_with("/api/v1/settings/");
            if tenant_object && role != "superuser" {
                let response = app.call(&upper, &path, Some(&bob.access), body.as_ref()).await;
                assert_eq!(response.status(), 404, "{upper} {template} from another organisation");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "the matrix checked only {checked} operations");

    // Nothing above changed the first organisation.
    let members: Value = app
        .call("GET", &format!("/api/v1/orgs/{}/members", ada.org), Some(&ada.access), None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    let invitations: Value = app
        .call("GET", &format!("/api/v1/orgs/{}/invitations", ada.org), Some(&ada.access), None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(invitations.as_array().map(Vec::len), Some(1));
    let keys: Value = app.call("GET", "/api/v1/api-keys", Some(&ada.access), None).await.json().await.expect("JSON");
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    let targets: Value = app.call("GET", "/api/v1/targets", Some(&ada.access), None).await.json().await.expect("JSON");
    assert_eq!(targets["items"].as_array().map(Vec::len), Some(1));
}
