//! `git_clone` against a smart-HTTP git server this test starts on 127.0.0.2 (in scope): `git
//! http-backend` run as a CGI program behind an axum server, serving a repository the test
//! creates with two branches, an annotated tag and a few commits. A second server on 127.0.0.3
//! (out of scope) counts what reaches it. Nothing leaves 127.0.0.0/8.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri, header};
use rampart_core::targets::{Scope, ScopeTarget, TargetValue};
use rampart_scope::{DenyList, Gate, Refusal, RefusalSink, SystemResolver};
use rampart_tools::git_clone::{FetchError, FetchLimits, FetchedRef, fetch_repository};
use rampart_tools::secret_scan::SecretScan;
use rampart_tools::{RunTarget, Tool, ToolContext};
use rstest::rstest;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Refusals(Mutex<Vec<Refusal>>);

#[async_trait]
impl RefusalSink for Refusals {
    async fn refused(&self, refusal: &Refusal) {
        self.0.lock().expect("refusals").push(refusal.clone());
    }
}

impl Refusals {
    fn all(&self) -> Vec<Refusal> {
        self.0.lock().expect("refusals").clone()
    }
}

/// The secret the `feature` branch added and removed.
const AWS_KEY: &str = "AKIAQ3EGRZ4KZNXLMW7B";

/// A gate whose organisation's scope is 127.0.0.2 alone.
fn gate(refusals: Arc<Refusals>) -> Gate {
    let scope =
        vec![ScopeTarget { value: TargetValue::parse("127.0.0.2").expect("an address"), ports: None, exclude: false }];
    Gate::new(Arc::new(Scope::new(scope)), Arc::new(DenyList::default()), Arc::new(SystemResolver), refusals)
}

/// `git` with no configuration but the test's own.
fn git(directory: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .current_dir(directory)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("git speaks UTF-8")
}

