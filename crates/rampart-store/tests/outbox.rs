//! The outbox on SQLite and PostgreSQL: records appended with their change, in commit order; a
//! dispatcher killed mid-batch loses nothing; a restarted or a concurrent one delivers each record
//! exactly once in effect to a consumer that absorbs repeats by id; pruning keeps what some
//! consumer still needs.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::OrgId;
use rampart_core::executions::{Finish, NewExecution};
use rampart_core::identity::Actor;
use rampart_core::outbox::{OutboxRecord, Topic};
use rampart_store::{Consumer, DeliveryError, DispatchConfig, Dispatcher, Effects, SqlStore, Store, StoreError};
use rampart_testkit::Backend;
use rstest::rstest;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::common::{connect, org, store};

const LONG: Duration = Duration::from_secs(3600);

/// Finishes `n` runs of `org`; answers their ids in the order they finished.
async fn finish_runs(store: &SqlStore, org: OrgId, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let new = NewExecution {
            tool: "noop".into(),
            params: json!({}),
            actor: Actor::System,
            timeout: Duration::from_secs(60),
            max_attempts: 1,
        };
        store.executions().enqueue(org, &new, &|_| Effects::none()).await.expect("enqueue");
        let run = store.executions().claim("w", LONG, 100).await.expect("claim").expect("a run");
        store
            .executions()
            .finish(run.id, run.attempt, &Finish::Succeeded(rampart_core::output::ToolOutput::new(json!(null))))
            .await
            .expect("finish");
        ids.push(run.id.to_string());
    }
    ids
}

/// What a consumer did, shared by every dispatcher of it (as a database would be by processes).
#[derive(Default)]
struct Ledger {
    /// Every delivery, repeats included.
    deliveries: Vec<i64>,
    /// The effects: one per record id, a repeat absorbed.
    effects: Vec<i64>,
}

/// A consumer that acts once per record id; optionally it stops answering (a process dying
/// between acting and acknowledging) once it has acted `die_after` times.
struct Idempotent {
    ledger: Arc<Mutex<Ledger>>,
    acted: watch::Sender<usize>,
    die_after: Option<usize>,
}

impl Idempotent {
    fn new(ledger: Arc<Mutex<Ledger>>, die_after: Option<usize>) -> (Arc<Self>, watch::Receiver<usize>) {
        let (acted, watching) = watch::channel(0);
        (Arc::new(Self { ledger, acted, die_after }), watching)
    }
}

#[async_trait]
impl Consumer for Idempotent {
    async fn deliver(&self, record: &OutboxRecord) -> Result<(), DeliveryError> {
        let acted = {
            let mut ledger = self.ledger.lock().expect("ledger");
            ledger.deliveries.push(record.id);
            if !ledger.effects.contains(&record.id) {
                ledger.effects.push(record.id);
            }
            ledger.deliveries.len()
        };
        self.acted.send_replace(acted);
        if self.die_after.is_some_and(|limit| acted >= limit) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

fn config(lease: Duration, batch: u32) -> DispatchConfig {
    DispatchConfig { batch, lease, idle: LONG, backoff_min: LONG, backoff_max: LONG }
}

async fn all_ids(store: &dyn Store) -> Vec<i64> {
    store.outbox().read(0, 500).await.expect("read").iter().map(|record| record.id).collect()
}

#[rstest]
#[tokio::test]
async fn a_finished_run_appends_its_record_in_commit_order(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    let runs = finish_runs(&store, acme, 3).await;

    let records = store.outbox().read(0, 100).await.expect("read");

    assert_eq!(records.len(), 3);
    assert!(records.windows(2).all(|pair| pair[0].id < pair[1].id), "ids grow");
    for (record, run) in records.iter().zip(&runs) {
        assert_eq!((record.record.topic, record.record.org), (Topic::RunFinished, Some(acme)));
        assert_eq!(record.record.payload, json!({ "execution": run, "tool": "noop", "status": "succeeded" }));
    }
    assert_eq!(store.outbox().read(records[1].id, 100).await.expect("read").len(), 1);
}

#[rstest]
#[tokio::test]
async fn a_killed_dispatcher_loses_no_record_and_a_restarted_one_delivers_each_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, db) = store(backend).await;
    let acme = org(&store, "acme").await;
    finish_runs(&store, acme, 5).await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    // The first process acts on three records and dies before acknowledging any; its lease is
    // zero, so it has expired by the time the next process claims.
    let (dying, mut acted) = Idempotent::new(ledger.clone(), Some(3));
    let first = Dispatcher::new(store.clone(), "mailer", dying, config(Duration::ZERO, 100));
    let task = tokio::spawn(async move { first.step().await });
    acted.wait_for(|n| *n >= 3).await.expect("three acted");
    task.abort();
    assert!(task.await.expect_err("aborted").is_cancelled());
    store.close().await;
    drop(store);

    let reopened: Arc<dyn Store> = Arc::new(connect(&db.url(), 5).await);
    let ids = all_ids(reopened.as_ref()).await;
    assert_eq!(ids.len(), 5, "every committed record survived");
    let (restarted, _) = Idempotent::new(ledger.clone(), None);
    let second = Dispatcher::new(reopened.clone(), "mailer", restarted, config(LONG, 2));
    let mut delivered = 0;
    loop {
        match second.step().await.expect("step") {
            0 => break,
            n => delivered += n,
        }
    }

