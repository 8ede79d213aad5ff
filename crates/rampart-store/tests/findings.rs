//! Tracked findings, part of the store contract on SQLite and PostgreSQL: one finding per
//! fingerprint across runs and tools, resolved only by a run that covered it, reopened as a
//! regression, silenced when judged, changed by people with a history, and their change events.

mod common;

use std::time::Duration;

use chrono::Duration as Days;
use rampart_core::changes::ChangeKind;
use rampart_core::executions::{Finish, NewExecution};
use rampart_core::findings::{FindingChange, FindingStatus, Severity, TrackedFinding};
use rampart_core::identity::Actor;
use rampart_core::outbox::Topic;
use rampart_core::output::{Covered, Finding, ToolOutput};
use rampart_core::time::Clock;
use rampart_core::{FindingId, OrgId};
use rampart_store::{
    AuditFilter, ChangeFilter, Effects, FindingFilter, FindingSort, Seek, SqlStore, Store, StoreError,
};
use rampart_testkit::Backend;
use rstest::rstest;
use serde_json::json;

use crate::common::{org, store, store_with_clock};

const LEASE: Duration = Duration::from_secs(30);

fn redis(host: &str) -> Finding {
    Finding::new(Severity::High, "tcp_scan.exposed_redis", "Redis exposed", host, "tcp/6379")
}

fn docker(host: &str) -> Finding {
    Finding::new(Severity::Critical, "tcp_scan.exposed_docker", "Docker exposed", host, "tcp/2375")
}

fn output(findings: Vec<Finding>, coverage: Vec<Covered>) -> ToolOutput {
    let mut output = ToolOutput::new(json!({}));
    output.findings.extend(findings);
    output.coverage.extend(coverage);
    output
}

/// A `tool` run of `org` that finishes with `output`.
async fn run(store: &SqlStore, org: OrgId, tool: &str, output: ToolOutput) {
    let new = NewExecution {
        tool: tool.into(),
        params: json!({}),
        actor: Actor::System,
        timeout: Duration::from_secs(60),
        max_attempts: 1,
    };
    store.executions().enqueue(org, &new, &|_| Effects::none()).await.expect("enqueue");
    let claimed = store.executions().claim("w1", LEASE, 10).await.expect("claim").expect("a run");
    store.executions().finish(claimed.id, claimed.attempt, &Finish::Succeeded(output)).await.expect("finish");
}

async fn import(store: &SqlStore, org: OrgId, output: ToolOutput) {
    let new = NewExecution {
        tool: "import".into(),
        params: json!({"format": "sarif"}),
        actor: Actor::System,
        timeout: Duration::from_secs(1),
        max_attempts: 1,
    };
    store.executions().record_finished(org, &new, &output, &|_| Effects::none()).await.expect("import");
}

async fn all(store: &SqlStore, org: OrgId) -> Vec<TrackedFinding> {
    let filter = FindingFilter::default();
    store.findings().list(org, &filter, FindingSort::LastSeenAsc, Seek::first(1000)).await.expect("list")
}

async fn kinds(store: &SqlStore, org: OrgId) -> Vec<ChangeKind> {
    let changes = store.change_events().list(org, &ChangeFilter::default(), Seek::first(1000)).await.expect("changes");
    changes.into_iter().map(|change| change.kind).collect()
}

#[rstest]
#[tokio::test]
async fn the_same_issue_from_two_runs_and_an_import_is_one_finding(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let other = org(&store, "other").await;

    run(&store, acme, "tcp_scan", output(vec![redis("10.0.0.5"), redis("10.0.0.5")], vec![])).await;
    let first = all(&store, acme).await;
    assert_eq!(first.len(), 1, "the same fingerprint twice in one run is one finding");
    // Said differently the next time: the title is not part of its identity.
    let mut again = redis("10.0.0.5");
    again.title = "Redis answers without a password".into();
    run(&store, acme, "tcp_scan", output(vec![again, docker("10.0.0.5")], vec![])).await;
    import(&store, acme, output(vec![redis("10.0.0.5")], vec![])).await;
    run(&store, other, "tcp_scan", output(vec![redis("10.0.0.5")], vec![])).await;

    let findings = all(&store, acme).await;
    assert_eq!(findings.len(), 2);
    let tracked = findings.iter().find(|f| f.check_id == "tcp_scan.exposed_redis").expect("redis");
    assert_eq!(tracked.id, first[0].id);
    assert_eq!(tracked.occurrences, 3);
    assert_eq!(tracked.tools, vec!["tcp_scan".to_owned(), "import".to_owned()]);
    assert_eq!(tracked.title, "Redis exposed", "the last run's words");
    assert!(tracked.last_seen >= tracked.first_seen);
    assert_eq!(tracked.status, FindingStatus::Open);
    let runs = store.findings().runs(acme, tracked.id, 10).await.expect("runs");
    assert_eq!(runs.iter().map(|run| run.tool.as_str()).collect::<Vec<_>>(), ["import", "tcp_scan", "tcp_scan"]);
    assert_eq!(kinds(&store, acme).await, [ChangeKind::FindingNew, ChangeKind::FindingNew]);
    assert_eq!(all(&store, other).await.len(), 1, "each organisation tracks its own");
    assert!(matches!(store.findings().get(other, tracked.id).await, Err(StoreError::NotFound)));
    assert!(store.findings().runs(other, tracked.id, 10).await.expect("none").is_empty());
}

