//! Workers that die and workers that freeze: real `rampart worker` processes over one PostgreSQL,
//! killed with SIGKILL or stopped with SIGSTOP while they hold runs. No run may be lost, left
//! `running`, or changed by a worker whose lease another has taken over. Nothing here measures
//! time: every wait polls the database, with a bound so a broken engine fails instead of hanging.

use std::collections::HashSet;
use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rampart_core::executions::{Execution, ExecutionStatus, NewExecution};
use rampart_core::identity::Actor;
use rampart_core::orgs::NewOrganisation;
use rampart_core::{ExecutionId, OrgId};
use rampart_store::{Effects, ExecutionFilter, Store};
use serde_json::json;

use crate::helpers::{Backend, TestDatabase, test_config};

/// How long a claim holds without a heartbeat, as the workers under test are configured.
const LEASE: &str = "2s";
/// How often the tests look at the database.
const POLL: Duration = Duration::from_millis(100);
/// Polls before a wait gives up: a minute.
const PATIENCE: u32 = 600;

/// `rampart worker` processes over one database. Dropping it kills every one still alive, so a
/// failing test leaves no process behind; a failing test also prints the end of their logs.
struct Workers {
    database_url: String,
    settings: Vec<(&'static str, String)>,
    dir: tempfile::TempDir,
    children: Vec<Child>,
    started: usize,
}

impl Workers {
    /// `settings` are extra `RAMPART_*` variables, such as `("RAMPART_ENGINE__MAX_ATTEMPTS", "2")`.
    fn new(database: &TestDatabase, settings: &[(&'static str, &str)]) -> Self {
        Self {
            database_url: database.postgres_url().expect("the workers share a PostgreSQL database").to_owned(),
            settings: settings.iter().map(|(key, value)| (*key, (*value).to_owned())).collect(),
            dir: tempfile::Builder::new().prefix("rampart-workers-").tempdir().expect("a temp dir for worker logs"),
            children: Vec::new(),
            started: 0,
        }
    }

    /// Starts one more worker; answers its process id.
    fn start(&mut self) -> u32 {
        let log = File::create(self.dir.path().join(format!("worker-{}.log", self.started))).expect("a log file");
        self.started += 1;
        let child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .arg("worker")
            .env_clear()
            .current_dir(self.dir.path())
            .env("RAMPART_DATABASE_URL", &self.database_url)
            .env("RAMPART_ENGINE__LEASE", LEASE)
            .env("RAMPART_LOG_FORMAT", "json")
            .envs(self.settings.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a second handle on the log"))
            .stderr(log)
            .spawn()
            .expect("rampart worker starts");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// The pid of the `index`th live worker.
    fn pid(&self, index: usize) -> u32 {
        self.children[index].id()
    }

    fn len(&self) -> usize {
        self.children.len()
    }

    /// Sends a signal (`KILL`, `STOP`, `CONT`) with kill(1).
    fn signal(&self, pid: u32, signal: &str) {
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().expect("kill(1) runs");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// SIGKILL, and waits for the process to be gone.
    fn kill(&mut self, pid: u32) {
        self.signal(pid, "KILL");
        let index = self.children.iter().position(|child| child.id() == pid).expect("a worker of ours");
        let mut child = self.children.swap_remove(index);
        child.wait().expect("the killed worker is reaped");
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for index in 0..self.started {
                let log =
                    std::fs::read_to_string(self.dir.path().join(format!("worker-{index}.log"))).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = &lines[lines.len().saturating_sub(15)..];
                eprintln!("--- worker {index}, last lines ---\n{}", tail.join("\n"));
            }
        }
    }
}

/// A fresh PostgreSQL database, migrated, with one organisation.
async fn setup() -> (TestDatabase, Arc<dyn Store>, OrgId) {
    let database = TestDatabase::create(Backend::Postgres).await;
    let store = rampart::serve::open_store(&test_config(&database)).await.expect("the store opens and migrates");
    let org = store
        .orgs()
        .insert(&NewOrganisation::parse("Crash Test", None).expect("a valid name"))
        .await
        .expect("an organisation")
        .id;
    (database, store, org)
}

async fn enqueue(store: &dyn Store, org: OrgId, sleep_ms: u64, max_attempts: u32) -> ExecutionId {
    let new = NewExecution {
        tool: "noop".into(),
        params: json!({ "sleep_ms": sleep_ms }),
        actor: Actor::System,
        timeout: Duration::from_secs(120),
        max_attempts,
    };
    store.executions().enqueue(org, &new, &|_| Effects::none()).await.expect("queued").id
}

/// Polls the run until `done` holds; fails after a minute, saying what it waited for.
async fn wait_for(
    store: &dyn Store,
    org: OrgId,
    id: ExecutionId,
    what: &str,
    done: impl Fn(&Execution) -> bool,
) -> Execution {
    let mut last = None;
    for _ in 0..PATIENCE {
        let run = store.executions().get(org, id).await.expect("the run exists");
        if done(&run) {
            return run;
        }
        last = Some(run);
        tokio::time::sleep(POLL).await;
    }
    panic!("the run never got {what}: {last:?}");
}

/// Whether the run is held by the worker with process id `pid` (worker names end in `:<pid>`).
fn held_by(run: &Execution, pid: u32) -> bool {
    run.worker.as_deref().is_some_and(|name| name.ends_with(&format!(":{pid}")))
}

async fn count(store: &dyn Store, org: OrgId, status: ExecutionStatus) -> usize {
    let filter = ExecutionFilter { status: Some(status), ..ExecutionFilter::default() };
    store.executions().list(org, &filter, rampart_store::Seek::first(100_000)).await.expect("list").len()
}

#[tokio::test]
async fn a_killed_worker_s_run_is_rerun_by_another_or_failed_never_left_running() {
    let (database, store, org) = setup().await;
    let mut workers =
        Workers::new(&database, &[("RAMPART_ENGINE__WORKERS", "2"), ("RAMPART_ENGINE__MAX_ATTEMPTS", "2")]);

    // Two attempts allowed: the run killed in its first is run again by another worker.
    let id = enqueue(store.as_ref(), org, 4000, 2).await;
    let first = workers.start();
    let running = wait_for(store.as_ref(), org, id, "running on the first worker", |run| {
        run.status == ExecutionStatus::Running && held_by(run, first)
    })
    .await;
    assert_eq!(running.attempt, 1);
    workers.kill(first);
    let second = workers.start();
    let rerun = wait_for(store.as_ref(), org, id, "to a final state", |run| run.status.is_final()).await;

    assert_eq!(rerun.status, ExecutionStatus::Succeeded, "{rerun:?}");
    assert_eq!(rerun.attempt, 2, "claimed once by each worker");
    assert!(held_by(&rerun, second), "re-run by the second worker: {rerun:?}");
    assert_eq!(rerun.result, Some(json!({ "slept_ms": 4000, "targets": [] })));
    workers.kill(second);

    // One attempt only: the run killed in it fails as `worker lost` when another worker reaps it.
    let id = enqueue(store.as_ref(), org, 4000, 1).await;
    let only = workers.start();
    wait_for(store.as_ref(), org, id, "running on its only worker", |run| {
        run.status == ExecutionStatus::Running && held_by(run, only)
    })
    .await;
    workers.kill(only);
    workers.start();
    let lost = wait_for(store.as_ref(), org, id, "to a final state", |run| run.status.is_final()).await;

    assert_eq!(lost.status, ExecutionStatus::Failed, "{lost:?}");
    assert_eq!(lost.error.as_deref(), Some("worker lost"));
    assert_eq!(lost.attempt, 1, "never claimed again");
    assert_eq!(count(store.as_ref(), org, ExecutionStatus::Running).await, 0, "nothing is left running");
    assert_eq!(count(store.as_ref(), org, ExecutionStatus::Queued).await, 0, "nothing is left queued");
}

/// A small xorshift generator, so the chaos can be replayed from the seed it prints.
struct Chaos(u64);

impl Chaos {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).expect("below n")
    }
}

#[tokio::test]
async fn a_thousand_runs_survive_workers_killed_and_restarted() {
    const RUNS: u64 = 1000;
    const MAX_ATTEMPTS: u32 = 5;
    // Kill rounds before giving up: about two minutes at one kill every 200 ms, within the three
    // minutes nextest allows a test.
    const ROUNDS: u32 = 500;
    let (database, store, org) = setup().await;
    // The per-organisation limit is not under test: a killed worker's runs count as running until
    // their lease expires, and with the default of 8 they would soon hold every slot.
    let mut workers = Workers::new(
        &database,
        &[("RAMPART_ENGINE__WORKERS", "8"), ("RAMPART_ENGINE__MAX_ATTEMPTS", "5"), ("RAMPART_ENGINE__PER_ORG", "1000")],
    );
    let mut ids = HashSet::new();
    for index in 0..RUNS {
        ids.insert(enqueue(store.as_ref(), org, index % 21, MAX_ATTEMPTS).await);
    }
    let seed = std::env::var("CHAOS_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
        u64::from(nanos.subsec_nanos()) | 1
    });
    eprintln!("chaos seed {seed} (CHAOS_SEED={seed} replays the choice of victims)");
    let mut chaos = Chaos(seed);

    for _ in 0..3 {
        workers.start();
    }
    let mut kills = 0;
    loop {
        let unfinished = count(store.as_ref(), org, ExecutionStatus::Queued).await
            + count(store.as_ref(), org, ExecutionStatus::Running).await;
        if unfinished == 0 {
            break;
        }
        assert!(kills < ROUNDS, "{unfinished} runs still unfinished after {kills} kills");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let victim = workers.pid(chaos.below(workers.len()));
        workers.kill(victim);
        workers.start();
        kills += 1;
    }
    drop(workers);

    let all = store
        .executions()
        .list(org, &ExecutionFilter::default(), rampart_store::Seek::first(100_000))
        .await
        .expect("list");
    let listed: HashSet<ExecutionId> = all.iter().map(|run| run.id).collect();
    assert_eq!(all.len(), ids.len(), "each run appears exactly once");
    assert_eq!(listed, ids, "no run was lost or made up");
    let mut reruns = 0;
    let mut lost = 0;
    for run in &all {
        assert!(run.attempt >= 1, "every run was claimed: {run:?}");
        if run.attempt > 1 {
            reruns += 1;
        }
        match run.status {
            ExecutionStatus::Succeeded => {
                let slept = run.params["sleep_ms"].clone();
                assert_eq!(run.result, Some(json!({ "slept_ms": slept, "targets": [] })), "{run:?}");
            }
            ExecutionStatus::Failed => {
                assert_eq!(run.error.as_deref(), Some("worker lost"), "{run:?}");
                assert!(run.attempt >= run.max_attempts, "failed before its attempts ran out: {run:?}");
                lost += 1;
            }
            _ => panic!("a run ended neither succeeded nor lost: {run:?}"),
        }
    }
    eprintln!(
        "{kills} workers killed; {reruns} of {RUNS} runs needed more than one attempt; \
         {lost} ran out of attempts"
    );
}

#[tokio::test]
async fn a_frozen_worker_that_wakes_late_changes_nothing() {
    let (database, store, org) = setup().await;
    let mut workers =
        Workers::new(&database, &[("RAMPART_ENGINE__WORKERS", "2"), ("RAMPART_ENGINE__MAX_ATTEMPTS", "3")]);
    let id = enqueue(store.as_ref(), org, 3000, 3).await;
    let frozen = workers.start();
    // Its one log line is written: from here on it writes only single statements (progress,
    // heartbeats), so the stop cannot catch it inside a transaction.
    wait_for(store.as_ref(), org, id, "running on the first worker with its log line", |run| {
        run.status == ExecutionStatus::Running && held_by(run, frozen) && run.log_lines >= 1
    })
    .await;

    workers.signal(frozen, "STOP");
    let second = workers.start();
    let reclaimed = wait_for(store.as_ref(), org, id, "re-claimed by the second worker", |run| {
        run.status == ExecutionStatus::Running && held_by(run, second)
    })
    .await;
    assert_eq!(reclaimed.attempt, 2);
    let done = wait_for(store.as_ref(), org, id, "to a final state", |run| run.status.is_final()).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert!(held_by(&done, second), "{done:?}");
    let logs = store.executions().logs(org, id, 0, 1000).await.expect("logs");
    // The second worker is done: from now on only the frozen one can touch the database.
    workers.kill(second);

    workers.signal(frozen, "CONT");
    // Proof that it woke: it claims and runs a new job. Its stale heartbeat, progress and finish
    // for attempt 1 were due long before, so they have been tried (and refused) by then.
    let probe = enqueue(store.as_ref(), org, 0, 3).await;
    wait_for(store.as_ref(), org, probe, "run by the woken worker", |run| {
        run.status == ExecutionStatus::Succeeded && held_by(run, frozen)
    })
    .await;
    // A few more heartbeat periods (a third of the lease each), checking that nothing moves.
    for _ in 0..40 {
        let now = store.executions().get(org, id).await.expect("the run");
        assert_eq!(now, done, "the woken worker changed the run");
        tokio::time::sleep(POLL).await;
    }

    let after = store.executions().logs(org, id, 0, 1000).await.expect("logs");
    assert_eq!(after, logs, "no log line was written by the stale attempt after the re-claim");
    assert_eq!(done.attempt, 2);
    assert_eq!(done.result, Some(json!({ "slept_ms": 3000, "targets": [] })));
}