    assert_eq!(delivered, 5, "the unacknowledged batch is delivered again, from its start");
    assert_eq!(second.step().await.expect("step"), 0, "nothing is left");
    let ledger = ledger.lock().expect("ledger");
    assert_eq!(ledger.effects, ids, "each record acted on once, in order, none missing");
    assert_eq!(ledger.deliveries.len(), 8, "the three delivered before the crash came again");
}

#[rstest]
#[tokio::test]
async fn a_live_lease_keeps_a_second_dispatcher_out_and_a_lost_one_is_fenced(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    finish_runs(&store, acme, 4).await;
    let outbox = store.outbox();

    let first = outbox.claim("mailer", "a", LONG, 2).await.expect("claim").expect("a batch");
    assert_eq!(first.records.len(), 2);
    assert!(outbox.claim("mailer", "b", LONG, 2).await.expect("claim").is_none(), "the lease is held");
    assert!(outbox.claim("audit-export", "c", LONG, 10).await.expect("claim").is_some(), "consumers are apart");
    outbox.acknowledge("mailer", first.fence, first.records[1].id).await.expect("acknowledge");

    // A claim whose lease ran out is taken over; the late acknowledgement is refused.
    let stale = outbox.claim("mailer", "a", Duration::ZERO, 2).await.expect("claim").expect("a batch");
    let taken = outbox.claim("mailer", "b", LONG, 2).await.expect("claim").expect("taken over");
    assert_eq!(stale.records, taken.records, "the same records, from the last acknowledgement");
    assert!(matches!(outbox.acknowledge("mailer", stale.fence, stale.records[1].id).await, Err(StoreError::Fenced)));
    outbox.acknowledge("mailer", taken.fence, taken.records[1].id).await.expect("acknowledge");
    assert!(outbox.claim("mailer", "a", LONG, 2).await.expect("claim").is_none(), "all delivered");
}

#[rstest]
#[tokio::test]
async fn concurrent_dispatchers_of_one_consumer_deliver_each_record_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    finish_runs(&store, acme, 10).await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let cancel = CancellationToken::new();
    // The process's change listener, as the server starts it: on PostgreSQL the notices come through it.
    if let Some(listener) = store.listener() {
        tokio::spawn(listener.run(cancel.clone()));
    }
    let (consumer, mut acted) = Idempotent::new(ledger.clone(), None);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        // Idle for an hour: only a change notice wakes a dispatcher for the later records.
        let dispatcher = Dispatcher::new(store.clone(), "mailer", consumer.clone(), config(LONG, 3));
        tasks.push(tokio::spawn(dispatcher.run(cancel.clone())));
    }
    let effects = || ledger.lock().expect("ledger").effects.len();
    acted.wait_for(|_| effects() >= 10).await.expect("the first ten");
    finish_runs(&store, acme, 10).await;
    tokio::time::timeout(Duration::from_secs(60), acted.wait_for(|_| effects() >= 20))
        .await
        .expect("all twenty delivered in time")
        .expect("all twenty delivered");
    cancel.cancel();
    for task in tasks {
        task.await.expect("the dispatcher stops when cancelled");
    }

    let ids = all_ids(store.as_ref()).await;
    let ledger = ledger.lock().expect("ledger");
    assert_eq!(ledger.effects, ids, "each record acted on once, in order, none missing");
    assert_eq!(ledger.deliveries, ids, "a live lease let one dispatcher deliver at a time");
}

#[rstest]
#[tokio::test]
async fn pruning_keeps_what_some_consumer_has_not_acknowledged_within_the_retention(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let (store, _db) = store(backend).await;
    let acme = org(&store, "acme").await;
    finish_runs(&store, acme, 4).await;
    let outbox = store.outbox();
    let long_ago = chrono::DateTime::UNIX_EPOCH;
    assert_eq!(outbox.prune(100, long_ago).await.expect("prune"), 0, "no consumer known: nothing is pruned");

    let all = outbox.claim("mailer", "a", LONG, 10).await.expect("claim").expect("a batch");
    outbox.acknowledge("mailer", all.fence, all.records[3].id).await.expect("acknowledge");
    let some = outbox.claim("export", "b", LONG, 2).await.expect("claim").expect("a batch");
    outbox.acknowledge("export", some.fence, some.records[1].id).await.expect("acknowledge");

    assert_eq!(outbox.prune(100, long_ago).await.expect("prune"), 2);
    let left: Vec<i64> = outbox.read(0, 10).await.expect("read").iter().map(|record| record.id).collect();
    assert_eq!(left, vec![all.records[2].id, all.records[3].id]);

    // Past the retention a record goes, whoever has not read it.
    let past_retention = store.clock().now() + chrono::Duration::seconds(1);
    assert_eq!(outbox.prune(100, past_retention).await.expect("prune"), 2);
    assert!(outbox.read(0, 10).await.expect("read").is_empty());
}
