//! The TCP connect scanner: one part of the ports per core, many connects in flight, three port
//! states (open, closed, filtered), per-host timeouts learned from round trips, and back-off on
//! local resource errors. A connect the kernel answered before `connect` returned (as on
//! loopback and near hosts) is settled where it was sent; only one still waiting gets a task.
//! Until a host has answered there is no round trip to wait for: its retry goes out while the
//! first attempt still waits, each with its full timeout.
//! It connects only to pairs the caller's `allow` gate accepted, and a local failure (out of
//! descriptors, buffers or ephemeral ports) is never reported as a closed port: the probe waits
//! and is sent again.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The connect timeout used until a host has answered once, and the ceiling after that.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Connects in flight at once, before the descriptor limit caps it. A port that answers at once
/// holds its socket for no time; a silent one holds it for its whole timeout, and a second one
/// while its retry is under way, so the window is sized for silent ports.
pub const DEFAULT_CONCURRENCY: usize = 8192;
/// Extra attempts for a port that gave no answer.
pub const DEFAULT_RETRIES: u8 = 1;
/// The shortest timeout round trips can bring a host down to.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// How long an open port has to send its greeting.
pub const BANNER_TIMEOUT: Duration = Duration::from_millis(500);
/// The most of a greeting that is kept.
pub const BANNER_MAX: usize = 256;
/// The most open ports a report keeps by default; more are counted, not kept. A network that
/// answers every port (a SYN proxy) would otherwise grow the report by every probe.
pub const DEFAULT_KEEP_OPEN: usize = 10_000;

/// How often at most `progress` hears about the scan, unless a whole percent has passed.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// A probe that meets this many local errors in a row is given up and counted as unsent.
const LOCAL_ATTEMPTS_MAX: u8 = 40;
/// The fewest connects the window shrinks to under local errors.
const MIN_WINDOW: usize = 16;
/// How often at most the window is halved: one burst of errors is one signal.
const WINDOW_CUT_INTERVAL: Duration = Duration::from_millis(100);

/// What to scan and how hard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanPlan {
    pub addresses: Vec<IpAddr>,
    pub ports: Vec<u16>,
    /// The initial connect timeout, and the ceiling of every adapted one.
    pub timeout: Duration,
    /// Connects in flight at most; capped by the descriptor limit.
    pub concurrency: usize,
    /// Extra attempts for a port that gave no answer (filtered).
    pub retries: u8,
    /// Whether to read a greeting from open ports.
    pub banner: bool,
    /// The most open ports the report keeps (the first by address and port of those each part
    /// kept); every one is counted in `n_open`.
    pub keep_open: usize,
}

