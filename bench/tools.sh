#!/usr/bin/env bash
# Recon tools benchmark: the throughput of `rampart scan http|dns|tls|secrets` beside a peer
# installed from a registry, each side doing the same work on servers this script starts inside
# a private network namespace it creates (the host's loopback has listeners that are not ours).
#
#   http     1,000 URLs on nginx at 127.0.80.1-8:8080 (125 each; every 10th page missing: 404).
#            ours: `rampart scan http URL… --no-favicon --concurrency 64 --per-host 8` (the
#            per-host politeness limit, default 4, set to 8: 8 hosts × 8 = the 64 in flight);
#            peer: an httpx + asyncio script (PyPI), 64 requests in flight on one client with 64
#            keep-alive connections. Both GET each URL, read the body for its title and keep
#            status, title, Server and X-Frame-Options, which are checked for every URL.
#   dns      10,000 names (9,500 in NSD's zone, 500 absent: NXDOMAIN) against NSD (Debian; one
#            server process, response rate limiting off, which would drop most of a burst) at
#            127.0.53.1:53. ours: `rampart scan dns NAME… --resolver 127.0.53.1 --type A
#            --no-zone-transfer --concurrency 128`, which asks A, and SOA and CNAME as it always
#            does (a zone's apex, dangling aliases), 128 questions in flight (the fastest of 64,
#            128 and 256 here);
#            peer: `dig` (Debian; massdns is not packaged) asking the same three questions per
#            name, the names split into DIG_PARALLEL (8: the fastest of 4, 8, 16 and 32 on two
#            cores) batch files, one `dig -f` each, all at once. Every name's address (or
#            absence) is checked.
#   tls      200 endpoints: nginx on 127.0.43.1-2, ports 10000-10099, in four groups of 50 with
#            their own certificate (openssl, RSA 2048, CN=tls<k>.bench.test) and versions: 1.2+1.3,
#            1.3 only, 1.2 only, 1.0-1.3. ours: `rampart scan tls HOST:PORT… --concurrency 64`
#            (chain, trust, names, and one handshake per version 1.0-1.3); peer: sslyze (PyPI)
#            with --certinfo --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 only (sslyze tells a version
#            accepted by trying each of its cipher suites). Every endpoint's versions and
#            certificate subject are checked.
#   secrets  a repository of 10,000 commits made with `git fast-import`: each commit adds one new
#            file; 104 AWS access key ids and 47 private key blocks are planted, and 30 of the 151
#            files holding one are deleted 50 commits later. ours: `rampart scan secrets REPO`
#            walks the whole history; peer: `detect-secrets scan --all-files` (PyPI, its default
#            plugins) over a directory holding every file the history ever added (written by the
#            generator, not timed): the same blobs, without history to walk. Ours must report
#            exactly the planted secrets (path, line, and the commit that added it); the peer
#            exactly their paths and lines.
#
# A warm-up and RUNS (default 3) timed runs per side and scenario, process start included, the
# two sides taken in turn; a run is timed until its output is read, which is parsed and checked
# after the clock stops. The median is reported, and a run whose results differ from what was
# set up is not correct.
# SCENARIOS selects some ("http dns tls secrets" by default). Installs nginx, NSD and dig
# (Debian) and httpx, sslyze and detect-secrets (PyPI, in a virtualenv under
# ${XDG_CACHE_HOME:-~/.cache}/rampart-bench) when missing. Run as root.
# Ends with one JSON line per scenario; ours and peer in items per second, ratio = ours / peer.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-http dns tls secrets}
DIG_PARALLEL=${DIG_PARALLEL:-8}

need() { command -v "$2" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; }; }
need nginx nginx
need nsd nsd
need bind9-dnsutils dig
need openssl openssl
need git git
cache=${XDG_CACHE_HOME:-$HOME/.cache}/rampart-bench
if [ ! -x "$cache/venv/bin/sslyze" ] || [ ! -x "$cache/venv/bin/detect-secrets" ] || ! "$cache/venv/bin/python" -c 'import httpx' 2>/dev/null; then
    mkdir -p "$cache"
    python3 -m venv "$cache/venv"
    "$cache/venv/bin/pip" install --quiet httpx sslyze detect-secrets
fi
cargo build --release --quiet -p rampart
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/rampart

