#!/usr/bin/env bash
# HTTP benchmark: requests/s and p99 latency of /api/v1/health/live (no I/O) and of
# /api/v1/health/ready (one database round trip), on SQLite and on PostgreSQL, beside nginx
# answering the same JSON from its config (the ceiling of this machine for a trivial endpoint).
# Also: idle memory (RSS) of `serve`, and the time from start to a ready answer on SQLite.
#
# Installs wrk, nginx and PostgreSQL from Debian's packages when missing (run as root).
# Traffic stays on 127.0.0.1. Knobs: DURATION (seconds per run, default 10), CONNECTIONS (64).
# Ends with one JSON line per scenario.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}

need() { # package, command
    command -v "$2" >/dev/null 2>&1 && return
    echo "installing $1 from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
need wrk wrk
need nginx nginx
pg_bin=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)")
if [ ! -x "$pg_bin/initdb" ]; then need postgresql psql; pg_bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)"); fi

cargo build --release --quiet
bin=$PWD/target/release/rampart

work=$(mktemp -d /tmp/rampart-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/pg/data/postmaster.pid" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# wait_ok URL: polls every 5 ms until 200, prints the milliseconds it took.
wait_ok() {
    local start; start=$(now_ms)
    for _ in $(seq 1 2000); do
        if curl -fs -o /dev/null "$1"; then echo $(( $(now_ms) - start )); return; fi
        sleep 0.005
    done
    echo "no answer from $1" >&2; exit 1
}

# load URL -> "rps p99_ms ok" ; ok=1 when every response was 2xx and no socket failed
load() {
    local out rps p99 non2xx errors
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errors=$(awk '/Socket errors/ {print $0}' <<<"$out")
    if [ -z "$non2xx" ] && [ -z "$errors" ]; then echo "$rps $p99 1"; else echo "$rps $p99 0"; fi
}

# start_rampart NAME [ENV...]: starts serve; sets PORT, PID and READY_MS (start to first ready answer)
start_rampart() {
    local name=$1; shift
    PORT=$(free_port)
    mkdir -p "$work/$name"
    (cd "$work/$name" && exec env RAMPART_LISTEN="127.0.0.1:$PORT" "$@" "$bin" serve >"$work/$name/serve.log" 2>&1) &
    PID=$!
    pids+=("$PID")
    READY_MS=$(wait_ok "http://127.0.0.1:$PORT/api/v1/health/ready")
}

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

results=()
emit() { results+=("$1"); }

# ---- nginx, the baseline ----
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_ok "http://127.0.0.1:$nginx_port/" >/dev/null
read -r peer_rps peer_p99 peer_ok < <(load "http://127.0.0.1:$nginx_port/")
printf '%-28s %12s req/s   p99 %8s ms\n' "nginx (baseline) static 200" "$peer_rps" "$peer_p99"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(round(a/b,3) if b else 'null')" "$1" "$2"; }
as_bool() { [ "$1" = 1 ] && echo true || echo false; }

# ---- SQLite ----
start_rampart sqlite
sqlite_pid=$PID
sleep 1
idle_rss=$(rss_mb "$PID")
printf '%-28s %12s ms\n' "sqlite: ready after start" "$READY_MS"
printf '%-28s %12s MB\n' "sqlite: idle RSS" "$idle_rss"
emit "{\"bench\": \"serve_ready_after_start_sqlite\", \"ours\": $READY_MS, \"peer\": null, \"unit\": \"ms\", \"ratio\": null, \"correct\": true}"
emit "{\"bench\": \"serve_idle_rss_sqlite\", \"ours\": $idle_rss, \"peer\": null, \"unit\": \"MB\", \"ratio\": null, \"correct\": true}"

run_scenarios() { # backend port
    local backend=$1 port=$2 rps p99 ok
    read -r rps p99 ok < <(load "http://127.0.0.1:$port/api/v1/health/live")
    printf '%-28s %12s req/s   p99 %8s ms\n' "$backend: /health/live" "$rps" "$p99"
    emit "{\"bench\": \"http_live_${backend}_rps\", \"ours\": $rps, \"peer\": $peer_rps, \"unit\": \"req/s\", \"ratio\": $(ratio "$rps" "$peer_rps"), \"correct\": $(as_bool "$ok")}"
    emit "{\"bench\": \"http_live_${backend}_p99\", \"ours\": $p99, \"peer\": $peer_p99, \"unit\": \"ms\", \"ratio\": $(ratio "$p99" "$peer_p99"), \"correct\": $(as_bool "$ok")}"
    read -r rps p99 ok < <(load "http://127.0.0.1:$port/api/v1/health/ready")
    printf '%-28s %12s req/s   p99 %8s ms\n' "$backend: /health/ready (db)" "$rps" "$p99"
    emit "{\"bench\": \"http_ready_db_${backend}_rps\", \"ours\": $rps, \"peer\": null, \"unit\": \"req/s\", \"ratio\": null, \"correct\": $(as_bool "$ok")}"
    emit "{\"bench\": \"http_ready_db_${backend}_p99\", \"ours\": $p99, \"peer\": null, \"unit\": \"ms\", \"ratio\": null, \"correct\": $(as_bool "$ok")}"
}
run_scenarios sqlite "$PORT"
printf '%-28s %12s MB\n' "sqlite: RSS after load" "$(rss_mb "$sqlite_pid")"
kill "$sqlite_pid"

# ---- PostgreSQL: a throw-away cluster ----
pg_port=$(free_port)
mkdir -p "$work/pg" && chown postgres: "$work/pg"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" -A trust -U postgres -N >/dev/null
printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = 200\n" "$pg_port" "$work/pg" >>"$work/pg/data/postgresql.conf"
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w start >/dev/null
start_rampart postgres RAMPART_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
run_scenarios postgres "$PORT"

echo
printf '%s\n' "${results[@]}"
