//! What each process runs: `rampart serve` supervises the ingestion writer, the store's tasks and
//! its workers; `rampart worker` builds no HTTP state and no watch, so it starts no ingestion
//! writer and no change listener, only the workers, the reaper and the store's upkeep.

use rampart::serve::Server;
use rampart::worker::WorkerProcess;
use rstest::rstest;

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
    expected.extend(["ingest-writer", "workers", "reaper"]);
    assert_eq!(server.task_names(), expected);

    let server = server.without_workers();
    expected.truncate(expected.len() - 2);
    assert_eq!(server.task_names(), expected);
    server.run(async {}).await;
}
