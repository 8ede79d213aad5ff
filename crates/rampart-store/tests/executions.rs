//! The job queue part of the store contract, on SQLite and PostgreSQL.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use rampart_core::executions::{ExecutionStatus, Finish, LogStream, NewExecution};
use rampart_core::identity::Actor;
use rampart_core::output::ToolOutput;
use rampart_core::{ExecutionId, OrgId};
use rampart_store::{Change, Effects, ExecutionFilter, Store, StoreError};
use rampart_testkit::Backend;

use crate::common::{follower, org, store, store_with_clock};
use rstest::rstest;
use serde_json::json;

fn job(max_attempts: u32) -> NewExecution {
    NewExecution {
        tool: "noop".into(),
        params: json!({"n": 1}),
        actor: Actor::System,
        timeout: Duration::from_secs(60),
        max_attempts,
    }
}

const LEASE: Duration = Duration::from_secs(30);
/// The smallest step of the stored clock.
const MICROSECOND: Duration = Duration::from_micros(1);

#[rstest]
#[tokio::test]
async fn a_run_goes_from_queued_to_succeeded_with_progress_and_logs(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let runs = store.executions();

    let queued = runs.enqueue(acme, &job(3), &|_| Effects::none()).await.expect("enqueue");
    assert_eq!((queued.status, queued.attempt), (ExecutionStatus::Queued, 0));
    let claimed = runs.claim("w1", LEASE, 10).await.expect("claim").expect("a job");
    assert_eq!((claimed.id, claimed.status, claimed.attempt), (queued.id, ExecutionStatus::Running, 1));
    assert!(runs.claim("w2", LEASE, 10).await.expect("claim").is_none(), "claimed once");

    assert!(!runs.heartbeat(claimed.id, 1, LEASE).await.expect("heartbeat"));
    runs.progress(claimed.id, 1, 40, "half way").await.expect("progress");
    let lines: Vec<(LogStream, String)> = (0..5).map(|i| (LogStream::Stdout, format!("line {i}"))).collect();
    runs.append_logs(claimed.id, 1, &lines, 7).await.expect("logs");
    runs.append_logs(claimed.id, 1, &lines, 7).await.expect("more logs");
    let done =
        runs.finish(claimed.id, 1, &Finish::Succeeded(ToolOutput::new(json!({"ok": true})))).await.expect("finish");

    assert_eq!((done.status, done.progress), (ExecutionStatus::Succeeded, 100));
    assert_eq!(done.result, Some(json!({"ok": true})));
    assert!(done.finished_at.is_some() && done.started_at.is_some());
    assert_eq!((done.log_lines, done.log_truncated), (7, true));
    let logs = runs.logs(acme, done.id, 0, 100).await.expect("logs");
    assert_eq!(logs.iter().map(|l| l.seq).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>());
    assert_eq!(runs.logs(acme, done.id, 5, 100).await.expect("logs").len(), 2);
    let other = org(&store, "other").await;
    assert!(matches!(runs.get(other, done.id).await, Err(StoreError::NotFound)));
    assert!(matches!(runs.logs(other, done.id, 0, 10).await, Err(StoreError::NotFound)));
}

#[rstest]
#[tokio::test]
async fn a_lost_lease_requeues_the_run_and_fences_the_old_attempt(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, clock, _db) = store_with_clock(backend).await;
    let acme = org(&store, "acme").await;
    let runs = store.executions();
    let queued = runs.enqueue(acme, &job(2), &|_| Effects::none()).await.expect("enqueue");

    let first = runs.claim("w1", LEASE, 10).await.expect("claim").expect("a job");
    clock.advance(LEASE);
    assert_eq!(runs.reap_expired().await.expect("reap"), 0, "a lease holds until its very end");
    assert_eq!(runs.get(acme, queued.id).await.expect("get").status, ExecutionStatus::Running);
    clock.advance(MICROSECOND);
    assert_eq!(runs.reap_expired().await.expect("reap"), 1);
    assert_eq!(runs.get(acme, queued.id).await.expect("get").status, ExecutionStatus::Queued);
    let second = runs.claim("w2", LEASE, 10).await.expect("claim").expect("again");
    assert_eq!(second.attempt, 2);

    // The first worker wakes up late: everything it says is refused.
    assert!(matches!(runs.heartbeat(first.id, 1, LEASE).await, Err(StoreError::Fenced)));
    assert!(matches!(runs.progress(first.id, 1, 90, "late").await, Err(StoreError::Fenced)));
    assert!(matches!(
        runs.append_logs(first.id, 1, &[(LogStream::Stderr, "late".into())], 10).await,
        Err(StoreError::Fenced)
    ));
    assert!(matches!(runs.finish(first.id, 1, &Finish::Failed("late".into())).await, Err(StoreError::Fenced)));
    assert_eq!(runs.get(acme, queued.id).await.expect("get").worker.as_deref(), Some("w2"));

    // Out of attempts, a lost worker is a failure, never a run stuck in running.
    clock.advance(LEASE / 2);
    let _ = runs.heartbeat(second.id, 2, LEASE).await.expect("renewed");
    clock.advance(LEASE);
    assert_eq!(runs.reap_expired().await.expect("reap"), 0, "a heartbeat renews the lease");
    clock.advance(MICROSECOND);
    assert_eq!(runs.reap_expired().await.expect("reap"), 1);
    let failed = runs.get(acme, queued.id).await.expect("get");
    assert_eq!((failed.status, failed.error.as_deref()), (ExecutionStatus::Failed, Some("worker lost")));
}

