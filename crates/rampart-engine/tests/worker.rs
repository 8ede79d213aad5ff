//! The worker against a real store on SQLite and PostgreSQL, with tools written for the test: a
//! bug in a tool (a panic) must fail its run at once and leave the worker serving the next run,
//! and what a tool reports (findings, artifacts) is stored with the run's end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::executions::{Execution, ExecutionStatus, LogStream};
use rampart_core::findings::Severity;
use rampart_core::identity::{Acting, Actor, RequestContext};
use rampart_core::orgs::NewOrganisation;
use rampart_core::output::{Artifact, Finding, Proto, RunOutput};
use rampart_core::{ExecutionId, OrgId, ValidationErrors};
use rampart_engine::{Engine, EngineConfig, Worker};
use rampart_scope::{DenyList, ScopeService};
use rampart_store::{Change, ConnectOptions, Location, SqlStore, Store};
use rampart_testkit::{Backend, TestDatabase};
use rampart_tools::{Registry, RunTarget, Tool, ToolContext, ToolInfo, ToolOutput};
use rstest::rstest;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Where the test tool panics: in its run, or in the check the worker makes before running it.
#[derive(Clone, Copy)]
enum PanicIn {
    Run,
    /// The first check (at submit) passes; the worker's check panics.
    SecondCheck,
}

struct Panics {
    name: &'static str,
    at: PanicIn,
    checks: AtomicUsize,
}

impl Panics {
    fn new(name: &'static str, at: PanicIn) -> Arc<Self> {
        Arc::new(Self { name, at, checks: AtomicUsize::new(0) })
    }
}

#[async_trait]
impl Tool for Panics {
    fn info(&self) -> ToolInfo {
        ToolInfo {
            name: self.name,
            category: "test",
            description: "Panics, as a bug in a tool would.",
            params_schema: json!({"type": "object"}),
            result_schema: json!({}),
            default_timeout: Duration::from_secs(600),
        }
    }

    fn check(&self, _params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        let calls = self.checks.fetch_add(1, Ordering::SeqCst);
        if matches!(self.at, PanicIn::SecondCheck) && calls >= 1 {
            panic!("a bug in the tool's check");
        }
        Ok(Vec::new())
    }

    async fn run(&self, _params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        context.log(LogStream::Stdout, "starting");
        tokio::task::yield_now().await;
        panic!("a bug in the tool");
    }
}

/// Reports one finding and one artifact, as a scanner would.
struct Reports;

impl Reports {
    fn output() -> ToolOutput {
        let mut output = ToolOutput::new(json!({"open": 1}));
        output.findings.push(Finding::new(
            Severity::High,
            "tcp_scan.exposed_redis",
            "Redis exposed",
            "192.0.2.7",
            "tcp/6379",
        ));
        output.artifacts.push(Artifact::Service {
            host: [192, 0, 2, 7].into(),
            port: 6379,
            proto: Proto::Tcp,
            name: Some("redis".into()),
        });
        output
    }
}

#[async_trait]
impl Tool for Reports {
    fn info(&self) -> ToolInfo {
        ToolInfo {
            name: "reports",
            category: "test",
            description: "Reports a finding and an artifact without touching anything.",
            params_schema: json!({"type": "object"}),
            result_schema: json!({}),
            default_timeout: Duration::from_secs(600),
        }
    }

    fn check(&self, _params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        Ok(Vec::new())
    }

    async fn run(&self, _params: Value, _context: ToolContext) -> Result<ToolOutput, String> {
        Ok(Self::output())
    }
}

async fn store(db: &TestDatabase) -> Arc<SqlStore> {
    let options = ConnectOptions {
        location: Location::from_url(&db.url()).expect("valid"),
        max_connections: 10,
        acquire_timeout: Duration::from_secs(10),
        busy_timeout: Duration::from_secs(5),
    };
    let store = SqlStore::connect(&options).await.expect("connect");
    store.migrate().await.expect("migrate");
    Arc::new(store)
}

