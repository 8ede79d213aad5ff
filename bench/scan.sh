#!/usr/bin/env bash
# Port-scan benchmark: `rampart scan tcp` against nmap's connect scan and RustScan (and nmap's
# SYN scan as the raw-packet reference), inside a private network namespace this script creates:
# the host's loopback has listeners that are not ours, so range scans never run there.
#
#   S1  127.0.0.1, ports 1-65535 (listeners include ports in the ephemeral range 32768-60999)
#   S2  127.0.1.0/24 x top-100 ports
#   S3  127.0.2.0/28 x top-100 ports, every SYN dropped by an iptables rule in the namespace
#
# One warm-up and RUNS (default 5) timed runs per tool and scenario; every run is checked against
# the listeners opened: a missing or extra open port fails the run, whatever its speed.
# Installs nmap and iptables (Debian) and RustScan (crates.io) when missing. Run as root.
# Ends with one JSON line per scenario (ours against nmap -sT, and against RustScan).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}

need() { command -v "$2" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; }; }
need nmap nmap
need iptables iptables
command -v rustscan >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/rustscan" ] || cargo install rustscan --locked --quiet
rustscan=$(command -v rustscan || echo "$HOME/.cargo/bin/rustscan")
cargo build --release --quiet
bin=$PWD/target/release/rampart

ns=rampart-scan-$$
ip netns add "$ns"
cleanup() {
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" iptables -A INPUT -d 127.0.2.0/28 -j DROP

# The listeners: what every scan must find, and nothing else.
expected=$(mktemp)
cat >"$expected" <<'JSON'
{
  "S1": {"127.0.0.1": [22, 80, 443, 3306, 5432, 6379, 8080, 32768, 33001, 40000, 45678, 50000, 55555, 60000, 60999, 65535]},
  "S2": {"127.0.1.1": [22, 80, 443], "127.0.1.7": [3389, 8080], "127.0.1.42": [21, 25, 53, 110, 3306], "127.0.1.200": [5900], "127.0.1.255": [443]},
  "S3": {}
}
JSON
ip netns exec "$ns" python3 - "$expected" <<'PY' &
import json, socket, sys, time
wanted = json.load(open(sys.argv[1]))
sockets = []
for scenario in wanted.values():
    for host, ports in scenario.items():
        for port in ports:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(4096)
            sockets.append(s)
time.sleep(3600)
PY
sleep 1

ip netns exec "$ns" env EXPECTED="$expected" RUNS="$RUNS" BIN="$bin" RUSTSCAN="$rustscan" python3 - <<'PY'
import json, os, re, statistics, subprocess, time

expected = json.load(open(os.environ["EXPECTED"]))
runs = int(os.environ["RUNS"])
scenarios = {
    "S1": ("127.0.0.1", "1-65535"),
    "S2": ("127.0.1.0/24", "top-100"),
    "S3": ("127.0.2.0/28", "top-100"),
}
def rampart(target, ports):
    # --timeout-ms 300 matches nmap -T5's 300 ms round-trip ceiling.
    out = subprocess.run([os.environ["BIN"], "scan", "tcp", target, "-p", ports, "--timeout-ms", "300", "--json"],
                         env={**os.environ, "RAMPART_LISTEN": "127.255.255.254:1"}, capture_output=True, text=True, check=True).stdout
    found = {}
    for host in json.loads(out)["hosts"]:
        found[host["address"]] = sorted(p["port"] for p in host["open"])
    return found

def nmap(kind):
    def run(target, ports):
        portarg = ports if ports == "1-65535" else TOP100
        out = subprocess.run(["nmap", kind, "-T5", "--min-rate", "10000", "-n", "-Pn", "-p", portarg, "-oG", "-", target],
                             capture_output=True, text=True, check=True).stdout
        found = {}
        for line in out.splitlines():
            m = re.match(r"Host: (\S+) .*Ports: (.*)", line)
            if m:
                opened = sorted(int(p.split("/")[0]) for p in m.group(2).split(", ") if "/open/" in p)
                if opened:
                    found[m.group(1)] = opened
        return found
    return run

def rustscan(target, ports):
    args = [os.environ["RUSTSCAN"], "-a", target, "-g", "--ulimit", "65535", "-b", "10000", "-t", "300", "--scan-order", "serial"]
    args += ["-r", ports] if ports == "1-65535" else ["-p", TOP100]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"(\S+) -> \[(.*)\]", line.strip())
        if m and m.group(2):
            found[m.group(1)] = sorted(int(p) for p in m.group(2).split(","))
    return found

# rampart's own top-100 table, read back from a scan's summary would be circular: take it from the source.
src = open("crates/rampart-tools/src/tcp_scan/ports.rs").read() if os.path.exists("crates/rampart-tools/src/tcp_scan/ports.rs") else ""
m = re.search(r"TOP_100: \[u16; 100\] = \[(.*?)\];", src, re.S)
TOP100 = ",".join(re.findall(r"\d+", m.group(1))) if m else "top-100"

tools = {"rampart": rampart, "nmap -sT": nmap("-sT"), "rustscan": rustscan, "nmap -sS": nmap("-sS")}
results = {}
for name, (target, ports) in scenarios.items():
    want = expected[name]
    # S2's hosts outside the listeners must come back empty too; compare the non-empty maps.
    for tool, run in tools.items():
        run(target, ports)  # warm-up
        times, correct = [], []
        for _ in range(runs):
            start = time.perf_counter()
            found = run(target, ports)
            times.append(time.perf_counter() - start)
            correct.append(found == want)
        results[(name, tool)] = (min(times), statistics.median(times), all(correct), sum(correct))
        print(f"{name} {tool:<9} min {min(times):6.3f} s  median {statistics.median(times):6.3f} s  correct {sum(correct)}/{runs}", flush=True)

print()
print(f"{'scenario':<9}{'rampart':>10}{'nmap -sT':>10}{'rustscan':>10}{'nmap -sS':>10}   vs nmap -sT   vs rustscan")
for name in scenarios:
    med = {tool: results[(name, tool)][1] for tool in tools}
    print(f"{name:<9}{med['rampart']:>10.3f}{med['nmap -sT']:>10.3f}{med['rustscan']:>10.3f}{med['nmap -sS']:>10.3f}"
          f"   {med['nmap -sT']/med['rampart']:>9.2f}x   {med['rustscan']/med['rampart']:>9.2f}x")
print()
for name in scenarios:
    ours = results[(name, "rampart")]
    for peer in ("nmap -sT", "rustscan"):
        theirs = results[(name, peer)]
        print(json.dumps({"bench": f"scan_{name}_vs_{peer.replace(' ', '').replace('-', '_')}", "ours": round(ours[1], 4),
                          "peer": round(theirs[1], 4), "unit": "s (median)", "ratio": round(theirs[1] / ours[1], 3),
                          "correct": ours[2], "peer_correct": theirs[2]}))
PY
