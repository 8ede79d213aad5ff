//! Fetching a git repository from a clone URL through the gate: every branch and tag, with full
//! history, into a new bare repository. gix speaks the smart-HTTP protocol (and parses every
//! answer); the gate's HTTP client carries each request (`transport.rs`), so nothing reaches the
//! network but what the organisation's scope allows, and every refusal is reported. A redirect
//! is not followed; credentials are never sent; the bytes received, the time taken and
//! cancellation bound a fetch.

mod transport;
mod url;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gix_transport::Protocol;
use rampart_scope::{Gate, HttpClient, HttpOptions};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::transport::{GateHttp, Shared};
pub use self::url::{URL_MAX, url_target};

/// What a fetch may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// The most bytes of answers received from the server, packs included.
    pub max_bytes: u64,
    /// How long the whole fetch may take, writing the repository included.
    pub time_limit: Duration,
}

impl FetchLimits {
    /// The default bound on the bytes received: 512 MiB.
    pub const MAX_BYTES: u64 = 512 << 20;
    /// The default time limit: ten minutes.
    pub const TIME_LIMIT: Duration = Duration::from_secs(600);
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self { max_bytes: Self::MAX_BYTES, time_limit: Self::TIME_LIMIT }
    }
}

/// What a fetch brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchSummary {
    /// The bare repository written.
    pub path: PathBuf,
    /// Every reference fetched (`refs/heads/…`, `refs/tags/…`) and the id it points at (for an
    /// annotated tag, the tag object), sorted by name.
    pub refs: Vec<FetchedRef>,
    /// Bytes of answers received from the server.
    pub bytes_received: u64,
}

/// A reference fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedRef {
    pub name: String,
    /// The object id, in hex.
    pub id: String,
}

/// Why a fetch failed, said for people: never a credential, nor anything the server wrote.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the clone URL {0}")]
    Url(String),
    #[error("{0}")]
    Limits(String),
    /// The gate refused the server (and reported the refusal).
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("the repository needs credentials, and a fetch never sends any")]
    NeedsCredentials,
    #[error("the server has no repository at this URL (HTTP 404)")]
    NotFound,
    #[error("the server answered with a redirect (HTTP {0}), which is not followed: give the repository's final URL")]
    Redirected(u16),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the repository is larger than the limit of {0} bytes received")]
    TooLarge(u64),
    #[error("the fetch took longer than its time limit")]
    TimedOut,
    #[error("the fetch was cancelled")]
    Cancelled,
    /// gix could not make sense of the server's answers (not a smart-HTTP git server, a broken
    /// pack…); its account, which may quote the server, is only logged at debug level.
    #[error("the server's answers are not a git repository that can be fetched")]
    Protocol,
    #[error("cannot write the repository: {0}")]
    Local(String),
}