/// Bytes that do not compress: a pack carrying them is at least as large.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// A bare repository `<root>/repo.git`: `main` with three commits (one carrying 256 KiB of
/// noise), `feature` with two more off the second (the first adds `deploy.env` holding
/// [`AWS_KEY`], the second removes it), and the annotated tag `v1` on `main`.
fn repository(root: &Path) -> PathBuf {
    let work = root.join("work");
    std::fs::create_dir_all(&work).expect("a work tree");
    git(&work, &["init", "-q", "-b", "main"]);
    for (n, content) in [(1, b"one".to_vec()), (2, b"two".to_vec()), (3, noise(256 << 10, 3))] {
        std::fs::write(work.join(format!("file{n}")), content).expect("a file");
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", &format!("main {n}")]);
        if n == 2 {
            git(&work, &["branch", "feature"]);
        }
    }
    git(&work, &["tag", "-a", "v1", "-m", "the first release"]);
    git(&work, &["checkout", "-q", "feature"]);
    for n in 1..=2 {
        std::fs::write(work.join(format!("feature{n}")), format!("feature {n}")).expect("a file");
        if n == 1 {
            std::fs::write(work.join("deploy.env"), format!("REGION=eu-west-1\nAWS_ACCESS_KEY_ID={AWS_KEY}\n"))
                .expect("a file");
        } else {
            std::fs::remove_file(work.join("deploy.env")).expect("the secret is removed");
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", &format!("feature {n}")]);
    }
    let served = root.join("served");
    std::fs::create_dir_all(&served).expect("the served root");
    git(root, &["clone", "-q", "--bare", "work", "served/repo.git"]);
    git(&served, &["init", "-q", "--bare", "empty.git"]);
    served
}

/// The references of a repository and their ids.
fn refs_of(repository: &Path) -> Vec<FetchedRef> {
    git(repository, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"])
        .lines()
        .map(|line| {
            let (name, id) = line.split_once(' ').expect("name and id");
            FetchedRef { name: name.to_owned(), id: id.to_owned() }
        })
        .collect()
}

/// Every object reachable from any reference: commits, trees, blobs and tags.
fn objects_of(repository: &Path) -> BTreeSet<String> {
    git(repository, &["rev-list", "--objects", "--all"])
        .lines()
        .map(|line| line.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

#[derive(Clone)]
struct Served {
    root: PathBuf,
    outside: SocketAddr,
    /// Told when a request for `/stall/…` arrives.
    stalled: Arc<Notify>,
}

/// `git http-backend` as a CGI program: the request in its environment and on its input, its
/// answer (CGI headers, a blank line, the body) made a response. `/private/…` asks for
/// credentials; `/moved/…` redirects to the server out of scope; `/dumb/…` answers a web page;
/// `/stall/…` starts an answer and never finishes it; `/v0/…` ignores the client's protocol version.
async fn cgi(
    State(served): State<Served>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    // `/v0/…` is served as by a server that speaks only the first protocol.
    let (path, git_protocol) = match uri.path().strip_prefix("/v0") {
        Some(rest) => (rest, ""),
        None => (uri.path(), headers.get("git-protocol").and_then(|value| value.to_str().ok()).unwrap_or_default()),
    };
    if path.starts_with("/private/") {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, "Basic realm=\"git\"")
            .body(Body::from("the secret server page"))
            .expect("a response");
    }
    if let Some(rest) = path.strip_prefix("/moved") {
        let query = uri.query().map(|query| format!("?{query}")).unwrap_or_default();
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, format!("http://{}{rest}{query}", served.outside))
            .body(Body::empty())
            .expect("a response");
    }
    if path.starts_with("/dumb/") {
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::from("<html>the secret server page</html>"))
            .expect("a response");
    }
    if path.starts_with("/stall/") {
        served.stalled.notify_one();
        let never = futures_util::stream::pending::<Result<Bytes, std::convert::Infallible>>();
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/x-git-upload-pack-advertisement")
            .body(Body::from_stream(never))
            .expect("a response");
    }
    let header = |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &served.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header(header::CONTENT_TYPE))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_GIT_PROTOCOL", git_protocol)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend starts");
    let mut stdin = child.stdin.take().expect("its input");
    let writing = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await.expect("git http-backend answers");
    writing.await.expect("the request is written");
    let split = output.stdout.windows(4).position(|window| window == b"\r\n\r\n").map(|at| (at, 4));
    let split = split.or_else(|| output.stdout.windows(2).position(|window| window == b"\n\n").map(|at| (at, 2)));
    let (at, gap) = split.expect("CGI headers end with a blank line");
    let mut response = Response::builder();
    for line in String::from_utf8_lossy(&output.stdout[..at]).lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("status") {
            let code = value.trim().split(' ').next().unwrap_or("500").parse::<u16>().expect("a status");
            response = response.status(code);
        } else {
            response = response.header(name.trim(), value.trim());
        }
    }
    response.body(Body::from(output.stdout[at + gap..].to_vec())).expect("a response")
}

/// The servers, and how many requests reached the one out of scope.
struct Servers {
    inside: SocketAddr,
    outside: SocketAddr,
    stalled: Arc<Notify>,
    outside_hits: Arc<AtomicUsize>,
    source: PathBuf,
    _root: tempfile::TempDir,
}

async fn bind(last: u8) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), 0)).await.expect("bind");
    let address = listener.local_addr().expect("its address");
    (listener, address)
}

async fn servers() -> Servers {
    let root = tempfile::tempdir().expect("a directory");
    let served = tokio::task::spawn_blocking({
        let root = root.path().to_owned();
        move || repository(&root)
    })
    .await
    .expect("the repository is made");
    let (outside_listener, outside) = bind(3).await;
    let outside_hits = Arc::new(AtomicUsize::new(0));
    let counted = outside_hits.clone();
    let outside_router = Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            StatusCode::NOT_FOUND
        }
    });
    tokio::spawn(async move { axum::serve(outside_listener, outside_router).await.expect("the server runs") });
    let (listener, inside) = bind(2).await;
    let stalled = Arc::new(Notify::new());
    let router =
        Router::new().fallback(cgi).with_state(Served { root: served.clone(), outside, stalled: stalled.clone() });
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the server runs") });
    Servers { inside, outside, stalled, outside_hits, source: served.join("repo.git"), _root: root }
}