#[rstest]
#[tokio::test]
async fn cancelling_a_queued_run_ends_it_and_a_running_one_is_asked_to_stop(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let runs = store.executions();
    let running = runs.enqueue(acme, &job(1), &|_| Effects::none()).await.expect("enqueue");
    let claimed = runs.claim("w1", LEASE, 10).await.expect("claim").expect("a job");
    let queued = runs.enqueue(acme, &job(1), &|_| Effects::none()).await.expect("enqueue");

    let cancelled = runs.cancel(acme, queued.id, &Effects::none()).await.expect("cancel");
    let asked = runs.cancel(acme, running.id, &Effects::none()).await.expect("cancel");

    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    assert!(runs.claim("w2", LEASE, 10).await.expect("claim").is_none(), "a cancelled run is never claimed");
    assert_eq!((asked.status, asked.cancel_requested), (ExecutionStatus::Running, true));
    assert!(runs.heartbeat(claimed.id, 1, LEASE).await.expect("heartbeat"), "the worker hears of it");
    let ended = runs.finish(claimed.id, 1, &Finish::Cancelled).await.expect("finish");
    assert_eq!(ended.status, ExecutionStatus::Cancelled);
    assert_eq!(
        runs.cancel(acme, queued.id, &Effects::none()).await.expect("again").status,
        ExecutionStatus::Cancelled,
        "final stays final"
    );
    assert!(matches!(runs.cancel(acme, ExecutionId::new(), &Effects::none()).await, Err(StoreError::NotFound)));
    let listed = runs
        .list(
            acme,
            &ExecutionFilter { status: Some(ExecutionStatus::Cancelled), ..Default::default() },
            rampart_store::Seek::first(10),
        )
        .await;
    assert_eq!(listed.expect("list").len(), 2);
}

#[rstest]
#[tokio::test]
async fn concurrent_workers_claim_each_run_once_within_the_per_organisation_limit(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    for _ in 0..30 {
        store.executions().enqueue(acme, &job(1), &|_| Effects::none()).await.expect("enqueue");
    }
    store.executions().enqueue(other, &job(1), &|_| Effects::none()).await.expect("enqueue");

    // With at most 2 running per organisation, 8 workers can hold only 2 of acme's and 1 of other's.
    let mut workers = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        workers.push(tokio::spawn(async move { store.executions().claim(&format!("w{worker}"), LEASE, 2).await }));
    }
    let mut claimed = Vec::new();
    for worker in workers {
        if let Some(run) = worker.await.expect("joined").expect("claim") {
            claimed.push(run);
        }
    }
    let orgs: Vec<OrgId> = claimed.iter().map(|run| run.org_id).collect();
    assert_eq!(orgs.iter().filter(|org| **org == acme).count(), 2, "the limit holds under concurrent claims: {orgs:?}");
    assert!(orgs.contains(&other), "another organisation is not starved");

    // Drain the rest, one at a time: every run is claimed exactly once.
    let mut seen: HashSet<ExecutionId> = claimed.iter().map(|run| run.id).collect();
    for run in &claimed {
        store
            .executions()
            .finish(run.id, run.attempt, &Finish::Succeeded(ToolOutput::new(json!(null))))
            .await
            .expect("finish");
    }
    while let Some(run) = store.executions().claim("drain", LEASE, 100).await.expect("claim") {
        assert!(seen.insert(run.id), "claimed twice");
        store
            .executions()
            .finish(run.id, run.attempt, &Finish::Succeeded(ToolOutput::new(json!(null))))
            .await
            .expect("finish");
    }
    assert_eq!(seen.len(), 31);
}