impl ScanPlan {
    /// A plan with the default timeout, concurrency and retries, and no banners.
    pub fn new(addresses: Vec<IpAddr>, ports: Vec<u16>) -> Self {
        Self {
            addresses,
            ports,
            timeout: DEFAULT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
            retries: DEFAULT_RETRIES,
            banner: false,
            keep_open: DEFAULT_KEEP_OPEN,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortState {
    /// The connect succeeded.
    Open,
    /// The host answered with a reset.
    Closed,
    /// No answer within the timeout, or the host or network was unreachable.
    Filtered,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortResult {
    pub address: IpAddr,
    pub port: u16,
    pub state: PortState,
    /// The greeting the service sent, printable ASCII with everything else escaped.
    pub banner: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Open ports, sorted by address then port: at most the plan's `keep_open`.
    pub open: Vec<PortResult>,
    /// Open ports found, kept or not.
    pub n_open: u64,
    pub closed: u64,
    pub filtered: u64,
    /// Connect attempts sent, retries included.
    pub probes: u64,
    /// Local errors met (out of descriptors, buffers, ephemeral ports, …); each was retried.
    pub local_errors: u64,
    /// Pairs the `allow` gate refused; nothing was sent to them.
    pub refused: u64,
    /// Pairs given up after repeated local errors: their state is unknown, not closed.
    pub unsent: u64,
    /// What became of each address's ports, in the order of the plan's addresses: what says
    /// whether a host was scanned whole (a part of the ports that could not start counts none).
    pub hosts: Vec<HostCounts>,
}

/// How one address's ports were settled. Every port of the plan is in exactly one count once the
/// address was scanned whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounts {
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    /// Refused by the gate or given up after local errors: never asked, so unknown.
    pub unknown: u64,
}

impl HostCounts {
    /// Whether every one of `n_ports` ports was asked and settled, and the host answered at
    /// least one of them (a host that answered nothing may be down, not closed).
    pub fn scanned_whole(&self, n_ports: usize) -> bool {
        self.unknown == 0 && self.open + self.closed > 0 && self.open + self.closed + self.filtered == n_ports as u64
    }
}

/// Scans every allowed (address, port) pair of `plan`.
///
/// `allow` is asked about every pair before anything is sent to it; a refused pair is never
/// connected to and is counted in `refused`. `progress(done, total)` hears how many pairs are
/// settled, at most every 100 ms or every percent, and once more with `done == total` at the end.
/// On `cancel` the connects in flight are dropped and the report so far is returned.
///
/// Run it on the multi-threaded runtime: the ports are then split over a thread per core.
pub async fn scan(
    plan: &ScanPlan,
    allow: &(dyn Fn(IpAddr, u16) -> bool + Send + Sync),
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> ScanReport {
    // A part needs room for a useful window of its own; a tight descriptor limit keeps one part.
    let parts = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(plan.ports.len())
        .min(descriptor_budget() / 1024)
        .max(1);
    let on_multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if parts == 1 || !on_multi_thread {
        return scan_part(plan, allow, progress, cancel).await;
    }
    // One part of the ports per core, each on a runtime of its own thread: a connect, its answer
    // and the loop that counts it stay on one core, with no wake-ups across threads.
    let plans: Vec<ScanPlan> = (0..parts)
        .map(|part| ScanPlan {
            addresses: plan.addresses.clone(),
            ports: plan.ports.iter().skip(part).step_by(parts).copied().collect(),
            // The parts share the descriptor budget as they share the window.
            concurrency: (plan.concurrency.min(descriptor_budget()) / parts).max(1),
            ..plan.clone()
        })
        .collect();
    let total: u64 = plan.addresses.len() as u64 * plan.ports.len() as u64;
    let progress_of_parts = std::sync::Mutex::new(vec![0_u64; parts]);
    let reports = tokio::task::block_in_place(|| {
        std::thread::scope(|threads| {
            let running: Vec<_> = plans
                .iter()
                .enumerate()
                .map(|(index, part_plan)| {
                    let progress_of_parts = &progress_of_parts;
                    threads.spawn(move || {
                        let part_progress = move |done: u64, _: u64| {
                            // Summed under the lock, so the caller sees the count only grow.
                            let mut parts = progress_of_parts.lock().expect("progress lock");
                            parts[index] = done;
                            progress(parts.iter().sum(), total);
                        };
                        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                        match runtime {
                            Ok(runtime) => runtime.block_on(scan_part(part_plan, allow, &part_progress, cancel)),
                            Err(_) => ScanReport {
                                unsent: part_plan.addresses.len() as u64 * part_plan.ports.len() as u64,
                                ..ScanReport::default()
                            },
                        }
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|thread| thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect::<Vec<_>>()
        })
    });
    let mut merged = ScanReport { hosts: vec![HostCounts::default(); plan.addresses.len()], ..ScanReport::default() };
    for report in reports {
        for (sum, part) in merged.hosts.iter_mut().zip(&report.hosts) {
            sum.open += part.open;
            sum.closed += part.closed;
            sum.filtered += part.filtered;
            sum.unknown += part.unknown;
        }
        merged.open.extend(report.open);
        merged.n_open += report.n_open;
        merged.closed += report.closed;
        merged.filtered += report.filtered;
        merged.probes += report.probes;
        merged.local_errors += report.local_errors;
        merged.refused += report.refused;
        merged.unsent += report.unsent;
    }
    merged.open.sort_by_key(|found| (found.address, found.port));
    merged.open.truncate(plan.keep_open);
    merged
}

/// Scans one plan on the current runtime.
async fn scan_part(
    plan: &ScanPlan,
    allow: &(dyn Fn(IpAddr, u16) -> bool + Send + Sync),
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> ScanReport {
    let n_addresses = plan.addresses.len() as u64;
    let total = n_addresses * plan.ports.len() as u64;
    let mut part = Part {
        plan,
        report: ScanReport { hosts: vec![HostCounts::default(); plan.addresses.len()], ..ScanReport::default() },
        reporter: Reporter::new(progress, total),
        window: Window::new(plan.concurrency.clamp(1, descriptor_budget())),
        hosts: vec![HostTiming::default(); plan.addresses.len()],
        retries: VecDeque::new(),
        paused_until: None,
        done: 0,
    };
    let mut in_flight: JoinSet<Finished> = JoinSet::new();
    let slots = Arc::new(Slots::default());
    let mut next_fresh: u64 = 0;

    loop {
        if cancel.is_cancelled() {
            break;
        }
        // Fill the window: retries first, so a port's answer is not held back behind new work.
        let mut n_taken = 0;
        slots.set_limit(part.window.limit);
        while slots.in_use() < part.window.limit
            && n_taken < SEND_BUDGET
            && part.paused_until.is_none_or(|until| Instant::now() >= until)
        {
            part.paused_until = None;
            n_taken += 1;
            let probe = if let Some(probe) = part.retries.pop_front() {
                probe
            } else if next_fresh < total {
                // Port-major order spreads the load over the hosts.
                let probe = Probe {
                    host: usize::try_from(next_fresh % n_addresses).expect("host index fits the address list"),
                    port: plan.ports[usize::try_from(next_fresh / n_addresses).expect("port index fits the port list")],
                    attempt: 0,
                    local_failures: 0,
                };
                next_fresh += 1;
                // The scope gate: asked before anything leaves for this pair.
                if !allow(plan.addresses[probe.host], probe.port) {
                    part.report.refused += 1;
                    part.report.hosts[probe.host].unknown += 1;
                    part.done += 1;
                    part.reporter.update(part.done);
                    continue;
                }
                probe
            } else {
                break;
            };
            if cancel.is_cancelled() {
                break;
            }
            let timeout = part.hosts[probe.host].timeout(plan.timeout, probe.attempt);
            let target = SocketAddr::new(plan.addresses[probe.host], probe.port);
            let started = Instant::now();
            part.report.probes += 1;
            match send(target) {
                Sent::Answered(outcome) => part.settle(probe, outcome),
                Sent::Connected(socket) => match established(socket, started.elapsed()) {
                    (outcome, Some(stream)) if plan.banner => {
                        slots.take();
                        in_flight.spawn(async move {
                            let outcome = with_banner(outcome, Some(stream)).await;
                            Finished { probe, outcome, sent_early: false }
                        });
                    }
                    (outcome, _) => part.settle(probe, outcome),
                },
                Sent::Pending(socket) => {
                    // A host that has not answered yet has no round trip to go by: its retry goes
                    // out when the first attempt has waited half its timeout, not all of it.
                    let host = &part.hosts[probe.host];
                    let early_retry = (probe.attempt < plan.retries && !host.has_answered()).then(|| EarlyRetry {
                        target,
                        after: timeout / 2,
                        timeout: host.timeout(plan.timeout, probe.attempt + 1),
                        slots: Arc::clone(&slots),
                    });
                    slots.take();
                    let banner = plan.banner;
                    in_flight.spawn(async move {
                        let (outcome, sent_early) = answer(socket, started, timeout, early_retry, banner).await;
                        let attempt = probe.attempt + u8::from(sent_early);
                        Finished { probe: Probe { attempt, ..probe }, outcome, sent_early }
                    });
                }
            }
        }

        if in_flight.is_empty() && part.retries.is_empty() && next_fresh >= total {
            break;
        }

        // Probes settled in the loop above never gave the runtime a turn: while there is more to
        // send at once, yield one, so that timers and the answers of pending connects keep going.
        let more_to_send = n_taken >= SEND_BUDGET;
        let pause_at = part.paused_until;
        let pause = async move {
            match pause_at {
                Some(until) => tokio::time::sleep_until(until).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                match joined {
                    Ok(finished) => {
                        slots.give_back(1 + usize::from(finished.sent_early));
                        part.report.probes += u64::from(finished.sent_early);
                        part.settle(finished.probe, finished.outcome);
                    }
                    Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                    Err(_) => {}
                }
            }
            () = pause, if part.paused_until.is_some() => part.paused_until = None,
            () = tokio::task::yield_now(), if more_to_send => {}
        }
    }

    if cancel.is_cancelled() {
        // Dropping the tasks drops their sockets, which the zero linger closes with a reset.
        in_flight.abort_all();
    } else {
        part.reporter.finish(part.done);
    }
    let mut report = part.report;
    report.open.sort_by_key(|result| (result.address, result.port));
    report
}

/// The most probes one pass of the scan loop takes before it lets the runtime run.
const SEND_BUDGET: usize = 256;

/// One part's scan as it goes: what it found, what it must send again, and how hard to push.
struct Part<'a> {
    plan: &'a ScanPlan,
    report: ScanReport,
    reporter: Reporter<'a>,
    window: Window,
    hosts: Vec<HostTiming>,
    retries: VecDeque<Probe>,
    /// Set after a local error: nothing is sent until then.
    paused_until: Option<Instant>,
    /// Pairs settled, refused ones included.
    done: u64,
}

impl Part<'_> {
    /// Takes in one probe's outcome: a port state, a retry after a silence, or a pause and a
    /// retry after a local error.
    fn settle(&mut self, probe: Probe, outcome: Outcome) {
        let host = &mut self.hosts[probe.host];
        match outcome {
            Outcome::Open { rtt, banner } => {
                host.sample(rtt);
                self.window.grow();
                self.report.n_open += 1;
                self.report.hosts[probe.host].open += 1;
                if self.report.open.len() < self.plan.keep_open {
                    self.report.open.push(PortResult {
                        address: self.plan.addresses[probe.host],
                        port: probe.port,
                        state: PortState::Open,
                        banner,
                    });
                }
                self.done += 1;
            }
            Outcome::Closed { rtt } => {
                if let Some(rtt) = rtt {
                    host.sample(rtt);
                }
                self.window.grow();
                self.report.closed += 1;
                self.report.hosts[probe.host].closed += 1;
                self.done += 1;
            }
            Outcome::Filtered => {
                self.window.grow();
                if probe.attempt < self.plan.retries {
                    self.retries.push_back(Probe { attempt: probe.attempt + 1, ..probe });
                } else {
                    self.report.filtered += 1;
                    self.report.hosts[probe.host].filtered += 1;
                    self.done += 1;
                }
            }
            Outcome::LocalError => {
                self.report.local_errors += 1;
                let local_failures = probe.local_failures.saturating_add(1);
                let now = Instant::now();
                self.window.shrink(now);
                // Wait longer the more often this probe failed, up to a quarter second.
                let wait = Duration::from_millis(5 * u64::from(local_failures.min(50)));
                self.paused_until = Some(self.paused_until.map_or(now + wait, |until| until.max(now + wait)));
                if local_failures >= LOCAL_ATTEMPTS_MAX {
                    self.report.unsent += 1;
                    self.report.hosts[probe.host].unknown += 1;
                    self.done += 1;
                } else {
                    self.retries.push_back(Probe { local_failures, ..probe });
                }
            }
            Outcome::Unsendable => {
                self.report.local_errors += 1;
                self.report.unsent += 1;
                self.report.hosts[probe.host].unknown += 1;
                self.done += 1;
            }
        }
        self.reporter.update(self.done);
    }
}

/// One (address, port) pair on its way through the scan.
#[derive(Clone, Copy, Debug)]
struct Probe {
    host: usize,
    port: u16,
    /// Attempts after a silence so far; bounded by `ScanPlan::retries`.
    attempt: u8,
    /// Local errors met in a row; they never count as an answer.
    local_failures: u8,
}

#[derive(Debug)]
enum Outcome {
    Open {
        rtt: Duration,
        banner: Option<String>,
    },
    /// `rtt` is the round trip of the reset, if there was one (a self-connect has none).
    Closed {
        rtt: Option<Duration>,
    },
    Filtered,
    /// A shortage on this machine: wait and send again.
    LocalError,
    /// This machine cannot send to that address at all (for example an unusable address family).
    Unsendable,
}

/// Where a connect stands the moment `connect` returns.
enum Sent {
    /// Settled already: refused, unreachable, or failed for a local reason.
    Answered(Outcome),
    /// Established already.
    Connected(Socket),
    /// Still waiting for an answer.
    Pending(Socket),
}

/// Sends one connect. On loopback and other near paths the kernel often handles the SYN and its
/// answer before `connect` returns (its own non-blocking connect still says "in progress"), so the
/// socket is asked at once: a probe answered already needs no task, no reactor and no wake-up.
fn send(target: SocketAddr) -> Sent {
    let started = Instant::now();
    let Ok(socket) =
        Socket::new(Domain::for_address(target), Type::STREAM.nonblocking().cloexec(), Some(Protocol::TCP))
    else {
        // Creating a socket fails only for local reasons: descriptors, memory, buffers.
        return Sent::Answered(Outcome::LocalError);
    };
    match socket.connect(&target.into()) {
        Ok(()) => Sent::Connected(socket),
        Err(error) if error.raw_os_error() == Some(Errno::INPROGRESS.raw_os_error()) => match socket.take_error() {
            Ok(Some(error)) | Err(error) => Sent::Answered(classify(&error, started.elapsed())),
            // No error and a peer: the handshake is done. No peer: it is still under way.
            Ok(None) if socket.peer_addr().is_ok() => Sent::Connected(socket),
            Ok(None) => Sent::Pending(socket),
        },
        Err(error) => Sent::Answered(classify(&error, started.elapsed())),
    }
}

/// A probe back from its task.
struct Finished {
    /// Its `attempt` counts the retry, if one went out early.
    probe: Probe,
    outcome: Outcome,
    /// Whether the task sent the probe's retry early, and so held two window slots, not one.
    sent_early: bool,
}

/// A retry sent while the attempt before it is still waiting: to whom, when, how long it waits
/// itself, and the window it needs a free slot of.
#[derive(Debug)]
struct EarlyRetry {
    target: SocketAddr,
    after: Duration,
    timeout: Duration,
    slots: Arc<Slots>,
}

/// The window's sockets in flight, shared with the tasks waiting on them, so that a retry sent
/// early takes a free slot or waits its turn as an ordinary retry: it never pushes a scan past
/// its window.
#[derive(Debug, Default)]
struct Slots {
    in_use: AtomicUsize,
    /// The window's limit, kept here by the scan loop.
    limit: AtomicUsize,
}

impl Slots {
    fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Acquire)
    }

    fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Release);
    }

    /// Takes a slot the scan loop has seen free.
    fn take(&self) {
        self.in_use.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes a slot if one is free.
    fn try_take(&self) -> bool {
        let limit = self.limit.load(Ordering::Acquire);
        self.in_use.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1)).is_ok()
    }

    fn give_back(&self, n: usize) {
        self.in_use.fetch_sub(n, Ordering::AcqRel);
    }
}

/// How a pending connect ended: connected (with its round trip), or how it failed.
type Handshake = Result<(Socket, Duration), Outcome>;

/// Waits for the answer to a connect that was under way when sent, up to `timeout` from
/// `started`. With `early_retry`, a second connect to the same pair goes out once the first has
/// waited `after`; each keeps its own full timeout, an answer to either settles the port, and it
/// is filtered only if both stay silent. Says whether that retry went out.
async fn answer(
    socket: Socket,
    started: Instant,
    timeout: Duration,
    early_retry: Option<EarlyRetry>,
    banner: bool,
) -> (Outcome, bool) {
    let first = handshake(socket, started, timeout);
    let (ended, sent_early) = match early_retry {
        None => (first.await, false),
        Some(retry) => with_early_retry(first, started, retry).await,
    };
    let outcome = match ended {
        Ok((socket, rtt)) => {
            let (outcome, stream) = established(socket, rtt);
            if banner { with_banner(outcome, stream).await } else { outcome }
        }
        Err(outcome) => outcome,
    };
    (outcome, sent_early)
}

/// Waits for `first`, and sends `retry` if it is still waiting at `started + retry.after`.
async fn with_early_retry(
    first: impl Future<Output = Handshake>,
    started: Instant,
    retry: EarlyRetry,
) -> (Handshake, bool) {
    let mut first = pin!(first);
    tokio::select! {
        biased;
        ended = &mut first => return (ended, false),
        () = tokio::time::sleep_until(started + retry.after) => {}
    }
    if !retry.slots.try_take() {
        return (first.await, false);
    }
    let retry_started = Instant::now();
    let second: Handshake = match send(retry.target) {
        Sent::Connected(socket) => return (Ok((socket, retry_started.elapsed())), true),
        Sent::Pending(socket) => {
            let mut second = pin!(handshake(socket, retry_started, retry.timeout));
            tokio::select! {
                ended = &mut first => {
                    return if is_answer(&ended) { (ended, true) } else { (second.await, true) };
                }
                ended = &mut second => ended,
            }
        }
        // A shortage here sends nothing: the first attempt goes on alone, and the usual retry
        // follows a silence.
        Sent::Answered(Outcome::LocalError | Outcome::Unsendable) => {
            retry.slots.give_back(1);
            return (first.await, false);
        }
        Sent::Answered(outcome) => Err(outcome),
    };
    if is_answer(&second) {
        return (second, true);
    }
    let ended = first.await;
    (if is_answer(&ended) { ended } else { second }, true)
}

/// Whether the host answered for the port: connected or reset.
fn is_answer(ended: &Handshake) -> bool {
    matches!(ended, Ok(_) | Err(Outcome::Closed { .. }))
}

/// Waits up to `timeout` from `started` for a pending connect to be made or to fail.
async fn handshake(socket: Socket, started: Instant, timeout: Duration) -> Handshake {
    let stream = TcpStream::from_std(std::net::TcpStream::from(socket)).map_err(|_| Outcome::LocalError)?;
    match tokio::time::timeout_at(started + timeout, stream.writable()).await {
        Err(_elapsed) => Err(Outcome::Filtered),
        Ok(Err(error)) => Err(classify(&error, started.elapsed())),
        Ok(Ok(())) => match stream.take_error() {
            Ok(Some(error)) | Err(error) => Err(classify(&error, started.elapsed())),
            Ok(None) => {
                let rtt = started.elapsed();
                stream.into_std().map(|std| (Socket::from(std), rtt)).map_err(|_| Outcome::LocalError)
            }
        },
    }
}

/// A connection that was made: open, unless it is a connect to itself. The stream comes back
/// for a banner; dropping it closes the connection with a reset.
fn established(socket: Socket, rtt: Duration) -> (Outcome, Option<std::net::TcpStream>) {
    // A zero linger makes close send a reset, so a scan leaves no TIME_WAIT sockets behind. Only
    // an established connection needs it: a refused or unanswered one leaves nothing.
    let _ = socket.set_linger(Some(Duration::ZERO));
    let stream = std::net::TcpStream::from(socket);
    if is_self_connect(&stream) {
        // On loopback a connect to an unused ephemeral port can pick that same port as its
        // source and connect to itself; nothing listens there.
        return (Outcome::Closed { rtt: None }, None);
    }
    (Outcome::Open { rtt, banner: None }, Some(stream))
}

/// `outcome` with the greeting `stream` sends, if it is open.
async fn with_banner(outcome: Outcome, stream: Option<std::net::TcpStream>) -> Outcome {
    match (outcome, stream.map(TcpStream::from_std)) {
        (Outcome::Open { rtt, .. }, Some(Ok(stream))) => Outcome::Open { rtt, banner: read_banner(stream).await },
        (outcome, _) => outcome,
    }
}

fn is_self_connect(stream: &std::net::TcpStream) -> bool {
    matches!((stream.local_addr(), stream.peer_addr()), (Ok(local), Ok(peer)) if local == peer)
}

/// Reads what is said to the connect failing, by errno. Local shortages are never an answer.
fn classify(error: &io::Error, elapsed: Duration) -> Outcome {
    match Errno::from_io_error(error) {
        Some(Errno::CONNREFUSED | Errno::CONNRESET) => Outcome::Closed { rtt: Some(elapsed) },
        // Unreachable answers, and a local firewall refusing the packet, are a filter as far as
        // the port is concerned.
        Some(Errno::HOSTUNREACH | Errno::NETUNREACH | Errno::TIMEDOUT | Errno::ACCESS | Errno::PERM) => {
            Outcome::Filtered
        }
        Some(
            Errno::MFILE
            | Errno::NFILE
            | Errno::NOBUFS
            | Errno::NOMEM
            | Errno::ADDRNOTAVAIL
            | Errno::AGAIN
            | Errno::ADDRINUSE
            | Errno::INTR,
        ) => Outcome::LocalError,
        _ => Outcome::Unsendable,
    }
}

/// Reads a greeting: up to `BANNER_MAX` bytes within `BANNER_TIMEOUT`, stopping at the end of
/// the first line.
async fn read_banner(mut stream: TcpStream) -> Option<String> {
    let mut buffer = [0_u8; BANNER_MAX];
    let mut filled = 0;
    let deadline = Instant::now() + BANNER_TIMEOUT;
    while filled < buffer.len() {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer[filled..])).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                filled += n;
                if buffer[..filled].contains(&b'\n') {
                    break;
                }
            }
        }
    }
    let text = escape(buffer[..filled].trim_ascii());
    (!text.is_empty()).then_some(text)
}

