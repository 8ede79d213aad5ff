//! Runs an external binary: an argv, never a shell. Under bubblewrap when it is installed (the
//! root bound read-only, a private `/tmp`, every namespace unshared and the network shared only
//! when the tool needs it, no capabilities, a new session, dying with its parent), always under
//! resource limits and no-new-privileges (`limits.rs`), with an empty environment but `PATH` and
//! `LANG`. A run is stopped — its whole process group killed — past its time limit or its output
//! cap, and the result says which. Nothing here decides what a tool may reach: its arguments were
//! checked against the scope before they came here.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use crate::external::limits::{self, Limits};

/// Where bubblewrap is looked for, in order.
const BWRAP_PATHS: [&str; 2] = ["/usr/bin/bwrap", "/bin/bwrap"];
/// Most bytes of standard error a run keeps (the first ones), for its log.
pub const STDERR_KEPT: usize = 8192;

/// Whether a run may reach the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// No network namespace of its own: the tool reaches what the server reaches.
    Shared,
    /// A network namespace with only a loopback of its own (under bubblewrap).
    None,
}

/// How a run was confined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confinement {
    /// bubblewrap and resource limits.
    Bubblewrap,
    /// Resource limits and no-new-privileges only: bubblewrap is not installed.
    LimitsOnly,
}

/// One run of a binary.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// An absolute path.
    pub binary: PathBuf,
    /// The arguments after the binary's name, each passed as one argument.
    pub args: Vec<String>,
    pub network: Network,
    pub time_limit: Duration,
    /// Most bytes of standard output and standard error together.
    pub output_cap: usize,
    pub limits: Limits,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself, with this code (`None` when a signal ended it).
    Exited(Option<i32>),
    /// Past its time limit: stopped.
    TimedOut,
    /// Past its output cap: stopped, its output cut at the cap.
    OutputCapped,
    /// Cancelled by its caller: stopped.
    Cancelled,
}

/// What a run wrote and how it ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Standard output, at most the output cap.
    pub stdout: Vec<u8>,
    /// The first [`STDERR_KEPT`] bytes of standard error.
    pub stderr: Vec<u8>,
    pub ending: Ending,
    pub confinement: Confinement,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}")]
    Unavailable(String),
    #[error("cannot start {binary}: {reason}")]
    Spawn { binary: String, reason: String },
}

/// The runner: bubblewrap if installed, else limits only.
#[derive(Clone, Debug)]
pub struct Sandbox {
    bwrap: Option<PathBuf>,
}

impl Sandbox {
    /// Bubblewrap where it is installed.
    pub fn detect() -> Self {
        Self { bwrap: BWRAP_PATHS.iter().map(PathBuf::from).find(|path| executable(path).is_ok()) }
    }

    /// Limits only, even where bubblewrap is installed (the fallback, and its tests).
    pub fn limits_only() -> Self {
        Self { bwrap: None }
    }

    /// How runs are confined: bubblewrap where it is installed and can make a sandbox here.
    pub async fn confinement(&self) -> Confinement {
        if self.working_bwrap().await.is_some() { Confinement::Bubblewrap } else { Confinement::LimitsOnly }
    }

    /// bubblewrap, if installed and able to make a sandbox on this machine (a kernel without
    /// unprivileged user namespaces refuses it): tried once per process, its refusal logged once,
    /// and runs fall back to limits only rather than fail each with bubblewrap's error.
    async fn working_bwrap(&self) -> Option<&PathBuf> {
        static WORKS: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
        let bwrap = self.bwrap.as_ref()?;
        let works = *WORKS
            .get_or_init(|| async {
                let status = tokio::process::Command::new(bwrap)
                    .args(bwrap_args(Network::None))
                    .args(["--", "/bin/true"])
                    .env_clear()
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .status()
                    .await;
                let works = status.is_ok_and(|status| status.success());
                if !works {
                    tracing::warn!(
                        "bubblewrap cannot make a sandbox here; external tools run under resource limits only"
                    );
                }
                works
            })
            .await;
        works.then_some(bwrap)
    }