work=$(mktemp -d /tmp/rampart-tools-bench.XXXXXX)
chmod 755 "$work"
ns=rampart-tools-$$
ip netns add "$ns"
cleanup() {
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns exec "$ns" ip link set lo up

ip netns exec "$ns" env BIN="$bin" WORK="$work" VENV="$cache/venv" RUNS="$RUNS" SCENARIOS="$SCENARIOS" \
    DIG_PARALLEL="$DIG_PARALLEL" RAMPART_LISTEN=127.255.255.254:1 "$cache/venv/bin/python" - <<'PY'
import json, os, random, re, statistics, subprocess, sys, time

BIN, WORK, VENV = os.environ["BIN"], os.environ["WORK"], os.environ["VENV"]
RUNS = int(os.environ["RUNS"])
SCENARIOS = os.environ["SCENARIOS"].split()
PY = f"{VENV}/bin/python"
rng = random.Random(13)
servers = []

def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kw).stdout

def parsed(check):
    """`check` of a run's output read as JSON: parsing is the checker's work, not the run's."""
    return lambda out: check(json.loads(out or "{}"))

def timed(ours, ours_check, peer, peer_check):
    """A warm-up of each side, then RUNS timed runs of each, taken in turn (ours, the peer's, ours…)
    so that a machine busier at one moment than the next weighs on both alike: per side, the
    median seconds and why its first wrong run was wrong (None when none was)."""
    sides = [(ours, ours_check), (peer, peer_check)]
    for run, _ in sides:
        run()
    times, wrong = [[], []], [None, None]
    for _ in range(RUNS):
        for side, (run, check) in enumerate(sides):
            start = time.perf_counter()
            out = run()
            times[side].append(time.perf_counter() - start)
            reason = check(out)
            if reason and wrong[side] is None:
                wrong[side] = reason
    return statistics.median(times[0]), wrong[0], statistics.median(times[1]), wrong[1]

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def server_cpu(pids, run):
    """The CPU seconds the servers spent during one more run of `run`, and its wall time."""
    before = sum(cpu_seconds(pid) for pid in pids)
    start = time.perf_counter()
    run()
    return sum(cpu_seconds(pid) for pid in pids) - before, time.perf_counter() - start

def server_pids(master):
    """A server's first process and all its descendants (nginx's workers, NSD's servers)."""
    pids, index = [master.pid], 0
    while index < len(pids):
        children = subprocess.run(["pgrep", "-P", str(pids[index])], capture_output=True, text=True).stdout
        pids.extend(int(pid) for pid in children.split())
        index += 1
    return pids

def start_nginx(name, servers_conf):
    root = f"{WORK}/{name}"
    os.makedirs(root, exist_ok=True)
    with open(f"{root}/nginx.conf", "w") as f:
        f.write(f"""worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
{servers_conf}
}}
""")
    process = subprocess.Popen(["nginx", "-c", f"{root}/nginx.conf", "-p", root])
    servers.append(process)
    return process

def wait_port(host, port):
    import socket
    for _ in range(2000):
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.005)
    sys.exit(f"no listener on {host}:{port}")

results = []
def report(bench, unit, items, ours, peer, ours_wrong, peer_wrong, note=""):
    ours_rate, peer_rate = items / ours, items / peer
    print(f"{bench:<14} ours {ours_rate:10.1f} {unit}  peer {peer_rate:10.1f} {unit}  ratio {ours_rate / peer_rate:6.2f}"
          f"  ours {'correct' if not ours_wrong else 'WRONG: ' + ours_wrong}  peer {'correct' if not peer_wrong else 'WRONG: ' + peer_wrong}"
          + (f"\n{'':<14} {note}" if note else ""), flush=True)
    results.append({"bench": bench, "ours": round(ours_rate, 1), "peer": round(peer_rate, 1), "unit": unit,
                    "ratio": round(ours_rate / peer_rate, 3), "correct": not ours_wrong and not peer_wrong})

def first_difference(want, got):
    for key in sorted(set(want) | set(got), key=str):
        if want.get(key) != got.get(key):
            return f"{key}: expected {want.get(key)!r}, got {got.get(key)!r}"
    return None

