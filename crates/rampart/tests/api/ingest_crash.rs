//! A server killed with SIGKILL during heavy ingestion loses nothing it acknowledged: a real
//! `rampart serve` process takes batches from concurrent sensors, is killed mid-stream, and is
//! started again on the same database, where every acknowledged event must be — with counters
//! that agree with the events, since both are written in one transaction. Nothing here measures
//! time: waits poll, with bounds so a broken server fails instead of hanging.

use std::collections::HashSet;
use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_core::orgs::NewOrganisation;
use rampart_core::watch::NewNode;
use rampart_core::{EventId, OrgId};
use rampart_store::{Effects, EventFilter, Store};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestDatabase, remember_secret, test_config};

/// Acknowledged events to wait for before the kill.
const BEFORE_KILL: usize = 3000;
const CLIENTS: usize = 8;
const BATCH: usize = 50;

/// One `rampart serve` process; killed when dropped.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    async fn start(database: &TestDatabase, dir: &std::path::Path, run: usize) -> Self {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("address").port()
        };
        let log = File::create(dir.join(format!("serve-{run}.log"))).expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_rampart"));
        command
            .arg("serve")
            .env_clear()
            .current_dir(dir)
            .env("RAMPART_LISTEN", format!("127.0.0.1:{port}"))
            .env("RAMPART_ENGINE__WORKERS", "0")
            .env("RAMPART_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a second handle on the log"))
            .stderr(log);
        match database {
            TestDatabase::Sqlite { .. } => {
                command.env("RAMPART_DATA_DIR", database.data_dir().expect("SQLite has a directory"));
            }
            TestDatabase::Postgres { url } => {
                command.env("RAMPART_DATABASE_URL", url);
            }
        }
        let child = command.spawn().expect("rampart serve starts");
        let server = Self { child, url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let ready = client.get(format!("{}/api/v1/health/ready", server.url)).send().await;
            if ready.is_ok_and(|response| response.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not become ready; see {}", dir.display());
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Posts batches until the server stops answering; records every event it acknowledged.
async fn sensor(url: String, key: String, client_no: usize, acked: Arc<Mutex<Vec<EventId>>>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    for batch in 0.. {
        let events: Vec<Value> = (0..BATCH)
            .map(|i| {
                json!({"kind": "honeypot", "source_ip": format!("198.51.{}.{}", client_no, (batch + i) % 200),
                       "service": "ssh", "usernames": ["root"]})
            })
            .collect();
        let sent =
            client.post(format!("{url}/api/v1/ingest/events")).header("X-Node-Key", &key).json(&events).send().await;
        let Ok(response) = sent else { return };
        if response.status() != 200 {
            return;
        }
        let Ok(answer) = response.json::<Value>().await else { return };
        let ids = answer["accepted"]
            .as_array()
            .expect("accepted")
            .iter()
            .map(|event| event["id"].as_str().and_then(|id| id.parse::<EventId>().ok()).expect("an event id"));
        acked.lock().expect("lock").extend(ids);
    }
}

async fn stored_events(store: &dyn Store, org: OrgId) -> HashSet<EventId> {
    let mut ids = HashSet::new();
    let mut before = None;
    loop {
        let page = store
            .watch()
            .events(org, &EventFilter::default(), rampart_store::Seek { from: before, limit: 500 })
            .await
            .expect("events");
        let Some(last) = page.last() else { return ids };
        before = Some(last.id);
        ids.extend(page.iter().map(|event| event.id));
    }
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_ingestion_keeps_every_acknowledged_event(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let database = TestDatabase::create(backend).await;
    let store = rampart::serve::open_store(&test_config(&database)).await.expect("the store opens and migrates");
    let org = store.orgs().insert(&NewOrganisation::parse("Crash", None).expect("name")).await.expect("org").id;
    let (key, prefix, hash) = rampart_identity::opaque::new_key(rampart_identity::opaque::NODE_KEY_PREFIX);
    remember_secret(key.clone());
    let new = NewNode::parse("trap", "honeypot", None).expect("node");
    store.nodes().insert(org, &new, &prefix, &hash, &|_| Effects::none()).await.expect("node");
    store.close().await;
    let dir = tempfile::Builder::new().prefix("rampart-ingest-crash-").tempdir().expect("temp dir");

    let mut server = ServerProcess::start(&database, dir.path(), 0).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sensors: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(sensor(server.url.clone(), key.clone(), client, acked.clone())))
        .collect();
    for _ in 0..600 {
        if acked.lock().expect("lock").len() >= BEFORE_KILL {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(acked.lock().expect("lock").len() >= BEFORE_KILL, "the sensors were taken before the kill");
    server.kill();
    for sensor in sensors {
        sensor.await.expect("the sensor stops when the server is gone");
    }
    let acked: Vec<EventId> = acked.lock().expect("lock").clone();

    // Started again on the same database, the server takes events at once…
    let restarted = ServerProcess::start(&database, dir.path(), 1).await;
    let probe = reqwest::Client::new()
        .post(format!("{}/api/v1/ingest/events", restarted.url))
        .header("X-Node-Key", &key)
        .json(&json!({"kind": "honeypot", "source_ip": "203.0.113.1", "service": "ssh"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(probe.status(), 200);

    // …and has every event it acknowledged before it died, with counters that agree.
    let store = rampart::serve::open_store(&test_config(&database)).await.expect("the store opens");
    let stored = stored_events(store.as_ref(), org).await;
    let lost: Vec<&EventId> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged events were lost", lost.len(), acked.len());
    let counted: u64 = store
        .watch()
        .counts(org, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .expect("counts")
        .iter()
        .map(|count| count.events)
        .sum();
    assert_eq!(counted, stored.len() as u64, "the counters are written with the events");
    let profiled: u64 = store
        .watch()
        .attackers(org, rampart_core::watch::AttackerOrder::Risk, 0, 10_000)
        .await
        .expect("attackers")
        .iter()
        .map(|attacker| attacker.events)
        .sum();
    assert_eq!(profiled, stored.len() as u64, "profiles are written with the events");
}
