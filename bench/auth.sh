#!/usr/bin/env bash
# Authentication benchmark, on SQLite and on PostgreSQL:
# - logins/s through POST /api/v1/auth/login (Argon2id, OWASP parameters), beside the raw
#   Argon2id verifications/s of the same parameters by Python's argon2-cffi (the ceiling: a
#   login is one verification plus the database work);
# - requests/s and p99 of GET /api/v1/auth/me with a bearer token (signature check, one query for
#   the session, the user and the role, one for the memberships), beside nginx answering a
#   static JSON document (the ceiling of this machine for a trivial endpoint).
#
# Installs wrk, nginx, PostgreSQL (Debian) and argon2-cffi (PyPI) when missing. Traffic stays
# on 127.0.0.1. Knobs: DURATION, CONNECTIONS. Ends with one JSON line per scenario.
source "$(dirname "$0")/lib.sh"
need wrk wrk
python3 -c 'import argon2' 2>/dev/null || pip install -q argon2-cffi

password="correct horse battery staple 42"

# The peers first, so that nothing else runs beside them.
peer_verify=$(python3 - "$password" <<'PY'
import sys, time
from concurrent.futures import ProcessPoolExecutor
from argon2 import PasswordHasher
ph = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
hashed = ph.hash(sys.argv[1])
def work(n):
    for _ in range(n):
        ph.verify(hashed, sys.argv[1])
    return n
start = time.perf_counter()
with ProcessPoolExecutor(2) as pool:
    done = sum(pool.map(work, [100, 100]))
print(round(done / (time.perf_counter() - start), 1))
PY
)
printf '%-36s %10s /s\n' "argon2-cffi verifications (2 procs)" "$peer_verify"
start_nginx
read -r peer_rps peer_p99 _ < <(load "http://127.0.0.1:$NGINX_PORT/")
printf '%-36s %10s req/s   p99 %8s ms\n' "nginx (baseline) static 200" "$peer_rps" "$peer_p99"
kill "${pids[-1]}"

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"login": "bench", "password": "$password"}'
LUA

scenarios() { # backend port
    local backend=$1 port=$2 token rps p99 ok
    curl -fs -o /dev/null -H 'content-type: application/json' \
        -d "{\"email\": \"bench@example.com\", \"username\": \"bench\", \"password\": \"$password\"}" \
        "http://127.0.0.1:$port/api/v1/auth/register"
    token=$(curl -fs -H 'content-type: application/json' -d "{\"login\": \"bench\", \"password\": \"$password\"}" \
        "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

    read -r rps p99 ok < <(CONNECTIONS=4 load "http://127.0.0.1:$port/api/v1/auth/login" -s "$work/login.lua")
    printf '%-36s %10s /s      p99 %8s ms\n' "$backend: logins" "$rps" "$p99"
    emit "auth_login_${backend}_per_s" "$rps" "$peer_verify" "logins/s" "$ok"
    emit "auth_login_${backend}_p99" "$p99" null "ms" "$ok"

    read -r rps p99 ok < <(load "http://127.0.0.1:$port/api/v1/auth/me" -H "Authorization: Bearer $token")
    printf '%-36s %10s req/s   p99 %8s ms\n' "$backend: GET /auth/me (bearer)" "$rps" "$p99"
    emit "auth_me_${backend}_rps" "$rps" "$peer_rps" "req/s" "$ok"
    emit "auth_me_${backend}_p99" "$p99" "$peer_p99" "ms" "$ok"
}

limits=(RAMPART_AUTH__ATTEMPTS_PER_MINUTE=100000000 RAMPART_AUTH__ACCESS_TOKEN_TTL=1h)
start_rampart sqlite "${limits[@]}"
scenarios sqlite "$PORT"
kill "$PID"

start_postgres
start_rampart postgres "${limits[@]}" RAMPART_DATABASE_URL="$PG_URL"
scenarios postgres "$PORT"

print_results