#[rstest]
#[tokio::test]
async fn only_a_run_that_covered_a_finding_resolves_it(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    run(&store, acme, "tcp_scan", output(vec![redis("10.0.0.5"), docker("10.0.0.5"), redis("10.0.0.6")], vec![])).await;

    // Found nothing, looked for nothing: closes nothing.
    run(&store, acme, "tcp_scan", output(vec![], vec![])).await;
    // Looked at another host, and at ports that are not 6379 on this one.
    let elsewhere = vec![
        Covered::new("tcp_scan.*", "10.0.0.7"),
        Covered::new("tcp_scan.*", "10.0.0.5").at("tcp/1-1024"),
        Covered::new("tls_inspect.*", "10.0.0.5"),
    ];
    run(&store, acme, "tcp_scan", output(vec![], elsewhere)).await;
    assert!(all(&store, acme).await.iter().all(|f| f.status == FindingStatus::Open));

    // Looked at every port of 10.0.0.5, and saw Docker again but not Redis.
    let covered = vec![Covered::new("tcp_scan.*", "10.0.0.5").at("tcp/1-65535")];
    run(&store, acme, "tcp_scan", output(vec![docker("10.0.0.5")], covered)).await;

    let findings = all(&store, acme).await;
    let status = |check: &str, host: &str| {
        findings.iter().find(|f| f.check_id == check && f.asset == host).expect("tracked").status
    };
    assert_eq!(status("tcp_scan.exposed_redis", "10.0.0.5"), FindingStatus::Resolved);
    assert_eq!(status("tcp_scan.exposed_docker", "10.0.0.5"), FindingStatus::Open);
    assert_eq!(status("tcp_scan.exposed_redis", "10.0.0.6"), FindingStatus::Open, "not covered");
    assert_eq!(kinds(&store, acme).await.last(), Some(&ChangeKind::FindingResolved));
    let audit = store.audit().list(acme, &AuditFilter::default(), Seek::first(10)).await.expect("audit");
    assert_eq!(audit.len(), 1, "only the run that resolved something: {audit:?}");
    assert_eq!(audit[0].event.action, rampart_core::identity::AuditAction::FindingUpdate);
    assert!(audit[0].event.detail.as_deref().is_some_and(|detail| detail.starts_with("1 finding(s) resolved")));
    let resolved = findings.iter().find(|f| f.status == FindingStatus::Resolved).expect("resolved");
    let history = store.findings().history(acme, resolved.id, 10).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].actor, history[0].status), (Actor::System, Some(FindingStatus::Resolved)));

    // A failed run covers nothing, whatever it would have said.
    let new = NewExecution {
        tool: "tcp_scan".into(),
        params: json!({}),
        actor: Actor::System,
        timeout: Duration::from_secs(60),
        max_attempts: 1,
    };
    store.executions().enqueue(acme, &new, &|_| Effects::none()).await.expect("enqueue");
    let claimed = store.executions().claim("w1", LEASE, 10).await.expect("claim").expect("a run");
    store.executions().finish(claimed.id, 1, &Finish::Failed("boom".into())).await.expect("finish");
    assert_eq!(status("tcp_scan.exposed_docker", "10.0.0.5"), FindingStatus::Open);
}

