//! A throw-away PostgreSQL cluster: `initdb` into a temp dir, then `pg_ctl start` on a free port
//! on 127.0.0.1, under a watchdog shell that stops the server and removes the directory as soon
//! as the owning process closes its stdin — which the kernel does when that process exits, even
//! when it is killed, so no test run leaves a server behind.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The watchdog. Its arguments are paths the harness made itself; nothing here is interpolated.
const WATCHDOG: &str = r#"
pg_ctl="$1"; data="$2"; root="$3"
"$pg_ctl" -D "$data" -l "$root/server.log" -w -t 60 start >/dev/null || { cat "$root/server.log" >&2; exit 1; }
echo started
# Let go of the test's output, so the test runner sees it end as soon as the test does.
exec >/dev/null 2>&1
read -r _
"$pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
rm -rf "$root"
"#;

pub struct PgCluster {
    port: u16,
    runner: Runner,
    // Closing its stdin ends the watchdog, which stops the server.
    watchdog: Child,
}

/// Runs the server binaries from `bin_dir` in `root`, as `postgres` when this process is root.
struct Runner {
    bin_dir: PathBuf,
    root: PathBuf,
    as_postgres: bool,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster").field("port", &self.port).field("root", &self.runner.root).finish()
    }
}

impl PgCluster {
    /// Makes and starts a new cluster. Errors say what is missing.
    pub fn start() -> Result<Self, String> {
        let bin_dir = find_bin_dir().ok_or("no PostgreSQL server binaries (initdb, pg_ctl) found")?;
        let root =
            tempfile::Builder::new().prefix("rampart-pg-").tempdir().map_err(|e| format!("temp dir: {e}"))?.keep();
        // initdb refuses to run as root: run the server as the `postgres` system user then.
        let run_as_postgres = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
        if run_as_postgres {
            let status = Command::new("chown").args(["postgres:", "--"]).arg(&root).status();
            if !status.is_ok_and(|s| s.success()) {
                return Err("running as root and cannot hand the cluster to the `postgres` user".into());
            }
        }
        let runner = Runner { bin_dir, root, as_postgres: run_as_postgres };
        let data = runner.root.join("data");
        let port = free_port()?;
        let initdb = runner
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "-N", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !initdb.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr)));
        }
        // Durability is not what these tests are about; speed is.
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             max_connections = 300\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            runner.root.display()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .map_err(|e| format!("postgresql.conf: {e}"))?;

        let mut watchdog = runner
            .command("sh")
            .args(["-c", WATCHDOG, "rampart-pg-watchdog"])
            .arg(runner.bin_dir.join("pg_ctl"))
            .arg(&data)
            .arg(&runner.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting PostgreSQL: {e}"))?;
        let mut line = String::new();
        let stdout = watchdog.stdout.take().expect("stdout is piped");
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim() != "started" {
            return Err("PostgreSQL did not start (its log was printed above)".into());
        }
        Ok(Self { port, runner, watchdog })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for the `postgres` database as the superuser.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown: connections are closed), keeping its data.
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    /// Starts a stopped server again on the same port and data.
    pub fn restart(&self) {
        let log = self.runner.root.join("server.log");
        self.pg_ctl(&["-w", "-t", "60", "-l", log.to_str().expect("temp paths are UTF-8"), "start"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let status = self
            .runner
            .command("pg_ctl")
            .arg("-D")
            .arg(self.runner.root.join("data"))
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl");
        assert!(status.success(), "pg_ctl {args:?} failed");
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Closing the watchdog's stdin stops the server; the watchdog cleans up on its own.
        drop(self.watchdog.stdin.take());
    }
}

impl Runner {
    fn command(&self, program: &str) -> Command {
        let program = if program == "sh" { PathBuf::from("sh") } else { self.bin_dir.join(program) };
        let mut command = if self.as_postgres {
            let mut command = Command::new("setpriv");
            command.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(&self.root);
        command
    }
}

/// A free port below the kernel's ephemeral range. The kernel hands ports of that range to any
/// socket bound to port 0 or connecting, so one found free there could be taken by another
/// test's listener or connection before the server, started after `initdb`, binds it.
fn free_port() -> Result<u16, String> {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, high) = (10_000_u16, ephemeral.max(11_000));
    for _ in 0..100 {
        // A version 7 id ends in random bits.
        let offset = uuid::Uuid::now_v7().as_u128() % u128::from(high - low);
        let port = low + u16::try_from(offset).map_err(|e| e.to_string())?;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("no free port found between {low} and {high}"))
}

/// `initdb` on the PATH, or the newest Debian-style `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}
