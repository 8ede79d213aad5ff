//! What each process runs: `rampart serve` supervises the ingestion writer, the store's tasks and
//! its workers; `rampart worker` builds no HTTP state and no watch, so it starts no ingestion
//! writer and no change listener, only the workers, the reaper and the store's upkeep. Stopped,
//! the ingestion writer still commits and answers every request it queued.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rampart::serve::Server;
use rampart::worker::WorkerProcess;
use rampart_core::orgs::NewOrganisation;
use rampart_core::watch::{EventInput, NewNode};
use rampart_store::EventFilter;
use rampart_watch::{Watch, WatchConfig, WatchError};
use rstest::rstest;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Backend, TestDatabase, test_config};

/// The store's own tasks on each backend.
fn store_tasks(backend: Backend, listener: bool) -> Vec<&'static str> {
    match backend {
        Backend::Sqlite => vec!["sqlite-checkpoint"],
        Backend::Postgres if listener => vec!["change-listener"],
        Backend::Postgres => vec![],
    }
}

#[rstest]
#[tokio::test]
async fn a_worker_process_runs_workers_and_the_reaper_and_no_ingestion_writer(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let database = TestDatabase::create(backend).await;
    let config = test_config(&database);

    let worker = WorkerProcess::build(&config).await.expect("the worker builds");

    let mut expected = store_tasks(backend, false);
    expected.extend(["workers", "reaper"]);
    assert_eq!(worker.task_names(), expected);
    // It stops when told, with every task drained.
    worker.run(async {}).await;
}

#[rstest]
#[tokio::test]
async fn a_server_runs_the_ingestion_writer_and_its_workers_unless_told_not_to(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let database = TestDatabase::create(backend).await;
    let config = test_config(&database);

    let server = Server::build(&config).await.expect("the server builds");
    let mut expected = store_tasks(backend, true);
    expected.extend([
        "ingest-writer",
        "decisions",
        "decision-policies",
        "outbox-pruner",
        "acceptances",
        "workers",
        "reaper",
    ]);
    assert_eq!(server.task_names(), expected);

    let server = server.without_workers();
    expected.truncate(expected.len() - 2);
    assert_eq!(server.task_names(), expected);
    server.run(async {}).await;
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_ingestion_writer_commits_and_answers_what_is_queued_and_refuses_the_rest(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    const REQUESTS: usize = 40;
    let database = TestDatabase::create(backend).await;
    let store = rampart::serve::open_store(&test_config(&database)).await.expect("the store opens");
    let org = store.orgs().insert(&NewOrganisation::parse("Drain", None).expect("name")).await.expect("org").id;
    let (_, prefix, hash) = rampart_identity::opaque::new_key(rampart_identity::opaque::NODE_KEY_PREFIX);
    let new = NewNode::parse("trap", "honeypot", None).expect("node");
    let node =
        store.nodes().insert(org, &new, &prefix, &hash, &|_| rampart_store::Effects::none()).await.expect("node");
    let outbound = rampart_scope::outbound_gate(store.clone(), Arc::default(), Arc::new(rampart_scope::SystemResolver));
    let (watch, writer) = Watch::new(store.clone(), WatchConfig::default(), outbound).expect("the watch");
    let event = |i: usize| {
        Ok(EventInput {
            kind: Some("honeypot".into()),
            source_ip: Some(format!("198.51.100.{i}")),
            service: Some("ssh".into()),
            ..EventInput::default()
        })
    };

    // The writer is not started yet: every request waits in its queue.
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let (watch, node) = (watch.clone(), node.clone());
            tokio::spawn(async move { watch.ingest(&node, vec![event(i)]).await })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(30), async {
        while watch.waiting(org) < REQUESTS {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every request is queued");
    // Stopped before it ever ran: it still takes what is queued.
    let stop = CancellationToken::new();
    stop.cancel();
    let writer = tokio::spawn(writer.run(stop));

    let mut answered = HashSet::new();
    for request in requests {
        let ingested = request.await.expect("the request ends").expect("its events are committed");
        answered.extend(ingested.accepted.iter().map(|accepted| accepted.id));
    }
    writer.await.expect("the writer ends once its queue is empty");
    let stored =
        store.watch().events(org, &EventFilter::default(), rampart_store::Seek::first(500)).await.expect("events");
    assert_eq!(answered.len(), REQUESTS);
    assert_eq!(stored.iter().map(|event| event.id).collect::<HashSet<_>>(), answered, "every answer was committed");
    let refused = watch.ingest(&node, vec![event(0)]).await;
    assert!(matches!(refused, Err(WatchError::Busy)), "a stopped writer takes no new request: {refused:?}");
    store.close().await;
}