#[rstest]
#[tokio::test]
async fn a_resolved_finding_seen_again_is_a_regression_and_a_judged_one_stays_silent(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    run(&store, acme, "tcp_scan", output(vec![redis("10.0.0.5"), docker("10.0.0.5")], vec![])).await;
    let covered = vec![Covered::new("tcp_scan.exposed_redis", "10.0.0.5")];
    run(&store, acme, "tcp_scan", output(vec![docker("10.0.0.5")], covered)).await;
    let docker_id =
        all(&store, acme).await.into_iter().find(|f| f.check_id == "tcp_scan.exposed_docker").expect("d").id;
    let judged = FindingChange {
        status: Some(FindingStatus::FalsePositive),
        note: "a honeypot of ours".into(),
        ..Default::default()
    };
    store.findings().change(acme, &[docker_id], &judged, Actor::System, &|_| Effects::none()).await.expect("judged");
    let before = kinds(&store, acme).await.len();

    run(&store, acme, "tcp_scan", output(vec![redis("10.0.0.5"), docker("10.0.0.5")], vec![])).await;

    let findings = all(&store, acme).await;
    let redis = findings.iter().find(|f| f.check_id == "tcp_scan.exposed_redis").expect("redis");
    assert_eq!((redis.status, redis.regression), (FindingStatus::Open, true));
    let docker = findings.iter().find(|f| f.id == docker_id).expect("docker");
    assert_eq!((docker.status, docker.regression, docker.occurrences), (FindingStatus::FalsePositive, false, 3));
    assert_eq!(kinds(&store, acme).await[before..], [ChangeKind::FindingReopened], "only the regression");
    let regressions = FindingFilter { regression: Some(true), ..Default::default() };
    let listed =
        store.findings().list(acme, &regressions, FindingSort::default(), Seek::first(10)).await.expect("list");
    assert_eq!(listed.iter().map(|f| f.id).collect::<Vec<_>>(), [redis.id]);
    // The finish told the outbox what changed.
    let records = store.outbox().read(0, 100).await.expect("outbox");
    let changes: Vec<_> = records.iter().filter(|r| r.record.topic == Topic::ChangesRecorded).collect();
    assert_eq!(changes.len(), 3, "the runs that changed something: {changes:?}");
    assert_eq!(changes[2].record.payload["finding_reopened"], 1);
}

#[rstest]
#[tokio::test]
async fn an_accepted_risk_is_open_again_when_its_time_is_up(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, clock, _db) = store_with_clock(backend).await;
    let acme = org(&store, "acme").await;
    run(&store, acme, "tcp_scan", output(vec![redis("10.0.0.5")], vec![])).await;
    let id = all(&store, acme).await[0].id;
    let now = clock.now();
    let accept = FindingChange {
        status: Some(FindingStatus::Accepted),
        accepted_until: Some(now + Days::days(7)),
        note: "behind the VPN until the migration".into(),
        ..Default::default()
    }
    .checked(now)
    .expect("valid");
    let user = Actor::User(rampart_core::UserId::new());
    store.findings().change(acme, &[id], &accept, user, &|_| Effects::none()).await.expect("accepted");
    // Seen again meanwhile: it stays accepted.
    run(&store, acme, "tcp_scan", output(vec![redis("10.0.0.5")], vec![])).await;

    assert_eq!(store.findings().reopen_expired(now + Days::days(6)).await.expect("none yet"), 0);
    assert_eq!(store.findings().get(acme, id).await.expect("get").status, FindingStatus::Accepted);
    assert_eq!(store.findings().reopen_expired(now + Days::days(8)).await.expect("one"), 1);

    let finding = store.findings().get(acme, id).await.expect("get");
    assert_eq!((finding.status, finding.accepted_until), (FindingStatus::Open, None));
    let history = store.findings().history(acme, id, 10).await.expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].actor, history[0].status), (user, Some(FindingStatus::Accepted)));
    assert_eq!(history[0].note, "behind the VPN until the migration");
    assert_eq!((history[1].actor, history[1].status), (Actor::System, Some(FindingStatus::Open)));
    let audit = store.audit().list(acme, &AuditFilter::default(), Seek::first(10)).await.expect("audit");
    let expired = format!("finding:{id}");
    assert!(
        audit.iter().any(|e| e.event.actor == Actor::System && e.event.target.as_deref() == Some(expired.as_str())),
        "the expiry is audited: {audit:?}"
    );
}

#[rstest]
#[tokio::test]
async fn a_change_naming_a_finding_of_another_organisation_changes_nothing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let other = org(&store, "other").await;
    run(&store, acme, "tcp_scan", output(vec![redis("10.0.0.5")], vec![])).await;
    run(&store, other, "tcp_scan", output(vec![redis("10.0.0.5")], vec![])).await;
    let mine = all(&store, acme).await[0].id;
    let theirs = all(&store, other).await[0].id;
    let change = FindingChange { status: Some(FindingStatus::Acknowledged), ..Default::default() };

    let refused = store.findings().change(acme, &[mine, theirs], &change, Actor::System, &|_| Effects::none()).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    let missing =
        store.findings().change(acme, &[FindingId::new()], &change, Actor::System, &|_| Effects::none()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));

    assert_eq!(store.findings().get(acme, mine).await.expect("mine").status, FindingStatus::Open, "all or nothing");
    assert_eq!(store.findings().get(other, theirs).await.expect("theirs").status, FindingStatus::Open);
    assert!(store.findings().history(acme, theirs, 10).await.expect("none").is_empty());
}

