//! A run's findings and artifacts, part of the store contract on SQLite and PostgreSQL: stored by
//! the finish in the transaction of its status, fenced with it, read only by the run's
//! organisation, and bounded.

mod common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use rampart_core::executions::{ExecutionStatus, Finish, NewExecution};
use rampart_core::findings::Severity;
use rampart_core::identity::Actor;
use rampart_core::outbox::Topic;
use rampart_core::output::{Artifact, Certificate, Finding, KEPT_MAX, Proto, RunOutput, ToolOutput};
use rampart_core::{ExecutionId, OrgId};
use rampart_store::{SqlStore, Store, StoreError};
use rampart_testkit::{Backend, TestDatabase};
use rstest::rstest;
use serde_json::json;

use crate::common::{org, store};

const LEASE: Duration = Duration::from_secs(30);

/// A run of `org` claimed by a worker: attempt 1, running.
async fn running(store: &SqlStore, org: OrgId) -> ExecutionId {
    let new = NewExecution {
        tool: "tcp_scan".into(),
        params: json!({"targets": ["10.0.0.5"]}),
        actor: Actor::System,
        timeout: Duration::from_secs(60),
        max_attempts: 3,
    };
    let queued = store.executions().enqueue(org, &new, &|_| rampart_store::Effects::none()).await.expect("enqueue");
    let claimed = store.executions().claim("w1", LEASE, 10).await.expect("claim").expect("a run");
    assert_eq!((claimed.id, claimed.attempt), (queued.id, 1));
    claimed.id
}

fn scan_output() -> ToolOutput {
    let mut output = ToolOutput::new(json!({"hosts": [], "summary": {"open": 2}}));
    output.findings.push(
        Finding::new(Severity::High, "tcp_scan.exposed_redis", "Redis exposed", "10.0.0.5", "tcp/6379")
            .detail("TCP port 6379 is open"),
    );
    output.findings.push(Finding::new(Severity::Critical, "tcp_scan.exposed_docker", "Docker", "10.0.0.5", "tcp/2375"));
    output.artifacts.extend([
        Artifact::Service { host: [10, 0, 0, 5].into(), port: 6379, proto: Proto::Tcp, name: Some("redis".into()) },
        Artifact::Host { address: [10, 0, 0, 5].into() },
        Artifact::Domain { name: "scan.example".into() },
        Artifact::url("https://scan.example/login"),
        Artifact::Certificate(Certificate {
            subject: "CN=scan.example".into(),
            issuer: "CN=Example CA".into(),
            sans: vec!["scan.example".into(), "www.scan.example".into()],
            not_before: None,
            not_after: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("a time"),
            sha256: "ab".repeat(32),
            host: Some("scan.example".into()),
            port: Some(443),
        }),
    ]);
    output
}

fn stored(output: &ToolOutput) -> RunOutput {
    RunOutput { findings: output.findings.clone(), artifacts: output.artifacts.clone() }
}

#[rstest]
#[tokio::test]
async fn a_finish_stores_the_output_with_its_status_and_only_the_runs_organisation_reads_it(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let other = org(&store, "other").await;
    let id = running(&store, acme).await;
    assert_eq!(store.executions().output(acme, id).await.expect("output"), RunOutput::default(), "none while running");

    let output = scan_output();
    let done = store.executions().finish(id, 1, &Finish::Succeeded(output.clone())).await.expect("finish");

    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.result, Some(output.result.clone()), "the result is stored as it was");
    assert_eq!(store.executions().output(acme, id).await.expect("output"), stored(&output), "in the tool's order");
    assert!(matches!(store.executions().output(other, id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.executions().output(acme, ExecutionId::new()).await, Err(StoreError::NotFound)));
}

#[rstest]
#[tokio::test]
async fn a_fenced_finish_stores_no_output(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let id = running(&store, acme).await;
    // The run goes back to the queue and is claimed again: attempt 1 is no longer the current one.
    store.executions().release(id, 1).await.expect("release");
    let again = store.executions().claim("w2", LEASE, 10).await.expect("claim").expect("the run again");
    assert_eq!(again.attempt, 2);

    let late = store.executions().finish(id, 1, &Finish::Succeeded(scan_output())).await;

    assert!(matches!(late, Err(StoreError::Fenced)));
    assert_eq!(store.executions().output(acme, id).await.expect("output"), RunOutput::default());
    let current = ToolOutput::new(json!({}));
    store.executions().finish(id, 2, &Finish::Succeeded(current)).await.expect("the current attempt finishes");
    assert_eq!(store.executions().output(acme, id).await.expect("output"), RunOutput::default());
}