/// Printable ASCII as it is; everything else (and the backslash) as an escape, so a banner is
/// safe to show and to log.
fn escape(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\\' => text.push_str("\\\\"),
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n"),
            b'\t' => text.push_str("\\t"),
            b' '..=b'~' => text.push(char::from(byte)),
            other => text.push_str(&format!("\\x{other:02x}")),
        }
    }
    text
}

/// A host's round-trip estimate, as TCP (RFC 6298) and nmap keep it.
#[derive(Clone, Copy, Debug, Default)]
struct HostTiming {
    /// Smoothed round trip and its variation, in seconds; `None` until the host has answered.
    estimate: Option<(f64, f64)>,
}

impl HostTiming {
    fn has_answered(&self) -> bool {
        self.estimate.is_some()
    }

    fn sample(&mut self, rtt: Duration) {
        let rtt = rtt.as_secs_f64();
        self.estimate = Some(match self.estimate {
            None => (rtt, rtt / 2.0),
            Some((srtt, rttvar)) => (srtt + (rtt - srtt) / 8.0, rttvar + ((rtt - srtt).abs() - rttvar) / 4.0),
        });
    }

    /// `srtt + 4·rttvar` within [`MIN_TIMEOUT`, `ceiling`]; `ceiling` until the host has
    /// answered. A retry after a silence waits twice as long as the attempt before it.
    fn timeout(&self, ceiling: Duration, attempt: u8) -> Duration {
        let base = match self.estimate {
            None => ceiling,
            Some((srtt, rttvar)) => {
                Duration::from_secs_f64(srtt + 4.0 * rttvar).clamp(MIN_TIMEOUT.min(ceiling), ceiling)
            }
        };
        base.saturating_mul(1_u32 << attempt.min(8)).min(ceiling)
    }
}