#[rstest]
#[tokio::test]
async fn claims_take_turns_between_organisations_so_a_backlog_does_not_starve_a_later_one(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let (acme, other) = (org(&store, "acme").await, org(&store, "other").await);
    let runs = store.executions();
    // acme queues more runs than four workers could take at once; other queues two, later.
    let mut acme_runs = Vec::new();
    for _ in 0..6 {
        acme_runs.push(runs.enqueue(acme, &job(1), &|_| Effects::none()).await.expect("enqueue").id);
    }
    let mut other_runs = Vec::new();
    for _ in 0..2 {
        other_runs.push(runs.enqueue(other, &job(1), &|_| Effects::none()).await.expect("enqueue").id);
    }

    // The organisation with the fewest running goes first; on a tie, the one waiting longest.
    let mut claimed = Vec::new();
    for worker in 0..4 {
        let run = runs.claim(&format!("w{worker}"), LEASE, 8).await.expect("claim").expect("a run");
        claimed.push((run.org_id, run.id));
    }
    assert_eq!(
        claimed,
        vec![(acme, acme_runs[0]), (other, other_runs[0]), (acme, acme_runs[1]), (other, other_runs[1])],
        "the second claim goes to the later organisation, not to the backlog"
    );

    // When other's running run ends, its next one would go before acme's third; with none
    // queued, acme's backlog is drained oldest first, up to its limit.
    let mut rest = Vec::new();
    while let Some(run) = runs.claim("w", LEASE, 5).await.expect("claim") {
        assert_eq!(run.org_id, acme);
        rest.push(run.id);
    }
    assert_eq!(rest, acme_runs[2..5], "acme's oldest first, and no more than 5 running at once");
}

/// Waits for the next notice about `id`, skipping others; `None` if none comes in time.
async fn notice_of(changes: &mut tokio::sync::broadcast::Receiver<Change>, id: ExecutionId) -> Option<()> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match changes.recv().await {
                Ok(Change::Execution(changed)) if changed == id => return,
                Ok(_) => {}
                Err(error) => panic!("notices stopped: {error}"),
            }
        }
    })
    .await
    .ok()
}

#[rstest]
#[tokio::test]
async fn every_visible_change_of_a_run_is_noticed_once_committed(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, clock, db) = store_with_clock(backend).await;
    let follower = follower(&store, &db, backend).await;
    let mut changes = follower.subscribe().await;
    let acme = org(&store, "acme").await;
    let runs = store.executions();

    let cancelled = runs.enqueue(acme, &job(1), &|_| Effects::none()).await.expect("enqueue");
    runs.cancel(acme, cancelled.id, &Effects::none()).await.expect("cancel");
    assert!(notice_of(&mut changes, cancelled.id).await.is_some(), "a cancel is noticed");

    let run = runs.enqueue(acme, &job(1), &|_| Effects::none()).await.expect("enqueue");
    runs.claim("w1", LEASE, 10).await.expect("claim").expect("a job");
    assert!(notice_of(&mut changes, run.id).await.is_some(), "a claim is noticed");
    runs.progress(run.id, 1, 10, "started").await.expect("progress");
    assert!(notice_of(&mut changes, run.id).await.is_some(), "progress is noticed");
    runs.append_logs(run.id, 1, &[(LogStream::Stdout, "hello".into())], 100).await.expect("logs");
    assert!(notice_of(&mut changes, run.id).await.is_some(), "a log line is noticed");
    runs.finish(run.id, 1, &Finish::Succeeded(ToolOutput::new(json!({})))).await.expect("finish");
    assert!(notice_of(&mut changes, run.id).await.is_some(), "the end is noticed");

    // A lease that expires is noticed too, whoever reaps it.
    let lost = runs.enqueue(acme, &job(1), &|_| Effects::none()).await.expect("enqueue");
    runs.claim("w1", LEASE, 10).await.expect("claim").expect("a job");
    assert!(notice_of(&mut changes, lost.id).await.is_some(), "a claim is noticed");
    clock.advance(LEASE + MICROSECOND);
    assert_eq!(runs.reap_expired().await.expect("reap"), 1);
    assert!(notice_of(&mut changes, lost.id).await.is_some(), "a reaped run is noticed");
    assert_eq!(runs.get(acme, lost.id).await.expect("run").error.as_deref(), Some("worker lost"));
}
