//! The TCP connect scanner when this process runs out of file descriptors: every probe that
//! could not get a socket is sent again later, and none is reported closed. A test binary of its
//! own, because it lowers the descriptor limit of the whole process.
//!
//! Closed and open ports on loopback are answered before `connect` returns, so the scan holds
//! hardly a socket at a time; the test takes every descriptor itself and frees a few only once
//! the scan has started.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use rampart_tools::tcp_scan::{ScanPlan, scan};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const N_LISTENERS: usize = 300;
/// Descriptors the test holds when the scan starts, with none left free, and frees after
/// `HOLD_FOR`.
const N_HELD: usize = 8;
const HOLD_FOR: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_is_retried_and_never_read_as_closed() {
    let mut listeners = Vec::new();
    let mut owned = HashSet::new();
    for _ in 0..N_LISTENERS {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind a loopback listener");
        owned.insert(listener.local_addr().expect("listener address"));
        listeners.push(listener);
    }
    let before = getrlimit(Resource::Nofile);
    assert!(before.current.is_none_or(|soft| soft > N_LISTENERS as u64 + 50), "descriptor limit too low to start");
    let held: Vec<std::fs::File> =
        (0..N_HELD).map(|_| std::fs::File::open("/dev/null").expect("open a descriptor to hold")).collect();
    // The directory listing holds one descriptor of its own while it counts.
    let limit = std::fs::read_dir("/proc/self/fd").expect("list open descriptors").count() as u64 - 1;
    // Lowering the hard limit too keeps the scanner from raising it back.
    setrlimit(Resource::Nofile, Rlimit { current: Some(limit), maximum: Some(limit) })
        .expect("lower the descriptor limit");
    let ports: Vec<u16> = owned.iter().map(SocketAddr::port).collect();
    let mut plan = ScanPlan::new(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)], ports);
    plan.timeout = Duration::from_secs(2);
    let allow = |address: IpAddr, port: u16| owned.contains(&SocketAddr::new(address, port));
    let release = std::thread::spawn(move || {
        std::thread::sleep(HOLD_FOR);
        drop(held);
    });

    let report = scan(&plan, &allow, &|_, _| {}, &CancellationToken::new()).await;
    release.join().expect("release the held descriptors");

    assert!(report.local_errors > 0, "the limit was not reached; the test proves nothing");
    assert_eq!(report.open.len(), N_LISTENERS, "{report:?}");
    assert_eq!(report.closed, 0);
    assert_eq!(report.filtered, 0);
    assert_eq!(report.unsent, 0);
}