/// Fetches every branch and tag of the repository at `url`, with full history, into a new bare
/// repository at `into` (a directory that does not exist yet or is empty), through `gate`. The
/// answers received are bounded by `limits.max_bytes`; the whole fetch by `limits.time_limit`
/// and by `cancel`. gix runs on a blocking thread of the runtime.
pub async fn fetch_repository(
    gate: &Gate,
    url: &str,
    into: &Path,
    limits: &FetchLimits,
    cancel: &CancellationToken,
) -> Result<FetchSummary, FetchError> {
    let url = url::parse_clone_url(url).map_err(FetchError::Url)?;
    if limits.max_bytes == 0 || limits.time_limit.is_zero() {
        return Err(FetchError::Limits("the byte and time limits of a fetch must be above zero".into()));
    }
    let client = HttpClient::new(gate.clone(), &HttpOptions { redirects: 0, ..HttpOptions::default() })
        .map_err(|_| FetchError::Local("cannot build the HTTP client".into()))?;
    // Cancelled with the caller's token, and when this future is dropped: the blocking thread
    // never outlives the fetch it serves by more than one wait.
    let cancel = cancel.child_token();
    let _stop_on_drop = cancel.clone().drop_guard();
    let deadline = Instant::now() + limits.time_limit;
    let shared =
        Arc::new(Shared::new(client, tokio::runtime::Handle::current(), cancel.clone(), deadline, limits.max_bytes));
    let interrupt = Arc::new(AtomicBool::new(false));
    let mut task = tokio::task::spawn_blocking({
        let (shared, interrupt, into) = (shared.clone(), interrupt.clone(), into.to_owned());
        move || fetch_blocking(&shared, url, &into, &interrupt)
    });
    // The network waits end by themselves; gix's own work (indexing the pack) is interrupted.
    let joined = tokio::select! {
        joined = &mut task => joined,
        () = cancel.cancelled() => {
            interrupt.store(true, Ordering::Relaxed);
            shared.fail(FetchError::Cancelled);
            task.await
        }
        () = tokio::time::sleep_until(deadline) => {
            interrupt.store(true, Ordering::Relaxed);
            shared.fail(FetchError::TimedOut);
            task.await
        }
    };
    let outcome = joined.map_err(|_| FetchError::Local("the fetch stopped unexpectedly".into()))?;
    // Why the transport stopped is truer than gix's account of what followed.
    match (outcome, shared.stopped()) {
        (Ok(refs), None) => Ok(FetchSummary { path: into.to_owned(), refs, bytes_received: shared.received() }),
        (_, Some(reason)) => Err(reason),
        (Err(error), None) => Err(error),
    }
}

/// The fetch itself, on a blocking thread: a bare repository that reads no configuration but its
/// own, a remote with the refspecs of every branch and tag, gix's fetch over the gate.
fn fetch_blocking(
    shared: &Arc<Shared>,
    url: reqwest::Url,
    into: &Path,
    interrupt: &AtomicBool,
) -> Result<Vec<FetchedRef>, FetchError> {
    let local = |what: &str| {
        let what = what.to_owned();
        move |error: gix::Error| {
            tracing::debug!(error = %error, "{what}");
            FetchError::Local(what.clone())
        }
    };
    let protocol = |error: gix::Error| {
        tracing::debug!(error = %error, "the fetch failed");
        FetchError::Protocol
    };
    let repository = gix::ThreadSafeRepository::init_opts(
        into,
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        gix::open::Options::isolated(),
    )
    .map_err(local("cannot create the repository (the directory must be new or empty)"))?
    .to_thread_local();
    let gix_url = gix::url::parse(gix::bstr::BStr::new(url.as_str()))
        .map_err(|_| FetchError::Url("is not a URL git reads".into()))?;
    let remote = repository
        .remote_at_without_url_rewrite(gix_url.clone())
        .and_then(|remote| {
            remote.with_refspecs(
                ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                gix::remote::Direction::Fetch,
            )
        })
        .map_err(local("cannot set up the remote"))?;
    let transport = gix_transport::client::blocking_io::http::Transport::new_http(
        GateHttp::new(shared.clone(), url),
        gix_url,
        Protocol::V2,
        false,
    );
    // No credential helper, no prompt: a server asking for credentials ends the fetch.
    let connection = remote.to_connection_with_transport(transport).with_credentials(|_| Ok(None));
    let prepared =
        connection.prepare_fetch(gix::progress::Discard, gix::remote::ref_map::Options::default()).map_err(protocol)?;
    prepared.receive(gix::progress::Discard, interrupt).map_err(protocol)?;
    fetched_refs(&repository)
}

/// Every reference of the repository and its id, sorted by name.
fn fetched_refs(repository: &gix::Repository) -> Result<Vec<FetchedRef>, FetchError> {
    let unreadable = |error: &dyn std::fmt::Display| {
        tracing::debug!(error = %error, "cannot read the references fetched");
        FetchError::Local("cannot read the references fetched".into())
    };
    let platform = repository.references().map_err(|error| unreadable(&error))?;
    let mut refs = Vec::new();
    for reference in platform.all().map_err(|error| unreadable(&error))? {
        let reference = reference.map_err(|error| unreadable(&error))?;
        if let Some(id) = reference.try_id() {
            refs.push(FetchedRef { name: reference.name().as_bstr().to_string(), id: id.to_string() });
        }
    }
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(refs)
}
