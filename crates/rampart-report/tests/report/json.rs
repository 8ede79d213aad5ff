//! The JSON report: the cover, the counts and every field of every finding, read back.

use rampart_core::findings::{FindingStatus, Severity};
use rampart_report::{Format, render};
use serde_json::Value;

use crate::helpers::{findings, report};

#[test]
fn the_json_report_says_its_cover_counts_and_every_finding_field() {
    let mut report = report(findings());
    report.left_out = 12;
    let json: Value = serde_json::from_slice(&render(Format::Json, &report)).expect("valid JSON");

    assert_eq!(json["title"], "Findings of Acme & Sons <Ltd>");
    assert_eq!(json["organisation"], "Acme & Sons");
    assert_eq!(json["generated_at"], "2026-11-21T08:00:00Z");
    assert_eq!(json["criteria"], serde_json::json!({ "status": "open", "severity": "high" }));
    assert_eq!(json["left_out"], 12);
    assert_eq!(
        json["summary"]["by_severity"],
        serde_json::json!({ "critical": 1, "high": 2, "medium": 2, "low": 2, "info": 1 })
    );
    assert_eq!(
        json["summary"]["by_status"],
        serde_json::json!({ "open": 4, "acknowledged": 1, "resolved": 1, "false_positive": 1, "accepted": 1 })
    );

    let given = &report.findings[0];
    let listed = json["findings"].as_array().expect("a list");
    assert_eq!(listed.len(), report.findings.len());
    let first = &listed[0];
    let mut keys: Vec<&str> = first.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = [
        "id",
        "fingerprint",
        "severity",
        "status",
        "regression",
        "check_id",
        "title",
        "asset",
        "location",
        "detail",
        "tools",
        "first_seen",
        "last_seen",
        "occurrences",
        "due",
        "assignee",
        "accepted_until",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(first["id"], given.id.to_string());
    assert_eq!(first["fingerprint"], given.fingerprint);
    assert_eq!(first["severity"], Severity::Critical.as_str());
    assert_eq!(first["status"], FindingStatus::Open.as_str());
    assert_eq!(first["regression"], true);
    assert_eq!(first["detail"], given.detail);
    assert_eq!(first["tools"], serde_json::json!(["tcp_scan"]));
    assert_eq!(first["first_seen"], "2026-11-01T09:00:00Z");
    assert_eq!(first["last_seen"], "2026-11-20T17:00:00Z");
    assert_eq!(first["occurrences"], 3);
    assert_eq!(first["due"], "2026-11-08T09:00:00Z", "critical: seven days after first seen");
    assert_eq!(first["assignee"], given.assignee.expect("assigned").to_string());
    assert_eq!(first["accepted_until"], Value::Null);
    assert_eq!(listed[1]["title"], "<script>alert(1)</script>", "JSON carries text as it is");
    assert_eq!(listed[5]["accepted_until"], "2026-11-30T00:00:00Z");
    assert_eq!(listed[6]["due"], Value::Null, "informational findings are never due");
}

#[test]
fn an_empty_report_still_says_every_count() {
    let json: Value = serde_json::from_slice(&render(Format::Json, &report(Vec::new()))).expect("valid JSON");
    assert_eq!(json["findings"], serde_json::json!([]));
    assert_eq!(json["summary"]["by_severity"]["critical"], 0);
    assert_eq!(json["summary"]["by_status"]["accepted"], 0);
}