#[rstest]
#[tokio::test]
async fn findings_are_filtered_sorted_and_paged(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, clock, _db) = store_with_clock(backend).await;
    let acme = org(&store, "acme").await;
    let mut findings = Vec::new();
    for host in 1..=30 {
        findings.push(redis(&format!("10.0.0.{host}")));
        findings.push(docker(&format!("10.0.0.{host}")));
        findings.push(Finding::new(
            Severity::Info,
            "dns_lookup.caa_missing",
            "No CAA",
            format!("h{host}.example.com"),
            "",
        ));
    }
    run(&store, acme, "tcp_scan", output(findings, vec![])).await;

    let mut seen = Vec::new();
    let mut from = None;
    loop {
        let page = store
            .findings()
            .list(acme, &FindingFilter::default(), FindingSort::SeverityDesc, Seek { from, limit: 7 })
            .await
            .expect("page");
        seen.extend(page.iter().map(|f| (f.severity, f.id)));
        match page.last() {
            Some(last) if page.len() == 7 => from = Some(last.id),
            _ => break,
        }
    }
    assert_eq!(seen.len(), 90, "every finding once");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "the most severe first, the newest first among equals");

    let count = |filter: FindingFilter| {
        let store = store.clone();
        async move {
            store.findings().list(acme, &filter, FindingSort::default(), Seek::first(500)).await.expect("list").len()
        }
    };
    assert_eq!(count(FindingFilter { severity: Some(Severity::Critical), ..Default::default() }).await, 30);
    assert_eq!(count(FindingFilter { check: Some("tcp_scan.*".into()), ..Default::default() }).await, 60);
    assert_eq!(count(FindingFilter { check: Some("tcp_scan".into()), ..Default::default() }).await, 0);
    assert_eq!(count(FindingFilter { asset: Some("10.0.0.7".into()), ..Default::default() }).await, 2);
    assert_eq!(count(FindingFilter { target: Some("example.com".into()), ..Default::default() }).await, 30);
    assert_eq!(count(FindingFilter { text: Some("DOCKER".into()), ..Default::default() }).await, 30);
    assert_eq!(count(FindingFilter { text: Some("%".into()), ..Default::default() }).await, 0, "literal text");
    assert_eq!(count(FindingFilter { tool: Some("tcp_scan".into()), ..Default::default() }).await, 90);
    assert_eq!(count(FindingFilter { tool: Some("tcp".into()), ..Default::default() }).await, 0);
    assert_eq!(count(FindingFilter { overdue: Some(true), ..Default::default() }).await, 0);
    assert_eq!(count(FindingFilter { overdue: Some(false), ..Default::default() }).await, 90);
    clock.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(count(FindingFilter { overdue: Some(true), ..Default::default() }).await, 30, "critical: 7 days");
    assert_eq!(count(FindingFilter { overdue: Some(false), ..Default::default() }).await, 60);

    let summary = store.findings().summary(acme, &FindingFilter::default()).await.expect("summary");
    assert_eq!(summary.total, 90);
    assert_eq!(summary.by_severity.get("critical"), Some(&30));
    assert_eq!(summary.by_status.get("open"), Some(&90));
    assert_eq!(summary.by_tool.get("tcp_scan"), Some(&90));
    assert_eq!(summary.by_asset.len(), 20);
    assert_eq!(summary.by_asset[0].1, 2);
    assert_eq!(summary.overdue, 30);
}

#[rstest]
#[tokio::test]
async fn an_import_larger_than_a_run_is_tracked_whole_and_again_as_the_same(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let mut report = ToolOutput::new(json!({}));
    report.findings = rampart_core::output::Kept::with_cap(20_000);
    for line in 0..12_000 {
        report.findings.push(Finding::new(
            Severity::Low,
            "sarif.rule",
            "A result",
            "src/app.py",
            format!("line {line}"),
        ));
    }

    import(&store, acme, report.clone()).await;
    import(&store, acme, report).await;

    let summary = store.findings().summary(acme, &FindingFilter::default()).await.expect("summary");
    assert_eq!(summary.total, 12_000, "past a run's cap, and once each");
    let all = FindingFilter::default();
    let page = store.findings().list(acme, &all, FindingSort::LastSeenAsc, Seek::first(500)).await.expect("list");
    assert!(page.iter().all(|finding| finding.occurrences == 2));
}