# ---------------------------------------------------------------------------------------- http
def bench_http():
    hosts = [f"127.0.80.{k}" for k in range(1, 9)]
    conf, expected = [], {}
    for k, host in enumerate(hosts):
        root = f"{WORK}/www/{k}"
        os.makedirs(root)
        frame = "DENY" if k % 2 else "SAMEORIGIN"
        conf.append(f"    server {{ listen {host}:8080; root {root}; add_header X-Frame-Options {frame} always; }}")
        for i in range(125):
            url = f"http://{host}:8080/p{i}.html"
            if i % 10 == 9:
                expected[url] = (404, "404 Not Found", "nginx", frame)
                continue
            title = f"Page {i} of host {k}"
            with open(f"{root}/p{i}.html", "w") as f:
                f.write(f"<!doctype html><html><head><title>{title}</title></head><body>"
                        + f"<p>content of page {i} on host {k}</p>" * 20 + "</body></html>")
            expected[url] = (200, title, "nginx", frame)
    nginx = start_nginx("nginx-http", "\n".join(conf) + "\n    server_tokens off;")
    for host in hosts:
        wait_port(host, 8080)
    urls = list(expected)
    rng.shuffle(urls)

    def ours():
        return sh([BIN, "scan", "http", *urls, "--json", "--no-favicon", "--concurrency", "64", "--per-host", "8"])
    def ours_check(out):
        got = {r["url"]: (r["status"], r["title"], r["server"], (r.get("security_headers") or {}).get("x_frame_options"))
               for r in out["results"]}
        return first_difference(expected, got)
    peer_script = f"{WORK}/httpx_probe.py"
    with open(peer_script, "w") as f:
        f.write('''import asyncio, json, re, sys
import httpx
TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
async def main(urls):
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    gate = asyncio.Semaphore(64)
    async with httpx.AsyncClient(limits=limits, timeout=10, follow_redirects=True) as client:
        async def one(url):
            async with gate:
                response = await client.get(url)
                found = TITLE.search(response.text)
                title = " ".join(found.group(1).split()) if found else None
                return url, [response.status_code, title, response.headers.get("server"), response.headers.get("x-frame-options")]
        print(json.dumps(dict(await asyncio.gather(*(one(url) for url in urls)))))
asyncio.run(main(sys.argv[1:]))
''')
    def peer():
        return sh([PY, peer_script, *urls])
    def peer_check(out):
        return first_difference(expected, {url: tuple(value) for url, value in out.items()})

    ours_s, ours_wrong, peer_s, peer_wrong = timed(ours, parsed(ours_check), peer, parsed(peer_check))
    cpu, wall = server_cpu(server_pids(nginx), ours)
    report("http_probe", "URLs/s", len(urls), ours_s, peer_s, ours_wrong, peer_wrong,
           f"nginx used {cpu:.2f} CPU s over our {wall:.2f} s run")
    nginx.terminate()

# ----------------------------------------------------------------------------------------- dns
def bench_dns():
    names, expected = [], {}
    with open(f"{WORK}/bench.test.zone", "w") as f:
        f.write("$ORIGIN bench.test.\n$TTL 300\n@ IN SOA ns.bench.test. admin.bench.test. 1 3600 600 86400 300\n"
                "@ IN NS ns.bench.test.\nns IN A 127.0.53.1\n")
        for i in range(10_000):
            name = f"h{i}.bench.test"
            names.append(name)
            if i < 9_500:
                address = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
                f.write(f"h{i} IN A {address}\n")
                expected[name] = address
            else:
                expected[name] = None
    rng.shuffle(names)
    # NSD with response rate limiting off: it would drop most of a burst from one client.
    with open(f"{WORK}/nsd.conf", "w") as f:
        f.write(f"""server:
  ip-address: 127.0.53.1
  port: 53
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{WORK}"
  database: ""
  pidfile: "{WORK}/nsd.pid"
  xfrdfile: "{WORK}/xfrd.state"
  zonelistfile: "{WORK}/zone.list"
  logfile: "{WORK}/nsd.log"
  verbosity: 0
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "bench.test"
  zonefile: "bench.test.zone"
""")
    server = subprocess.Popen(["nsd", "-d", "-c", f"{WORK}/nsd.conf"])
    servers.append(server)
    for _ in range(2000):
        if subprocess.run(["dig", "@127.0.53.1", "+short", "+tries=1", "+time=1", "h0.bench.test"], capture_output=True, text=True).stdout.strip():
            break
        time.sleep(0.01)

    def ours():
        return sh([BIN, "scan", "dns", *names, "--resolver", "127.0.53.1", "--type", "A",
                   "--no-zone-transfer", "--concurrency", "128", "--json"])
    def ours_check(out):
        got = {}
        for name in out["names"]:
            addresses = [r["value"] for r in name["records"] if r["type"] == "A"]
            if name["status"] == "NXDOMAIN" and not addresses:
                got[name["name"]] = None
            else:
                got[name["name"]] = addresses[0] if len(addresses) == 1 else (name["status"], addresses)
        return first_difference(expected, got)
    parallel = int(os.environ["DIG_PARALLEL"])
    batches = [names[i::parallel] for i in range(parallel)]
    for index, batch in enumerate(batches):
        with open(f"{WORK}/dig-{index}", "w") as f:
            for name in batch:
                f.write(f"{name} A\n{name} SOA\n{name} CNAME\n")
    def peer():
        processes = [subprocess.Popen(["dig", "@127.0.53.1", "+noall", "+answer", "+tries=3", "+time=1", "-f", f"{WORK}/dig-{index}"],
                                      stdout=subprocess.PIPE, text=True) for index in range(parallel)]
        return "".join(process.communicate()[0] for process in processes)
    def peer_check(out):
        got = {name: None for name in names}
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 5 and fields[3] == "A":
                got[fields[0].rstrip(".")] = fields[4]
        return first_difference(expected, got)

    ours_s, ours_wrong, peer_s, peer_wrong = timed(ours, parsed(ours_check), peer, peer_check)
    cpu, wall = server_cpu(server_pids(server), ours)
    report("dns_lookup", "names/s", len(names), ours_s, peer_s, ours_wrong, peer_wrong,
           f"NSD used {cpu:.2f} CPU s over our {wall:.2f} s run (30,000 questions)")
    server.terminate()