/// Makes every insert of an artifact fail, as a full disk or a broken connection would.
async fn refuse_artifacts(db: &TestDatabase) {
    use sqlx::Connection;
    match db.postgres_url() {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(
                "CREATE FUNCTION refuse_artifacts() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
            )
            .execute(&mut conn)
            .await
            .expect("a function");
            sqlx::query(
                "CREATE TRIGGER refuse_artifacts BEFORE INSERT ON execution_artifacts \
                 FOR EACH STATEMENT EXECUTE FUNCTION refuse_artifacts()",
            )
            .execute(&mut conn)
            .await
            .expect("a trigger");
        }
        None => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.expect("connect");
            sqlx::query(
                "CREATE TRIGGER refuse_artifacts BEFORE INSERT ON execution_artifacts \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END",
            )
            .execute(&mut conn)
            .await
            .expect("a trigger");
        }
    }
}

#[rstest]
#[tokio::test]
async fn a_finish_whose_output_cannot_be_stored_changes_nothing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let id = running(&store, acme).await;
    refuse_artifacts(&db).await;

    let failed = store.executions().finish(id, 1, &Finish::Succeeded(scan_output())).await;

    assert!(failed.is_err(), "the artifacts are refused, so the finish fails");
    let run = store.executions().get(acme, id).await.expect("get");
    assert_eq!((run.status, run.result), (ExecutionStatus::Running, None), "the status rolled back with the output");
    assert_eq!(store.executions().output(acme, id).await.expect("output"), RunOutput::default(), "findings too");
}

#[rstest]
#[tokio::test]
async fn a_run_stores_at_most_the_cap_and_counts_the_rest(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let id = running(&store, acme).await;
    let mut output = ToolOutput::new(json!({}));
    for n in 0..KEPT_MAX + 3 {
        let port = u16::try_from(n % 65_536).expect("a port");
        output.findings.push(Finding::new(Severity::Info, "check", format!("n{n}"), "10.0.0.5", format!("tcp/{port}")));
        output.artifacts.push(Artifact::Service { host: [10, 0, 0, 5].into(), port, proto: Proto::Tcp, name: None });
    }
    output.artifacts.count_unkept(1_000);

    store.executions().finish(id, 1, &Finish::Succeeded(output)).await.expect("finish");

    let read = store.executions().output(acme, id).await.expect("output");
    assert_eq!((read.findings.items().len(), read.findings.total()), (KEPT_MAX, KEPT_MAX as u64 + 3));
    assert_eq!((read.artifacts.items().len(), read.artifacts.total()), (KEPT_MAX, KEPT_MAX as u64 + 1_003));
    assert_eq!(read.findings.items()[KEPT_MAX - 1].title, format!("n{}", KEPT_MAX - 1), "the first are kept");
}

#[rstest]
#[tokio::test]
async fn a_finished_record_stores_the_row_its_output_and_its_effects_together(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use rampart_core::identity::{AuditAction, NewAuditEvent, Outcome, RequestContext};
    use rampart_store::AuditFilter;

    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let other = org(&store, "other").await;
    let new = NewExecution {
        tool: "import".into(),
        params: json!({"format": "nmap_xml", "source": "scan.xml"}),
        actor: Actor::System,
        timeout: Duration::from_secs(1),
        max_attempts: 1,
    };
    let output = scan_output();
    let context = RequestContext { ip: None, request_id: Some("req-import".into()) };
    let audit = |execution: &rampart_core::executions::Execution| {
        rampart_store::Effects::audit(
            NewAuditEvent::new(Some(acme), Actor::System, AuditAction::ExecutionCreate, Outcome::Success, &context)
                .target(format!("execution:{}", execution.id)),
        )
    };

    let recorded = store.executions().record_finished(acme, &new, &output, &audit).await.expect("recorded");

    assert_eq!(
        (recorded.status, recorded.progress, recorded.tool.as_str()),
        (ExecutionStatus::Succeeded, 100, "import")
    );
    assert_eq!(recorded.result, Some(output.result.clone()));
    assert!(recorded.finished_at.is_some());
    assert_eq!(store.executions().get(acme, recorded.id).await.expect("get"), recorded);
    assert_eq!(store.executions().output(acme, recorded.id).await.expect("output"), stored(&output));
    assert!(matches!(store.executions().output(other, recorded.id).await, Err(StoreError::NotFound)));
    let events =
        store.audit().list(acme, &AuditFilter::default(), rampart_store::Seek::first(10)).await.expect("audit");
    let expected = format!("execution:{}", recorded.id);
    assert!(events.iter().any(|event| event.event.target.as_deref() == Some(expected.as_str())), "audited");
    let records = store.outbox().read(0, 10).await.expect("outbox");
    let topics: Vec<Topic> = records.iter().map(|record| record.record.topic).collect();
    assert_eq!(topics, [Topic::RunFinished, Topic::ChangesRecorded], "as a finish writes them: its findings are new");
    assert!(store.executions().claim("w1", LEASE, 10).await.expect("claim").is_none(), "nothing was queued");
}
