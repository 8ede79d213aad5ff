//! The SARIF report: valid against the official SARIF 2.1.0 schema (vendored in `tests/data/`,
//! formats checked), and saying what GitHub code scanning reads: runs per tool, rules with a
//! security severity, levels, fingerprints, locations and suppressions.

use std::sync::LazyLock;

use jsonschema::Validator;
use rampart_report::{Format, render};
use serde_json::{Value, json};

use crate::helpers::{findings, report};

fn validator() -> Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let mut schema: Value = serde_json::from_slice(&std::fs::read(path).expect("the vendored schema")).expect("JSON");
    // The official schema's one `pattern`, on `language` (of runs and tool components), has a
    // stray `]`: not a valid ECMA-262 regular expression, so the draft-07 meta-schema refuses it
    // and the schema would not compile. That keyword alone is dropped; the reports never say a
    // language, and every other keyword and format is checked.
    let language = |schema: &mut Value, definition: &str| {
        let language = &mut schema["definitions"][definition]["properties"]["language"];
        let pattern = language.as_object_mut().and_then(|language| language.remove("pattern"));
        assert_eq!(pattern, Some(json!("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$")), "the pattern known broken");
    };
    language(&mut schema, "run");
    language(&mut schema, "toolComponent");
    jsonschema::options().should_validate_formats(true).build(&schema).expect("the schema compiles")
}

/// The schema's complaints about `document`, said for a failing assertion.
pub fn violations(document: &Value) -> Vec<String> {
    static VALIDATOR: LazyLock<Validator> = LazyLock::new(validator);
    VALIDATOR.iter_errors(document).map(|error| format!("{} at {}", error, error.instance_path())).collect()
}

fn sarif_of(report: &rampart_report::Report) -> Value {
    serde_json::from_slice(&render(Format::Sarif, report)).expect("valid JSON")
}

#[test]
fn the_sarif_report_is_valid_against_the_official_schema_and_a_broken_one_is_not() {
    let document = sarif_of(&report(findings()));
    assert_eq!(violations(&document), Vec::<String>::new());

    // The check can fail: the same document, broken in ways the schema forbids, is refused.
    for (pointer, broken) in [
        ("/version", json!("2.0.0")),
        ("/runs/0/results/0/level", json!("fatal")),
        ("/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri", json!("not a uri:")),
        ("/runs/0/tool/driver/rules/0/defaultConfiguration/rank", json!(101)),
    ] {
        let mut wrong = document.clone();
        *wrong
            .pointer_mut(pointer.rsplit_once('/').expect("a parent").0)
            .expect("the parent exists")
            .as_object_mut()
            .expect("an object")
            .entry(pointer.rsplit_once('/').expect("a key").1)
            .or_insert(Value::Null) = broken;
        assert!(!violations(&wrong).is_empty(), "{pointer} set wrong is refused");
    }
    let mut unknown = document.clone();
    unknown["runs"][0]["results"][0]["severity"] = json!("high");
    assert!(!violations(&unknown).is_empty(), "a property SARIF does not know is refused");
}

#[test]
fn an_empty_report_is_one_empty_run() {
    let document = sarif_of(&report(Vec::new()));
    assert_eq!(violations(&document), Vec::<String>::new());
    assert_eq!(document["runs"].as_array().expect("runs").len(), 1);
    assert_eq!(document["runs"][0]["tool"]["driver"]["name"], "Rampart");
    assert_eq!(document["runs"][0]["results"], json!([]));
}

