#!/usr/bin/env bash
# Job queue benchmark: jobs/s for COUNT no-op executions end to end, from the first enqueue to the
# moment none is queued or running, all through the HTTP API (POST /api/v1/executions with a
# bearer token, eight keep-alive clients): on SQLite with the in-process workers of `rampart
# serve`, and on PostgreSQL behind `serve --no-workers` with 1 and with 3 `rampart worker`
# processes. The engine runs with its defaults (4 runs at once per process, 8 per organisation).
#
# Installs PostgreSQL from Debian's packages when missing (run as root). Traffic stays on
# 127.0.0.1. Knobs: COUNT (executions per scenario, default 10000), TIMEOUT (seconds to wait for
# them, default 900). Ends with one JSON line per scenario; correct means all COUNT succeeded.
source "$(dirname "$0")/lib.sh"

COUNT=${COUNT:-10000}
TIMEOUT=${TIMEOUT:-900}
password="correct horse battery staple 42"

cat >"$work/drive.py" <<'PY'
# Enqueues COUNT no-op runs, waits until none is queued or running, counts the succeeded ones.
# Prints: jobs/s end to end, enqueues/s, how many succeeded, 1 when all COUNT succeeded else 0.
import http.client, json, sys, threading, time

port, token, count, timeout = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
body = json.dumps({"tool": "noop", "params": {}})
CLIENTS = 8
refused = []

def call(conn, method, path, payload=None):
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()

def enqueue(n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        status, _ = call(conn, "POST", "/api/v1/executions", body)
        if status != 202:
            refused.append(status)

start = time.perf_counter()
shares = [count // CLIENTS + (1 if i < count % CLIENTS else 0) for i in range(CLIENTS)]
clients = [threading.Thread(target=enqueue, args=(n,)) for n in shares]
for client in clients:
    client.start()
for client in clients:
    client.join()
enqueued = time.perf_counter()

conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def none_in(status):
    code, data = call(conn, "GET", f"/api/v1/executions?status={status}&limit=1")
    return code == 200 and json.loads(data)["items"] == []
finished = True
while not (none_in("queued") and none_in("running")):
    if time.perf_counter() - start > timeout:
        finished = False
        break
    time.sleep(0.02)
done = time.perf_counter()

succeeded, cursor = 0, None
while True:
    path = "/api/v1/executions?status=succeeded&limit=500" + (f"&cursor={cursor}" if cursor else "")
    code, data = call(conn, "GET", path)
    page = json.loads(data)
    succeeded += len(page["items"])
    cursor = page.get("next_cursor")
    if not cursor:
        break
if refused:
    print(f"{len(refused)} enqueues refused, statuses {sorted(set(refused))}", file=sys.stderr)
ok = int(finished and not refused and succeeded == count)
print(round(count / (done - start), 1), round(count / (enqueued - start), 1), succeeded, ok)
PY

# register PORT: a new user with a personal organisation; prints an access token
register() {
    curl -fs -H 'content-type: application/json' \
        -d "{\"email\": \"bench@example.com\", \"username\": \"bench\", \"password\": \"$password\"}" \
        "http://127.0.0.1:$1/api/v1/auth/register" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["tokens"]["access_token"])'
}

# start_worker NAME URL: a `rampart worker` on URL; waits until it says it started
start_worker() {
    local log="$work/$1.log"
    mkdir -p "$work/$1"
    (cd "$work/$1" && exec env RAMPART_DATABASE_URL="$2" RAMPART_LOG_FORMAT=json "$bin" worker >"$log" 2>&1) &
    pids+=($!)
    scenario_pids+=($!)
    for _ in $(seq 1 1000); do
        grep -q '"worker started"' "$log" 2>/dev/null && return
        sleep 0.01
    done
    echo "worker $1 did not start; its log:" >&2; cat "$log" >&2; exit 1
}

# scenario NAME PORT: enqueues COUNT runs on the server at PORT, prints and records jobs/s
scenario() {
    local name=$1 port=$2 token rate enqueue_rate succeeded ok
    token=$(register "$port")
    read -r rate enqueue_rate succeeded ok < <(python3 "$work/drive.py" "$port" "$token" "$COUNT" "$TIMEOUT")
    printf '%-34s %10s jobs/s   (enqueued at %s/s; %s of %s succeeded)\n' \
        "$name" "$rate" "$enqueue_rate" "$succeeded" "$COUNT"
    emit "queue_noop_${name}_jobs_per_s" "$rate" null "jobs/s" "$ok"
}

stop_scenario() {
    for pid in "${scenario_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${scenario_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    scenario_pids=()
}

limits=(RAMPART_AUTH__ATTEMPTS_PER_MINUTE=1000000 RAMPART_LOG_FORMAT=json)

scenario_pids=()
start_rampart sqlite "${limits[@]}"
scenario_pids+=("$PID")
scenario sqlite_in_process "$PORT"
stop_scenario

for n_workers in 1 3; do
    start_postgres
    SERVE_FLAGS=--no-workers start_rampart "pg$n_workers" RAMPART_DATABASE_URL="$PG_URL" "${limits[@]}"
    scenario_pids+=("$PID")
    for index in $(seq 1 "$n_workers"); do
        start_worker "pg$n_workers-worker$index" "$PG_URL"
    done
    label="postgres_${n_workers}_worker"; [ "$n_workers" -gt 1 ] && label+=s
    scenario "$label" "$PORT"
    stop_scenario
done

print_results