/// How many connects may be in flight: halved on local errors, grown back as probes complete.
#[derive(Debug)]
struct Window {
    limit: usize,
    max: usize,
    n_since_change: usize,
    last_cut: Option<Instant>,
}

impl Window {
    fn new(max: usize) -> Self {
        Self { limit: max, max, n_since_change: 0, last_cut: None }
    }

    fn shrink(&mut self, now: Instant) {
        self.n_since_change = 0;
        if self.last_cut.is_some_and(|cut| now.duration_since(cut) < WINDOW_CUT_INTERVAL) {
            return;
        }
        self.last_cut = Some(now);
        self.limit = (self.limit / 2).max(MIN_WINDOW.min(self.max));
    }

    fn grow(&mut self) {
        if self.limit >= self.max {
            return;
        }
        self.n_since_change += 1;
        // A full window without a local error earns a quarter more room.
        if self.n_since_change >= self.limit {
            self.n_since_change = 0;
            self.limit = (self.limit + self.limit / 4 + 1).min(self.max);
        }
    }
}

/// Calls `progress` at most every `PROGRESS_INTERVAL` or every percent.
struct Reporter<'a> {
    progress: &'a (dyn Fn(u64, u64) + Send + Sync),
    total: u64,
    step: u64,
    last_done: u64,
    last_at: Instant,
}