#[test]
fn each_tool_is_a_run_whose_rules_carry_the_security_severity_code_scanning_ranks_by() {
    let document = sarif_of(&report(findings()));
    let runs = document["runs"].as_array().expect("runs");
    let names: Vec<&str> = runs.iter().map(|run| run["tool"]["driver"]["name"].as_str().expect("a name")).collect();
    assert_eq!(
        names,
        [
            "Rampart tcp_scan",
            "Rampart http_probe",
            "Rampart secret_scan",
            "Rampart tls_inspect",
            "Rampart dns_lookup",
            "Rampart"
        ]
    );

    let tcp = &runs[0];
    let rules = tcp["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 2, "redis and ssh");
    assert_eq!(rules[0]["id"], "tcp_scan.exposed_redis");
    assert_eq!(rules[0]["properties"]["security-severity"], "9.5");
    assert_eq!(rules[0]["defaultConfiguration"]["level"], "error");
    assert_eq!(rules[1]["properties"]["security-severity"], "3.0");
    assert_eq!(rules[1]["defaultConfiguration"]["level"], "note");
    assert_eq!(runs[4]["tool"]["driver"]["rules"][0]["properties"]["security-severity"], "0.0");

    let redis = &tcp["results"][0];
    let given = &findings()[0];
    assert_eq!(redis["ruleId"], "tcp_scan.exposed_redis");
    assert_eq!(redis["ruleIndex"], 0);
    assert_eq!(redis["level"], "error");
    assert_eq!(redis["message"]["text"], format!("{}\n\n{}", given.title, given.detail));
    assert_eq!(redis["partialFingerprints"]["rampartFingerprint/v1"], given.fingerprint);
    assert_eq!(redis["properties"]["status"], "open");
    assert_eq!(redis["properties"]["regression"], true);
    assert_eq!(redis["properties"]["firstSeen"], "2026-11-01T09:00:00Z");
    assert_eq!(redis["properties"]["lastSeen"], "2026-11-20T17:00:00Z");
    assert_eq!(redis["properties"]["occurrences"], 3);
    assert_eq!(tcp["results"][1]["level"], "note");
    assert_eq!(runs[3]["results"][0]["level"], "warning");
    assert_eq!(runs[4]["results"][0]["level"], "none");
}

#[test]
fn locations_name_the_asset_and_where_on_it_with_paths_and_lines_on_repositories() {
    let document = sarif_of(&report(findings()));
    let location = |run: usize, result: usize| document["runs"][run]["results"][result]["locations"][0].clone();

    let redis = location(0, 0);
    assert_eq!(redis["physicalLocation"]["artifactLocation"]["uri"], "10.0.0.5#tcp/6379");
    assert_eq!(
        redis["logicalLocations"],
        json!([
            { "name": "10.0.0.5", "kind": "resource" },
            { "name": "tcp/6379", "fullyQualifiedName": "10.0.0.5 tcp/6379", "kind": "resource" }
        ])
    );

    let secret = location(2, 0);
    assert_eq!(
        secret["physicalLocation"]["artifactLocation"]["uri"],
        "file:///srv/repos/shop/config/prod%20settings.yml#sha256:0123456789abcdef"
    );
    assert!(secret["physicalLocation"].get("region").is_none(), "no line in the location, no region");
    let line = location(2, 1);
    assert_eq!(line["physicalLocation"]["artifactLocation"]["uri"], "file:///srv/repos/shop/src/app.rs");
    assert_eq!(line["physicalLocation"]["region"]["startLine"], 42);

    assert_eq!(location(1, 0)["physicalLocation"]["artifactLocation"]["uri"], "https://app.example.com/login#/login");
    assert_eq!(location(3, 0)["physicalLocation"]["artifactLocation"]["uri"], "example.com%3A443");
    assert_eq!(location(3, 0)["logicalLocations"], json!([{ "name": "example.com:443", "kind": "resource" }]));
    assert_eq!(location(5, 0)["physicalLocation"]["artifactLocation"]["uri"], "%3A%3A1");
}

#[test]
fn false_positives_and_accepted_risks_are_reported_suppressed() {
    let document = sarif_of(&report(findings()));
    let ssh = &document["runs"][0]["results"][1];
    assert_eq!(ssh["properties"]["status"], "accepted");
    assert_eq!(
        ssh["suppressions"],
        json!([{ "kind": "external", "status": "accepted", "justification": "risk accepted in Rampart until 2026-11-30T00:00:00Z" }])
    );
    assert_eq!(document["runs"][4]["results"][0]["suppressions"][0]["kind"], "external");
    assert!(document["runs"][0]["results"][0].get("suppressions").is_none(), "an open finding is not suppressed");
}