/// Waits for the run to end, woken by the store's change notices; `None` if it has not ended
/// after `patience`.
async fn ended(
    store: &SqlStore,
    changes: &mut tokio::sync::broadcast::Receiver<Change>,
    org: OrgId,
    id: ExecutionId,
    patience: Duration,
) -> Option<Execution> {
    tokio::time::timeout(patience, async {
        loop {
            let run = store.executions().get(org, id).await.expect("get");
            if run.status.is_final() {
                return run;
            }
            // A lagging or closed channel just means: read again.
            let _ = changes.recv().await;
        }
    })
    .await
    .ok()
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_panics_fails_its_run_at_once_and_the_worker_goes_on(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let store = store(&db).await;
    let org = store.orgs().insert(&NewOrganisation::parse("acme", None).expect("valid")).await.expect("org").id;
    let mut tools = Registry::builtin();
    tools.add(Panics::new("panics", PanicIn::Run));
    tools.add(Panics::new("panics_in_check", PanicIn::SecondCheck));
    let scope = ScopeService::new(store.clone(), Arc::new(DenyList::default()));
    // The lease is long: a run left `running` by a panic would stay so for the whole test.
    let config = EngineConfig { lease: Duration::from_secs(600), ..EngineConfig::default() };
    let engine = Engine::new(store.clone(), Arc::new(tools), scope, config);
    let acting = Acting { org, actor: Actor::System, context: RequestContext::default() };
    let shutdown = CancellationToken::new();
    if let Some(listener) = store.listener() {
        tokio::spawn(listener.run(shutdown.clone()));
    }
    let mut changes = store.subscribe().await;

    let worker = tokio::spawn(Worker::new(engine.clone(), "w1", 2).run(shutdown.clone(), Duration::from_secs(1)));

    for tool in ["panics", "panics_in_check"] {
        let queued = engine.submit(&acting, tool, json!({}), None).await.expect("queued");
        let run = ended(&store, &mut changes, org, queued.id, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("the run of {tool} is still not over after 10 s"));
        assert_eq!(run.status, ExecutionStatus::Failed, "{tool}");
        assert_eq!(run.error.as_deref(), Some(format!("internal error in {tool}").as_str()));
        let started = run.started_at.expect("it was started");
        let finished = run.finished_at.expect("it is over");
        let took_ms = (finished - started).num_milliseconds();
        assert!(took_ms < 1000, "{tool} ended {took_ms} ms after it started");
    }

    // The worker is still there: the next run succeeds.
    let next = engine.submit(&acting, "noop", json!({}), None).await.expect("queued");
    let run = ended(&store, &mut changes, org, next.id, Duration::from_secs(10)).await.expect("the next run ends");
    assert_eq!(run.status, ExecutionStatus::Succeeded);

    shutdown.cancel();
    worker.await.expect("the worker stops cleanly");
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_findings_and_artifacts_are_stored_with_its_success(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let db = TestDatabase::create(backend).await;
    let store = store(&db).await;
    let org = store.orgs().insert(&NewOrganisation::parse("acme", None).expect("valid")).await.expect("org").id;
    let mut tools = Registry::builtin();
    tools.add(Arc::new(Reports));
    let scope = ScopeService::new(store.clone(), Arc::new(DenyList::default()));
    let engine = Engine::new(store.clone(), Arc::new(tools), scope, EngineConfig::default());
    let acting = Acting { org, actor: Actor::System, context: RequestContext::default() };
    let shutdown = CancellationToken::new();
    if let Some(listener) = store.listener() {
        tokio::spawn(listener.run(shutdown.clone()));
    }
    let mut changes = store.subscribe().await;
    let worker = tokio::spawn(Worker::new(engine.clone(), "w1", 1).run(shutdown.clone(), Duration::from_secs(1)));

    let queued = engine.submit(&acting, "reports", json!({}), None).await.expect("queued");
    let run = ended(&store, &mut changes, org, queued.id, Duration::from_secs(10)).await.expect("the run ends");

    let expected = Reports::output();
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(run.result.as_ref(), Some(&expected.result), "the result is what users saw before");
    let stored = store.executions().output(org, run.id).await.expect("output");
    assert_eq!(stored, RunOutput { findings: expected.findings, artifacts: expected.artifacts });

    shutdown.cancel();
    worker.await.expect("the worker stops cleanly");
}

/// Says whether its run was handed the server's outbound gate.
struct SeesOutbound;

#[async_trait]
impl Tool for SeesOutbound {
    fn info(&self) -> ToolInfo {
        ToolInfo {
            name: "sees_outbound",
            category: "test",
            description: "Reports whether it has the outbound gate.",
            params_schema: json!({"type": "object"}),
            result_schema: json!({}),
            default_timeout: Duration::from_secs(600),
        }
    }

    fn check(&self, _params: &Value) -> Result<Vec<RunTarget>, ValidationErrors> {
        Ok(Vec::new())
    }

    async fn run(&self, _params: Value, context: ToolContext) -> Result<ToolOutput, String> {
        Ok(ToolOutput::new(json!({"outbound": context.outbound.is_some()})))
    }
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_handed_the_engines_outbound_gate(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store = store(&db).await;
    let org = store.orgs().insert(&NewOrganisation::parse("acme", None).expect("valid")).await.expect("org").id;
    let mut tools = Registry::builtin();
    tools.add(Arc::new(SeesOutbound));
    let scope = ScopeService::new(store.clone(), Arc::new(DenyList::default()));
    let policy = Arc::new(rampart_scope::OutboundPolicy::new(Vec::new(), Vec::new()));
    let outbound = rampart_scope::outbound_gate(store.clone(), policy, Arc::new(rampart_scope::SystemResolver));
    let engine = Engine::new(store.clone(), Arc::new(tools), scope, EngineConfig::default()).with_outbound(outbound);
    let acting = Acting { org, actor: Actor::System, context: RequestContext::default() };
    let shutdown = CancellationToken::new();
    if let Some(listener) = store.listener() {
        tokio::spawn(listener.run(shutdown.clone()));
    }
    let mut changes = store.subscribe().await;
    let worker = tokio::spawn(Worker::new(engine.clone(), "w1", 1).run(shutdown.clone(), Duration::from_secs(1)));

    let queued = engine.submit(&acting, "sees_outbound", json!({}), None).await.expect("queued");
    let run = ended(&store, &mut changes, org, queued.id, Duration::from_secs(10)).await.expect("the run ends");

    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(run.result, Some(json!({"outbound": true})));
    shutdown.cancel();
    worker.await.expect("the worker stops cleanly");
}