impl<'a> Reporter<'a> {
    fn new(progress: &'a (dyn Fn(u64, u64) + Send + Sync), total: u64) -> Self {
        Self { progress, total, step: (total / 100).max(1), last_done: 0, last_at: Instant::now() }
    }

    fn update(&mut self, done: u64) {
        if done < self.total
            && done > self.last_done
            && (done - self.last_done >= self.step || self.last_at.elapsed() >= PROGRESS_INTERVAL)
        {
            self.report(done);
        }
    }

    fn finish(&mut self, done: u64) {
        self.report(done);
    }

    fn report(&mut self, done: u64) {
        self.last_done = done;
        self.last_at = Instant::now();
        (self.progress)(done, self.total);
    }
}

/// How many sockets the scan may hold open: the descriptor limit (raised to the hard limit
/// once per process) less headroom for the rest of the server.
fn descriptor_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let limit = getrlimit(Resource::Nofile);
        if let Some(hard) = limit.maximum
            && limit.current.is_some_and(|soft| soft < hard)
            && let Err(error) = setrlimit(Resource::Nofile, Rlimit { current: Some(hard), maximum: Some(hard) })
        {
            tracing::debug!(%error, "could not raise the descriptor limit to the hard limit");
        }
        match getrlimit(Resource::Nofile).current {
            None => usize::MAX,
            Some(soft) => {
                let soft = usize::try_from(soft).unwrap_or(usize::MAX);
                let headroom = (soft / 8).max(256.min(soft / 2));
                soft.saturating_sub(headroom).max(1)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_keep_printable_ascii_and_escape_the_rest() {
        assert_eq!(escape(b"SSH-2.0-test"), "SSH-2.0-test");
        assert_eq!(escape(b"a\r\nb\t\\\x00\xff"), "a\\r\\nb\\t\\\\\\x00\\xff");
    }

    #[test]
    fn timeout_starts_at_the_ceiling_and_follows_round_trips() {
        let ceiling = Duration::from_secs(1);
        let mut host = HostTiming::default();
        assert_eq!(host.timeout(ceiling, 0), ceiling);
        for _ in 0..20 {
            host.sample(Duration::from_millis(40));
        }
        let adapted = host.timeout(ceiling, 0);
        assert!(adapted >= Duration::from_millis(40) && adapted < Duration::from_millis(100), "{adapted:?}");
        assert_eq!(host.timeout(ceiling, 1), adapted * 2);
        assert_eq!(host.timeout(ceiling, 8), ceiling);
    }

    #[test]
    fn timeout_never_drops_below_the_floor() {
        let mut host = HostTiming::default();
        for _ in 0..20 {
            host.sample(Duration::from_micros(30));
        }
        assert_eq!(host.timeout(Duration::from_secs(1), 0), MIN_TIMEOUT);
    }

    #[test]
    fn window_halves_on_local_errors_and_grows_back() {
        let mut window = Window::new(1024);
        let now = Instant::now();
        window.shrink(now);
        assert_eq!(window.limit, 512);
        window.shrink(now);
        assert_eq!(window.limit, 512, "a burst of errors is one signal");
        window.shrink(now + WINDOW_CUT_INTERVAL);
        assert_eq!(window.limit, 256);
        for _ in 0..100_000 {
            window.grow();
        }
        assert_eq!(window.limit, 1024);
    }

    #[test]
    fn an_early_retry_takes_only_a_free_slot() {
        let slots = Slots::default();
        slots.set_limit(2);
        slots.take();
        assert!(slots.try_take());
        assert!(!slots.try_take(), "the window is full");
        slots.give_back(2);
        assert_eq!(slots.in_use(), 0);
        assert!(slots.try_take());
    }

    #[test]
    fn local_shortages_are_never_read_as_closed() {
        for errno in [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::ADDRNOTAVAIL, Errno::AGAIN] {
            let error = io::Error::from_raw_os_error(errno.raw_os_error());
            assert!(matches!(classify(&error, Duration::ZERO), Outcome::LocalError), "{errno:?}");
        }
        let refused = io::Error::from_raw_os_error(Errno::CONNREFUSED.raw_os_error());
        assert!(matches!(classify(&refused, Duration::ZERO), Outcome::Closed { rtt: Some(_) }));
        let unreachable = io::Error::from_raw_os_error(Errno::HOSTUNREACH.raw_os_error());
        assert!(matches!(classify(&unreachable, Duration::ZERO), Outcome::Filtered));
    }
}