    /// Runs `invocation` to its end, its time limit, its output cap or `cancel`.
    pub async fn run(&self, invocation: &Invocation, cancel: &CancellationToken) -> Result<Outcome, SandboxError> {
        executable(&invocation.binary).map_err(SandboxError::Unavailable)?;
        let bwrap = self.working_bwrap().await;
        let confinement = if bwrap.is_some() { Confinement::Bubblewrap } else { Confinement::LimitsOnly };
        let mut command = match bwrap {
            Some(bwrap) => {
                let mut command = tokio::process::Command::new(bwrap);
                command.args(bwrap_args(invocation.network)).arg("--").arg(&invocation.binary);
                command
            }
            None => {
                let mut command = tokio::process::Command::new(&invocation.binary);
                command.current_dir("/");
                command
            }
        };
        command
            .args(&invocation.args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        limits::apply(&mut command, invocation.limits);
        // Named by its file name: a run's error names no path on the server.
        let binary = invocation.binary.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let mut child = command
            .spawn()
            .map_err(|error| SandboxError::Spawn { binary: binary.clone(), reason: error.to_string() })?;
        let group = child.id().and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw);
        let stdout = child.stdout.take().ok_or_else(|| spawn_error(&binary))?;
        let stderr = child.stderr.take().ok_or_else(|| spawn_error(&binary))?;

        let budget = Budget::new(invocation.output_cap);
        let mut stdout_bytes = Vec::new();
        let mut stderr_bytes = Vec::new();
        let ending = {
            let reading = async {
                tokio::join!(
                    read_capped(stdout, &budget, usize::MAX, &mut stdout_bytes),
                    read_capped(stderr, &budget, STDERR_KEPT, &mut stderr_bytes)
                );
                child.wait().await.ok().and_then(|status| status.code())
            };
            // Whether the child was waited for: its id may be another process's once it was.
            tokio::select! {
                status = reading => (if budget.exceeded() { Ending::OutputCapped } else { Ending::Exited(status) }, true),
                () = budget.capped.cancelled() => (Ending::OutputCapped, false),
                () = tokio::time::sleep(invocation.time_limit) => (Ending::TimedOut, false),
                () = cancel.cancelled() => (Ending::Cancelled, false),
            }
        };
        let (ending, waited) = ending;
        if !waited {
            // The whole group, while its leader is still ours: a tool's own children go with it
            // (under bubblewrap, its death takes the sandbox's pid namespace down with it).
            if let Some(group) = group {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
        }
        Ok(Outcome { stdout: stdout_bytes, stderr: stderr_bytes, ending, confinement })
    }
}

fn spawn_error(binary: &str) -> SandboxError {
    SandboxError::Spawn { binary: binary.to_owned(), reason: "its output could not be read".into() }
}

/// bubblewrap's arguments before the tool's binary.
fn bwrap_args(network: Network) -> Vec<&'static str> {
    let mut args = vec![
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--chdir",
        "/tmp",
    ];
    if network == Network::Shared {
        args.push("--share-net");
    }
    args
}

/// `Ok` when `path` is an absolute path to an executable file; else why not, said for people by
/// the program's name, never its path (answers and logs name no path on the server).
pub fn executable(path: &Path) -> Result<(), String> {
    let name = path.file_name().map_or_else(|| "the program".to_owned(), |name| name.to_string_lossy().into_owned());
    if !path.is_absolute() {
        return Err(format!("{name} is not configured with an absolute path"));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(format!("{name} is not an executable file")),
        Err(_) => Err(format!("{name} is not installed")),
    }
}

/// The bytes a run may still write, shared by its two streams.
struct Budget {
    left: std::sync::atomic::AtomicUsize,
    exceeded: std::sync::atomic::AtomicBool,
    /// Cancelled when the budget is spent, so the run is stopped at once.
    capped: CancellationToken,
}

impl Budget {
    fn new(cap: usize) -> Self {
        Self { left: cap.into(), exceeded: false.into(), capped: CancellationToken::new() }
    }

    /// Takes `n` bytes; false (and the budget marked exceeded) when fewer are left.
    fn take(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        let taken = self.left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| left.checked_sub(n));
        if taken.is_err() {
            self.exceeded.store(true, Ordering::Release);
            self.capped.cancel();
        }
        taken.is_ok()
    }

    fn exceeded(&self) -> bool {
        self.exceeded.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Reads a stream to its end or until the budget is spent (then stops reading: the run is
/// stopped by its caller), keeping at most `keep` bytes.
async fn read_capped(mut stream: impl AsyncRead + Unpin, budget: &Budget, keep: usize, kept: &mut Vec<u8>) {
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !budget.take(n) {
                    return;
                }
                let room = keep.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buffer[..room]);
            }
        }
    }
}
