#!/usr/bin/env bash
# Ingestion benchmark, on SQLite and on PostgreSQL: events/s and p99 of POST /api/v1/ingest/events
# with a node key, one event per request and batches of 100 — each answer sent only once its
# events are committed with their scores, alerts, attacker profiles and counters. Beside it, nginx
# answering the same POSTs with a static 200 (the ceiling of this machine for an HTTP exchange).
# Events come from 1,000 sources (single) and 100 per batch, one in ten touching a decoy, so
# alerts and profiles are written too. After each run the stored events are counted against the
# 2xx answers.
#
# Single events come from CONNECTIONS sensors (default 64) at once; batches from BATCH_CONNECTIONS
# (default 16: 1,600 events in flight — by Little's law a batch's latency is the events in flight
# over the rate, so 64 batch posters at once would hold 6,400 events in the queue whatever the
# server).
#
# Installs wrk, nginx and PostgreSQL (Debian) when missing. Traffic stays on 127.0.0.1.
# Knobs: DURATION, CONNECTIONS, BATCH_CONNECTIONS. Ends with one JSON line per scenario.
# Targets on a 2-core machine: >= 5,000 single events/s and >= 50,000 events/s in batches on
# SQLite, p99 under 50 ms.
source "$(dirname "$0")/lib.sh"
need wrk wrk
BATCH_CONNECTIONS=${BATCH_CONNECTIONS:-16}

password="correct horse battery staple 42"

# single.lua / batch.lua: POST bodies prepared once per thread; wrk counts responses by status.
cat >"$work/single.lua" <<'LUA'
local bodies = {}
for i = 1, 1000 do
    local ip = string.format("198.51.%d.%d", i % 250, (i * 7) % 250)
    if i % 10 == 0 then
        bodies[i] = string.format('{"kind":"decoy","decoy_name":"keys-%d.txt","source_ip":"%s"}', i % 5, ip)
    else
        bodies[i] = string.format('{"kind":"honeypot","source_ip":"%s","source_port":51234,"destination_port":22,"service":"ssh","activity":"login_attempt","usernames":["root"],"passwords":["123456"]}', ip)
    end
end
local n = 0
request = function()
    n = n % 1000 + 1
    return wrk.format("POST", nil, nil, bodies[n])
end
LUA
cat >"$work/batch.lua" <<'LUA'
local bodies = {}
for b = 1, 50 do
    local events = {}
    for i = 1, 100 do
        local ip = string.format("203.0.%d.%d", b, i)
        if i % 10 == 0 then
            events[i] = string.format('{"kind":"decoy","decoy_name":"keys-%d.txt","source_ip":"%s"}', i % 5, ip)
        else
            events[i] = string.format('{"kind":"honeypot","source_ip":"%s","source_port":51234,"destination_port":22,"service":"ssh","activity":"login_attempt","usernames":["root"],"passwords":["123456"]}', ip)
        end
    end
    bodies[b] = "[" .. table.concat(events, ",") .. "]"
end
local n = 0
request = function()
    n = n % 50 + 1
    return wrk.format("POST", nil, nil, bodies[n])
end
LUA

# The ceiling: nginx answering the same POSTs (it reads the body and ignores it).
start_nginx
read -r peer_single_rps peer_single_p99 _ < <(load "http://127.0.0.1:$NGINX_PORT/" -s "$work/single.lua" -H "Content-Type: application/json")
read -r peer_batch_rps peer_batch_p99 _ < <(CONNECTIONS=$BATCH_CONNECTIONS load "http://127.0.0.1:$NGINX_PORT/" -s "$work/batch.lua" -H "Content-Type: application/json")
peer_batch_eps=$(python3 -c "print(round($peer_batch_rps * 100, 1))")
printf '%-40s %12s events/s   p99 %8s ms\n' "nginx static 200, one event per POST" "$peer_single_rps" "$peer_single_p99"
printf '%-40s %12s events/s   p99 %8s ms\n' "nginx static 200, 100 events per POST" "$peer_batch_eps" "$peer_batch_p99"
kill "${pids[-1]}"

# stored_events PORT TOKEN: events the organisation holds, from its hourly counters (GET /api/v1/stats)
stored_events() {
    curl -fs -H "Authorization: Bearer $2" "http://127.0.0.1:$1/api/v1/stats" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["events_30d"])'
}

scenarios() { # backend port
    local backend=$1 port=$2 token key rps p99 ok before after out
    curl -fs -o /dev/null -H 'content-type: application/json' \
        -d "{\"email\": \"bench@example.com\", \"username\": \"bench\", \"password\": \"$password\"}" \
        "http://127.0.0.1:$port/api/v1/auth/register"
    token=$(curl -fs -H 'content-type: application/json' -d "{\"login\": \"bench\", \"password\": \"$password\"}" \
        "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
    key=$(curl -fs -H 'content-type: application/json' -H "Authorization: Bearer $token" \
        -d '{"name": "bench-trap", "kind": "honeypot"}' "http://127.0.0.1:$port/api/v1/nodes" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')

    for shape in single batch; do
        local per=1 peer_eps=$peer_single_rps peer_p99=$peer_single_p99 connections=$CONNECTIONS
        if [ "$shape" = batch ]; then
            per=100 peer_eps=$peer_batch_eps peer_p99=$peer_batch_p99 connections=$BATCH_CONNECTIONS
        fi
        before=$(stored_events "$port" "$token")
        out=$(wrk -t2 -c"$connections" -d"${DURATION}s" --latency -s "$work/$shape.lua" \
            -H "Content-Type: application/json" -H "X-Node-Key: $key" "http://127.0.0.1:$port/api/v1/ingest/events")
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' <<<"$out")
        local requests non2xx
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
        after=$(stored_events "$port" "$token")
        # Every 2xx answer's events are stored; a request cut off by wrk's end may add its events too.
        local acked=$(( (requests - non2xx) * per )) stored=$(( after - before ))
        ok=0; [ "$stored" -ge "$acked" ] && [ "$non2xx" = 0 ] && ok=1
        local eps; eps=$(python3 -c "print(round($rps * $per, 1))")
        printf '%-40s %12s events/s   p99 %8s ms   (%s acknowledged, %s stored, %s non-2xx)\n' \
            "$backend: $per event(s) per POST" "$eps" "$p99" "$acked" "$stored" "$non2xx"
        emit "ingest_${backend}_${shape}_events_per_s" "$eps" "$peer_eps" "events/s" "$ok"
        emit "ingest_${backend}_${shape}_p99" "$p99" "$peer_p99" "ms" "$ok"
    done
}

start_rampart sqlite RAMPART_ENGINE__WORKERS=0
scenarios sqlite "$PORT"
kill "$PID"

start_postgres
start_rampart postgres RAMPART_ENGINE__WORKERS=0 RAMPART_DATABASE_URL="$PG_URL"
scenarios postgres "$PORT"

print_results
