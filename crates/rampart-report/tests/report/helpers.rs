//! Findings and reports to render: a few written by hand to say something precise, and many made
//! by a rule for the volume tests.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rampart_core::findings::{FindingStatus, Severity, TrackedFinding, fingerprint};
use rampart_core::{FindingId, UserId};
use rampart_report::Report;

pub fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).single().expect("a valid date")
}

/// A finding seen first on 1 November and last on 20 November by `tool`.
pub fn finding(
    severity: Severity,
    status: FindingStatus,
    check_id: &str,
    asset: &str,
    location: &str,
) -> TrackedFinding {
    let tool = check_id.split('.').next().unwrap_or_default().to_owned();
    TrackedFinding {
        id: FindingId::new(),
        fingerprint: fingerprint(check_id, asset, location),
        severity,
        check_id: check_id.to_owned(),
        title: format!("{check_id} on {asset}"),
        asset: asset.to_owned(),
        location: location.to_owned(),
        detail: String::new(),
        status,
        regression: false,
        assignee: None,
        accepted_until: None,
        first_seen: at(1, 9),
        last_seen: at(20, 17),
        occurrences: 3,
        tools: vec![tool],
        last_execution: None,
        updated_at: at(20, 17),
    }
}

/// Findings of every severity and status, of three tools and one with no tool, with text that
/// must be escaped or guarded in every format.
pub fn findings() -> Vec<TrackedFinding> {
    let mut redis = finding(Severity::Critical, FindingStatus::Open, "tcp_scan.exposed_redis", "10.0.0.5", "tcp/6379");
    redis.title = "Redis reachable without authentication".into();
    redis.detail = "Redis 7.2 answered PING on tcp/6379.\nAnyone who reaches it can read and write every key.".into();
    redis.regression = true;
    redis.assignee = Some(UserId::new());

    let mut hostile = finding(
        Severity::High,
        FindingStatus::Acknowledged,
        "http_probe.banner",
        "https://app.example.com/login",
        "/login",
    );
    hostile.title = "<script>alert(1)</script>".into();
    hostile.detail = "Server said \"'&<>\", then =cmd|' /C calc'!A0".into();

    let mut secret = finding(
        Severity::High,
        FindingStatus::Open,
        "secret_scan.aws-access-token",
        "file:///srv/repos/shop",
        "config/prod settings.yml#sha256:0123456789abcdef",
    );
    secret.title = "AWS Access Token committed in config/prod settings.yml".into();
    secret.detail = "Rule aws-access-token found a secret in config/prod settings.yml at line 12.".into();

    let mut line = finding(
        Severity::Medium,
        FindingStatus::Open,
        "secret_scan.generic-api-key",
        "file:///srv/repos/shop",
        "src/app.rs:42",
    );
    line.title = "=SUM(A1:A9) looks like a formula".into();

    let mut tls = finding(Severity::Medium, FindingStatus::Resolved, "tls_inspect.weak_key", "example.com:443", "");
    tls.title = "A 1024-bit RSA key, with a comma, and \"quotes\"".into();

    let mut accepted = finding(Severity::Low, FindingStatus::Accepted, "tcp_scan.exposed_ssh", "10.0.0.6", "tcp/22");
    accepted.accepted_until = Some(at(30, 0));

    let false_positive =
        finding(Severity::Info, FindingStatus::FalsePositive, "dns_lookup.no_dmarc", "example.com", "");

    let mut manual = finding(Severity::Low, FindingStatus::Open, "manual.note", "::1", "");
    manual.tools = Vec::new();
    manual.title = "-1 ports left open".into();

    vec![redis, hostile, secret, line, tls, accepted, false_positive, manual]
}

pub fn report(findings: Vec<TrackedFinding>) -> Report {
    Report {
        title: "Findings of Acme & Sons <Ltd>".into(),
        organisation: "Acme & Sons".into(),
        generated_at: at(21, 8),
        criteria: vec![("status".into(), "open".into()), ("severity".into(), "high".into())],
        findings,
        left_out: 0,
    }
}

/// `n` findings cycling through severities, statuses and tools, each on its own asset.
pub fn many(n: usize) -> Vec<TrackedFinding> {
    let tools = ["tcp_scan", "http_probe", "tls_inspect", "secret_scan"];
    (0..n)
        .map(|index| {
            let tool = tools[index % tools.len()];
            let asset = if tool == "secret_scan" {
                "file:///srv/repos/big".to_owned()
            } else {
                format!("10.{}.{}.{}", index / 65536 % 256, index / 256 % 256, index % 256)
            };
            let location = if tool == "secret_scan" {
                format!("src/file{index}.rs:{}", index % 500 + 1)
            } else {
                format!("tcp/{}", index % 65535 + 1)
            };
            let mut one = finding(
                Severity::ALL[index % Severity::ALL.len()],
                FindingStatus::ALL[index / 3 % FindingStatus::ALL.len()],
                &format!("{tool}.check_{}", index % 37),
                &asset,
                &location,
            );
            one.title = format!("Finding {index} of {tool}");
            one.first_seen = at(1, 0) + Duration::minutes(i64::try_from(index).expect("small"));
            one.detail = format!("Finding number {index}, with a comma, and a \"quote\".\nOn two lines.");
            one
        })
        .collect()
}
