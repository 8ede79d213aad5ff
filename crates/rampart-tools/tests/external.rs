//! External tools in their sandbox: targets that could be options or shell words are refused
//! before anything is spawned, a tool past its time limit or its output cap is stopped and the
//! run marked, the limits apply with or without bubblewrap, and under bubblewrap a tool cannot
//! write outside its private `/tmp`. No test here sends a packet.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink};
use rampart_tools::external::{
    Confinement, DeclaredTool, ExternalToolConfig, Limits, LineKind, ParamType, Parser, Sandbox,
};
use rampart_tools::{Tool, ToolContext, ToolOutput};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Refusals;

#[async_trait]
impl RefusalSink for Refusals {
    async fn refused(&self, _refusal: &Refusal) {}
}

/// A gate whose scope is 127.0.0.0/8.
fn loopback_gate() -> Gate {
    let scope =
        vec![ScopeTarget { value: TargetValue::parse("127.0.0.0/8").expect("a network"), ports: None, exclude: false }];
    Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(DenyList::default()),
        Arc::new(rampart_scope::SystemResolver),
        Arc::new(Refusals),
    )
}

fn declared(binary: &str, args: &[&str], params: &[(&str, ParamType)]) -> ExternalToolConfig {
    ExternalToolConfig {
        name: "declared".into(),
        binary: PathBuf::from(binary),
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        params: params.iter().map(|(name, kind)| ((*name).to_owned(), *kind)).collect(),
        parser: Parser::Lines,
        lines: LineKind::Finding,
        severity: "info".into(),
        network: false,
        time_limit: Duration::from_secs(60),
        output_cap: 1 << 20,
        description: String::new(),
    }
}

async fn run(tool: &DeclaredTool, params: Value) -> Result<ToolOutput, String> {
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    tool.run(params, ToolContext::new(loopback_gate(), CancellationToken::new(), sender)).await
}

/// A directory outside `/tmp` (the target directory's own), for what a tool must not write.
fn outside_tmp() -> tempfile::TempDir {
    tempfile::Builder::new().tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory beside the build")
}

const HOSTILE: [&str; 8] = [
    "-oN /tmp/x",
    "-oN",
    ";id",
    "127.0.0.1;id",
    "$(id)",
    "`id`",
    "--script=http-title",
    "127.0.0.1 --script=http-title",
];

#[tokio::test]
async fn targets_that_could_be_options_or_shell_words_are_refused_before_anything_is_spawned() {
    let dir = outside_tmp();
    let marker = dir.path().join("spawned");
    let marker_text = marker.to_str().expect("a UTF-8 path");
    // Without bubblewrap, so that a spawn would leave its mark where the test looks.
    let tool = DeclaredTool::new(
        declared("/usr/bin/touch", &[marker_text, "{targets}"], &[("targets", ParamType::Targets)]),
        Sandbox::limits_only(),
    );
    for hostile in HOSTILE {
        let params = json!({"targets": ["127.0.0.1", hostile]});
        let errors = tool.check(&params).expect_err("refused by the check");
        assert_eq!(errors.iter().next().map(|error| error.field.as_str()), Some("params.targets[1]"), "{hostile:?}");
        let error = run(&tool, params).await.expect_err("refused by the run");
        assert!(error.contains("targets[1]") || error.contains(hostile.trim()), "{hostile:?}: {error}");
        assert!(!marker.exists(), "{hostile:?} spawned the tool");
    }
    // The control: a clean target does spawn it.
    run(&tool, json!({"targets": ["127.0.0.1"]})).await.expect("a clean run");
    assert!(marker.exists(), "a clean target spawns the tool");
}

#[tokio::test]
async fn a_tool_past_its_time_limit_is_stopped_and_marked() {
    let mut config = declared("/bin/sleep", &["{seconds}"], &[("seconds", ParamType::Integer)]);
    config.time_limit = Duration::from_secs(1);
    let tool = DeclaredTool::new(config, Sandbox::detect());

    let output = run(&tool, json!({"seconds": 3600})).await.expect("a stopped run still answers");

    assert_eq!(output.result["ending"], "timed_out");
    assert_eq!(output.result["exit_code"], Value::Null);
}

#[tokio::test]
async fn a_tool_past_its_output_cap_is_stopped_and_marked() {
    let mut config = declared("/usr/bin/yes", &["line"], &[]);
    config.output_cap = 64 * 1024;
    // A time limit far past what writing the cap takes: the cap, not the clock, stops it.
    config.time_limit = Duration::from_secs(3600);
    let tool = DeclaredTool::new(config, Sandbox::detect());

    let output = run(&tool, json!({})).await.expect("a stopped run still answers");

    assert_eq!(output.result["ending"], "output_capped");
    let n_lines = output.result["n_lines"].as_u64().expect("a count");
    assert!(n_lines > 0 && n_lines <= 64 * 1024 / 5, "at most the cap was read: {n_lines} lines");
    assert_eq!(output.findings.total(), n_lines, "each line read is a finding");
}