# ----------------------------------------------------------------------------------------- tls
def bench_tls():
    groups = [("TLSv1.2 TLSv1.3", {"1.2", "1.3"}), ("TLSv1.3", {"1.3"}), ("TLSv1.2", {"1.2"}),
              ("TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", {"1.0", "1.1", "1.2", "1.3"})]
    listens = {k: [] for k in range(4)}
    expected, targets = {}, []
    for index in range(200):
        host, port, k = f"127.0.43.{1 + index // 100}", 10000 + index % 100, index % 4
        target = f"{host}:{port}"
        listens[k].append(f"listen {target} ssl;")
        targets.append(target)
        expected[target] = (f"CN=tls{k}.bench.test", sorted(groups[k][1]))
    conf = []
    for k, (protocols, _) in enumerate(groups):
        sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", f"/CN=tls{k}.bench.test",
            "-keyout", f"{WORK}/tls{k}.key", "-out", f"{WORK}/tls{k}.crt"])
        conf.append(f"""    server {{ {' '.join(listens[k])}
        ssl_certificate {WORK}/tls{k}.crt; ssl_certificate_key {WORK}/tls{k}.key;
        ssl_protocols {protocols}; ssl_ciphers DEFAULT:@SECLEVEL=0; return 200; }}""")
    nginx = start_nginx("nginx-tls", "\n".join(conf))
    for target in targets:
        host, port = target.split(":")
        wait_port(host, int(port))

    def ours():
        return sh([BIN, "scan", "tls", *targets, "--concurrency", "64", "--json"])
    names = {"tls1_0": "1.0", "tls1_1": "1.1", "tls1_2": "1.2", "tls1_3": "1.3"}
    def ours_check(out):
        got = {}
        for r in out["results"]:
            leaf = r["certificates"][0]["subject"] if r["certificates"] else None
            got[r["target"]] = (leaf, sorted(name for key, name in names.items() if r["versions"][key]))
        return first_difference(expected, got)
    def peer():
        report_file = f"{WORK}/sslyze.json"
        sh([f"{VENV}/bin/sslyze", "--quiet", "--mozilla_config", "disable", "--certinfo", "--tlsv1", "--tlsv1_1",
            "--tlsv1_2", "--tlsv1_3", f"--json_out={report_file}", *targets])
        with open(report_file) as f:
            return f.read()
    keys = {"tls_1_0_cipher_suites": "1.0", "tls_1_1_cipher_suites": "1.1", "tls_1_2_cipher_suites": "1.2",
            "tls_1_3_cipher_suites": "1.3"}
    def peer_check(out):
        got = {}
        for server in out["server_scan_results"]:
            location = server["server_location"]
            target = f"{location['ip_address']}:{location['port']}"
            scan = server.get("scan_result") or {}
            try:
                deployment = scan["certificate_info"]["result"]["certificate_deployments"][0]
                leaf = deployment["received_certificate_chain"][0]["subject"]["rfc4514_string"]
            except (KeyError, IndexError, TypeError):
                leaf = None
            accepted = sorted(name for key, name in keys.items()
                              if ((scan.get(key) or {}).get("result") or {}).get("accepted_cipher_suites"))
            got[target] = (leaf, accepted)
        return first_difference(expected, got)

    ours_s, ours_wrong, peer_s, peer_wrong = timed(ours, parsed(ours_check), peer, parsed(peer_check))
    cpu, wall = server_cpu(server_pids(nginx), ours)
    report("tls_inspect", "endpoints/s", len(targets), ours_s, peer_s, ours_wrong, peer_wrong,
           f"nginx used {cpu:.2f} CPU s over our {wall:.2f} s run")
    nginx.terminate()