async fn fetch(
    url: &str,
    limits: &FetchLimits,
    refusals: Arc<Refusals>,
) -> (Result<Vec<FetchedRef>, FetchError>, tempfile::TempDir) {
    let into = tempfile::tempdir().expect("a directory to fetch into");
    let fetched = fetch_repository(&gate(refusals), url, into.path(), limits, &CancellationToken::new()).await;
    (fetched.map(|summary| summary.refs), into)
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_brings_every_branch_and_tag_with_all_their_history(#[values("/repo.git", "/v0/repo.git")] path: &str) {
    let servers = servers().await;
    let refusals = Arc::new(Refusals::default());
    let url = format!("http://{}{path}", servers.inside);

    let into = tempfile::tempdir().expect("a directory to fetch into");
    let summary = fetch_repository(
        &gate(refusals.clone()),
        &url,
        into.path(),
        &FetchLimits::default(),
        &CancellationToken::new(),
    )
    .await
    .expect("the fetch succeeds");

    let expected = refs_of(&servers.source);
    let names: Vec<&str> = expected.iter().map(|fetched| fetched.name.as_str()).collect();
    assert_eq!(names, ["refs/heads/feature", "refs/heads/main", "refs/tags/v1"]);
    assert_eq!(summary.refs, expected, "every branch and the tag, at the server's ids");
    assert_eq!(refs_of(into.path()), expected, "written as references of the bare repository");
    assert_eq!(objects_of(into.path()), objects_of(&servers.source), "every commit, tree, blob and tag object");
    assert_eq!(git(&servers.source, &["rev-list", "--count", "--all"]).trim(), "5");
    assert_eq!(git(into.path(), &["rev-parse", "--is-bare-repository"]).trim(), "true");
    git(into.path(), &["fsck", "--strict", "--no-dangling"]);
    assert!(summary.bytes_received > 256 << 10, "the pack came over the wire: {}", summary.bytes_received);
    assert!(refusals.all().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_out_of_scope_is_refused_by_the_gate_before_any_connection() {
    let servers = servers().await;
    let refusals = Arc::new(Refusals::default());
    let url = format!("http://{}/repo.git", servers.outside);

    let (fetched, _into) = fetch(&url, &FetchLimits::default(), refusals.clone()).await;

    let Err(FetchError::Refused(reason)) = fetched else { panic!("refused, not {fetched:?}") };
    assert_eq!(reason, "out of scope: no target covers it");
    let refused = refusals.all();
    assert_eq!(refused.len(), 1, "the refusal is reported: {refused:?}");
    assert_eq!((refused[0].host.as_str(), refused[0].port), ("127.0.0.3", Some(servers.outside.port())));
    assert_eq!(servers.outside_hits.load(Ordering::SeqCst), 0, "nothing reached the server out of scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_even_to_a_server_out_of_scope() {
    let servers = servers().await;
    let refusals = Arc::new(Refusals::default());
    let url = format!("http://{}/moved/repo.git", servers.inside);

    let (fetched, _into) = fetch(&url, &FetchLimits::default(), refusals.clone()).await;

    assert_eq!(fetched, Err(FetchError::Redirected(302)));
    assert_eq!(servers.outside_hits.load(Ordering::SeqCst), 0, "nothing reached the server out of scope");
    assert!(refusals.all().is_empty(), "nothing was even tried there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_limit_stops_a_fetch_with_a_clear_error() {
    let servers = servers().await;
    let url = format!("http://{}/repo.git", servers.inside);
    let limits = FetchLimits { max_bytes: 64 << 10, ..FetchLimits::default() };

    let (fetched, _into) = fetch(&url, &limits, Arc::new(Refusals::default())).await;

    let error = fetched.expect_err("the pack is larger than the limit");
    assert_eq!(error, FetchError::TooLarge(64 << 10));
    assert_eq!(error.to_string(), "the repository is larger than the limit of 65536 bytes received");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_behind_credentials_says_so_and_nothing_the_server_wrote() {
    let servers = servers().await;
    let url = format!("http://{}/private/repo.git", servers.inside);

    let (fetched, _into) = fetch(&url, &FetchLimits::default(), Arc::new(Refusals::default())).await;

    let error = fetched.expect_err("credentials are needed");
    assert_eq!(error, FetchError::NeedsCredentials);
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_fetch_stops_and_says_so() {
    let servers = servers().await;
    let url = format!("http://{}/repo.git", servers.inside);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let into = tempfile::tempdir().expect("a directory to fetch into");

    let fetched =
        fetch_repository(&gate(Arc::new(Refusals::default())), &url, into.path(), &FetchLimits::default(), &cancel)
            .await;

    assert_eq!(fetched, Err(FetchError::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_left_at_the_time_limit() {
    // Accepts connections and reads requests, never answering.
    let (listener, silent) = bind(2).await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let url = format!("http://{silent}/repo.git");
    let limits = FetchLimits { time_limit: Duration::from_millis(300), ..FetchLimits::default() };

    let (fetched, _into) = fetch(&url, &limits, Arc::new(Refusals::default())).await;

    assert_eq!(fetched, Err(FetchError::TimedOut));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_is_not_a_clone_url_is_refused_before_anything_is_written() {
    let into = tempfile::tempdir().expect("a directory to fetch into");
    let fetched = fetch_repository(
        &gate(Arc::new(Refusals::default())),
        "ext::sh -c touch% /tmp/x",
        into.path(),
        &FetchLimits::default(),
        &CancellationToken::new(),
    )
    .await;

    assert!(matches!(fetched, Err(FetchError::Url(_))), "{fetched:?}");
    assert_eq!(std::fs::read_dir(into.path()).expect("the directory").count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_repository_is_fetched_as_one_without_references() {
    let servers = servers().await;
    let url = format!("http://{}/empty.git", servers.inside);

    let (fetched, into) = fetch(&url, &FetchLimits::default(), Arc::new(Refusals::default())).await;

    assert_eq!(fetched, Ok(Vec::new()));
    assert!(refs_of(into.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_a_git_server_is_said_so_without_its_page() {
    let servers = servers().await;
    let url = format!("http://{}/dumb/repo.git", servers.inside);

    let (fetched, _into) = fetch(&url, &FetchLimits::default(), Arc::new(Refusals::default())).await;

    let error = fetched.expect_err("not a git server");
    assert_eq!(error, FetchError::Protocol);
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_fetch_waiting_for_the_server_stops_it() {
    let servers = servers().await;
    let url = format!("http://{}/stall/repo.git", servers.inside);
    let cancel = CancellationToken::new();
    let into = tempfile::tempdir().expect("a directory to fetch into");
    let gate = gate(Arc::new(Refusals::default()));
    let limits = FetchLimits::default();

    let fetching = fetch_repository(&gate, &url, into.path(), &limits, &cancel);
    let cancelling = async {
        servers.stalled.notified().await;
        cancel.cancel();
    };
    let (fetched, ()) = tokio::join!(fetching, cancelling);

    assert_eq!(fetched, Err(FetchError::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_scan_fetches_a_clone_url_in_scope_and_finds_a_secret_its_history_removed() {
    let servers = servers().await;
    let tool = SecretScan::default();
    let url = format!("http://{}/repo.git", servers.inside);
    let params = serde_json::json!({ "repository": url });
    assert_eq!(
        tool.check(&params).expect("a clone URL"),
        [RunTarget::new("params.repository", servers.inside.to_string())],
        "its host is the target"
    );
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    let refusals = Arc::new(Refusals::default());
    let context = ToolContext::new(gate(refusals.clone()), CancellationToken::new(), sender);

    let output = tool.run(params, context).await.expect("the scan runs");

    let secrets = output.result["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    let added = git(&servers.source, &["rev-parse", "feature~1"]);
    assert_eq!(secrets[0]["rule"], "aws-access-key-id");
    assert_eq!(secrets[0]["path"], "deploy.env");
    assert_eq!(secrets[0]["line"], 2);
    assert_eq!(secrets[0]["commit"], added.trim(), "the commit that added it");
    assert_eq!(output.result["summary"]["commits"], 5);
    assert_eq!(output.findings.items()[0].asset, url, "the finding is on the URL");
    let everything = format!("{} {:?}", output.result, output.findings.items());
    assert!(!everything.contains(&AWS_KEY[4..]), "the secret is not kept: {everything}");
    assert!(refusals.all().is_empty());

    let outside = format!("http://{}/repo.git", servers.outside);
    let (sender, _updates) = tokio::sync::mpsc::unbounded_channel();
    let context = ToolContext::new(gate(refusals.clone()), CancellationToken::new(), sender);
    let error = tool.run(serde_json::json!({ "repository": outside }), context).await.expect_err("out of scope");
    assert!(error.contains("out of scope"), "{error}");
    assert_eq!(servers.outside_hits.load(Ordering::SeqCst), 0, "nothing reached the server out of scope");
}
