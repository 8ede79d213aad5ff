#!/usr/bin/env bash
# HTTP benchmark: requests/s and p99 latency of /api/v1/health/live (no I/O) and of
# /api/v1/health/ready (one database round trip), on SQLite and on PostgreSQL, beside nginx
# answering the same JSON from its config (the ceiling of this machine for a trivial endpoint).
# Also: idle memory (RSS) of `serve`, and the time from start to a ready answer on SQLite.
#
# Installs wrk, nginx and PostgreSQL from Debian's packages when missing (run as root).
# Traffic stays on 127.0.0.1. Knobs: DURATION (seconds per run, default 10), CONNECTIONS (64).
# Ends with one JSON line per scenario.
source "$(dirname "$0")/lib.sh"
need wrk wrk

start_nginx
read -r peer_rps peer_p99 _ < <(load "http://127.0.0.1:$NGINX_PORT/")
printf '%-30s %12s req/s   p99 %8s ms\n' "nginx (baseline) static 200" "$peer_rps" "$peer_p99"
kill "${pids[-1]}"

scenarios() { # backend port
    local backend=$1 port=$2 rps p99 ok
    read -r rps p99 ok < <(load "http://127.0.0.1:$port/api/v1/health/live")
    printf '%-30s %12s req/s   p99 %8s ms\n' "$backend: /health/live" "$rps" "$p99"
    emit "http_live_${backend}_rps" "$rps" "$peer_rps" "req/s" "$ok"
    emit "http_live_${backend}_p99" "$p99" "$peer_p99" "ms" "$ok"
    read -r rps p99 ok < <(load "http://127.0.0.1:$port/api/v1/health/ready")
    printf '%-30s %12s req/s   p99 %8s ms\n' "$backend: /health/ready (database)" "$rps" "$p99"
    emit "http_ready_db_${backend}_rps" "$rps" null "req/s" "$ok"
    emit "http_ready_db_${backend}_p99" "$p99" null "ms" "$ok"
}

start_rampart sqlite
sleep 1
idle_rss=$(rss_mb "$PID")
printf '%-30s %12s ms\n' "sqlite: ready after start" "$READY_MS"
printf '%-30s %12s MB\n' "sqlite: idle RSS" "$idle_rss"
emit serve_ready_after_start_sqlite "$READY_MS" null ms 1
emit serve_idle_rss_sqlite "$idle_rss" null MB 1
scenarios sqlite "$PORT"
printf '%-30s %12s MB\n' "sqlite: RSS after load" "$(rss_mb "$PID")"
kill "$PID"

start_postgres
start_rampart postgres RAMPART_DATABASE_URL="$PG_URL"
scenarios postgres "$PORT"

print_results