# ------------------------------------------------------------------------------------- secrets
def secret_findings(out):
    """What `rampart scan secrets --json` found, as a set of (path, line, commit); the one place
    its JSON is read: the result's `secrets`, each with its `rule`, `path`, `line` and `commit`."""
    return {(secret.get("path"), secret.get("line"), secret.get("commit")) for secret in out.get("secrets") or []}

def bench_secrets():
    import base64, string
    if subprocess.run([BIN, "scan", "secrets", "--help"], capture_output=True).returncode != 0:
        print("secret_scan    skipped: this build has no `rampart scan secrets`", flush=True)
        return
    repo, tree = f"{WORK}/repo", f"{WORK}/history-files"
    upper = string.ascii_uppercase + "234567"
    planted, deletions, stream = {}, {}, []  # (path, line) -> commit index; commit index -> paths it deletes
    for i in range(10_000):
        path = f"src/m{i // 100}/f{i}.py"
        lines = [f"def handler_{i}(value):", f"    # step {i % 7} of the pipeline", f"    return value + {i % 13}"]
        if i % 97 == 5:
            lines[2:2] = [f"    region = 'us-east-{1 + i % 2}'", "    key_id = 'AKIA" + "".join(rng.choice(upper) for _ in range(16)) + "'"]
            planted[(path, 4)] = i
        elif i % 211 == 17:
            body = base64.b64encode(rng.randbytes(48 * 12)).decode()
            lines[1:1] = ["    pem = \"\"\"", "-----BEGIN RSA PRIVATE KEY-----",
                          *[body[j:j + 64] for j in range(0, len(body), 64)], "-----END RSA PRIVATE KEY-----", "\"\"\""]
            planted[(path, 3)] = i
        if i in (planted.get((path, 3)), planted.get((path, 4))) and len(planted) % 5 == 0:
            deletions.setdefault(min(i + 50, 9_999), []).append(path)
        content = ("\n".join(lines) + "\n").encode()
        os.makedirs(os.path.dirname(f"{tree}/{path}"), exist_ok=True)
        with open(f"{tree}/{path}", "wb") as f:
            f.write(content)
        message = f"add handler {i}\n".encode()
        stream.append(b"commit refs/heads/main\nmark :%d\ncommitter Bench <bench@bench.test> %d +0000\ndata %d\n%s"
                      % (i + 1, 1_700_000_000 + i * 60, len(message), message))
        stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(content), content))
        for gone in deletions.get(i, []):
            stream.append(b"D %s\n" % gone.encode())
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    subprocess.run(["git", "-C", repo, "fast-import", "--quiet", f"--export-marks={WORK}/marks"], input=b"".join(stream), check=True)
    subprocess.run(["git", "-C", repo, "reset", "-q", "--hard"], check=True)
    marks = dict(line.split() for line in open(f"{WORK}/marks"))
    expected = {(path, line, marks[f":{i + 1}"]) for (path, line), i in planted.items()}
    print(f"secrets: {len(planted)} planted in 10,000 commits, "
          f"{sum(len(paths) for paths in deletions.values())} of their files deleted later", flush=True)

    def set_difference(want, got):
        missing, extra = sorted(want - got, key=str), sorted(got - want, key=str)
        if missing or extra:
            return f"{len(missing)} missing (first {missing[:1]}), {len(extra)} extra (first {extra[:1]})"
        return None
    def ours():
        return subprocess.run([BIN, "scan", "secrets", repo, "--json"], capture_output=True, text=True).stdout
    def ours_check(out):
        got = secret_findings(out)
        if got and all(commit is None for _, _, commit in got):
            return set_difference({(p, l) for p, l, _ in expected}, {(p, l) for p, l, _ in got})
        return set_difference(expected, got)
    def peer():
        return sh([f"{VENV}/bin/detect-secrets", "scan", "--all-files", "."], cwd=tree)
    def peer_check(out):
        got = {(path, finding["line_number"]) for path, found in out["results"].items() for finding in found}
        return set_difference({(p, l) for p, l, _ in expected}, got)

    ours_s, ours_wrong, peer_s, peer_wrong = timed(ours, parsed(ours_check), peer, parsed(peer_check))
    report("secret_scan", "commits/s", 10_000, ours_s, peer_s, ours_wrong, peer_wrong)

def main():
    for name in SCENARIOS:
        {"http": bench_http, "dns": bench_dns, "tls": bench_tls, "secrets": bench_secrets}[name]()
    print()
    for line in results:
        print(json.dumps(line))

try:
    main()
finally:
    for process in servers:
        process.terminate()
PY