#[tokio::test]
async fn the_limits_apply_with_and_without_bubblewrap() {
    for sandbox in [Sandbox::detect(), Sandbox::limits_only()] {
        let tool = DeclaredTool::new(
            declared("/usr/bin/prlimit", &["--nofile", "--as", "--output=SOFT,HARD", "--noheadings"], &[]),
            sandbox.clone(),
        );
        let output = run(&tool, json!({})).await.expect("prlimit runs");
        let limits = Limits::default();
        let expected = vec![
            json!(format!("{} {}", limits.open_files, limits.open_files)),
            json!(format!("{} {}", limits.address_space, limits.address_space)),
        ];
        let lines: Vec<Value> = output.result["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|line| json!(line.as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect();
        assert_eq!(lines, expected, "{:?}", sandbox.confinement().await);
    }
}

#[tokio::test]
async fn under_bubblewrap_a_tool_cannot_write_outside_its_private_tmp() {
    let sandbox = Sandbox::detect();
    assert_eq!(sandbox.confinement().await, Confinement::Bubblewrap, "bubblewrap works where the tests run");
    let dir = outside_tmp();
    let outside = dir.path().join("escaped");
    let touch = |path: &Path, sandbox: Sandbox| {
        DeclaredTool::new(declared("/usr/bin/touch", &[path.to_str().expect("a UTF-8 path")], &[]), sandbox)
    };

    let output = run(&touch(&outside, sandbox.clone()), json!({})).await.expect("the tool runs");
    assert_eq!(output.result["ending"], "exited");
    assert_ne!(output.result["exit_code"], 0, "touch failed");
    assert!(!outside.exists(), "nothing was written outside the sandbox's /tmp");

    // Its /tmp is its own: what it writes there is gone with it.
    let inside = PathBuf::from("/tmp").join(format!("rampart-sandbox-{}", std::process::id()));
    let output = run(&touch(&inside, sandbox), json!({})).await.expect("the tool runs");
    assert_eq!(output.result["exit_code"], 0, "its private /tmp is writable");
    assert!(!inside.exists(), "the private /tmp is not the server's");

    // The control: without bubblewrap the same tool does write there.
    let output = run(&touch(&outside, Sandbox::limits_only()), json!({})).await.expect("the tool runs");
    assert_eq!(output.result["exit_code"], 0);
    assert!(outside.exists(), "without bubblewrap the write lands");
}

#[tokio::test]
async fn a_missing_binary_makes_a_declared_tool_unavailable_and_its_run_says_so() {
    let tool = DeclaredTool::new(declared("/nonexistent/scanner", &[], &[]), Sandbox::detect());
    let reason = tool.availability().expect_err("unavailable");
    assert!(reason.contains("scanner is not installed"), "{reason}");
    let error = run(&tool, json!({})).await.expect_err("no run");
    assert!(error.contains("unavailable") && error.contains("not installed"), "{error}");
}

#[tokio::test]
async fn the_argv_is_the_template_filled_with_checked_values_and_every_port_is_held_to_the_scope() {
    // The scope is 127.0.0.1 on port 22 only.
    let scope = vec![ScopeTarget {
        value: TargetValue::parse("127.0.0.1").expect("an address"),
        ports: Some(rampart_core::targets::PortRanges::parse("22").expect("a port")),
        exclude: false,
    }];
    let gate = Gate::new(
        Arc::new(Scope::new(scope)),
        Arc::new(DenyList::default()),
        Arc::new(rampart_scope::SystemResolver),
        Arc::new(Refusals),
    );
    let mut config = declared(
        "/bin/echo",
        &["--ports={ports}", "{targets}", "{mode}"],
        &[("targets", ParamType::Targets), ("ports", ParamType::Ports), ("mode", ParamType::Word)],
    );
    config.lines = LineKind::Finding;
    let tool = DeclaredTool::new(config, Sandbox::detect());
    let run_with = |params: Value| {
        let gate = gate.clone();
        let tool = &tool;
        async move {
            let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
            tool.run(params, ToolContext::new(gate, CancellationToken::new(), sender)).await
        }
    };

    let output = run_with(json!({"targets": ["127.0.0.1"], "ports": "22", "mode": "fast"})).await.expect("runs");
    let refused = run_with(json!({"targets": ["127.0.0.1"], "ports": "22,80", "mode": "fast"})).await;
    let bad_word = tool.check(&json!({"targets": ["127.0.0.1"], "ports": "22", "mode": "-oN"})).expect_err("refused");

    assert_eq!(output.result["lines"], json!(["--ports=22 127.0.0.1 fast"]));
    assert!(refused.expect_err("port 80 is not in scope").contains("port 80 of 127.0.0.1"));
    assert_eq!(bad_word.iter().next().map(|error| error.field.as_str()), Some("params.mode"));
}
