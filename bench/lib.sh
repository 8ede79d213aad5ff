# Shared by the benchmarks: installs peers, starts servers and PostgreSQL clusters on 127.0.0.1,
# runs wrk and reads its numbers, and cleans up on exit. Source it; it sets `work` and `bin`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}

need() { # package command
    command -v "$2" >/dev/null 2>&1 && return
    echo "installing $1 from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

pg_bin_dir() {
    local initdb
    initdb=$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$initdb" ]; then
        need postgresql psql
        initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)
    fi
    dirname "$initdb"
}

# SKIP_BUILD=1: the caller built it (a bench that runs itself again inside a network namespace)
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/rampart
work=$(mktemp -d /tmp/rampart-bench.XXXXXX)
chmod 755 "$work"
pids=()
pg_dirs=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for dir in "${pg_dirs[@]}"; do runuser -u postgres -- "$(pg_bin_dir)/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true; done
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

# load URL [wrk args...] -> "rps p99_ms ok"; ok=1 when every response was 2xx and no socket failed
load() {
    local url=$1; shift
    local out rps p99 non2xx errors
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errors=$(awk '/Socket errors/ {print $0}' <<<"$out")
    if [ -z "$non2xx" ] && [ -z "$errors" ]; then echo "$rps $p99 1"; else echo "$rps $p99 0"; fi
}

# start_rampart NAME [ENV...]: starts serve (with the flags in SERVE_FLAGS, such as --no-workers);
# sets PORT, PID and READY_MS (start to first ready answer). Registration is opened: the benches
# make their users that way.
start_rampart() {
    local name=$1; shift
    PORT=$(free_port)
    mkdir -p "$work/$name"
    # shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
    (cd "$work/$name" && exec env RAMPART_LISTEN="127.0.0.1:$PORT" RAMPART_AUTH__REGISTRATION=open "$@" "$bin" serve ${SERVE_FLAGS:-} >"$work/$name/serve.log" 2>&1) &
    PID=$!
    pids+=("$PID")
    READY_MS=$(wait_ok "http://127.0.0.1:$PORT/api/v1/health/ready")
}

# start_postgres: a throw-away cluster; sets PG_URL
start_postgres() {
    local port dir bin_dir
    port=$(free_port); dir="$work/pg-$port"; bin_dir=$(pg_bin_dir)
    mkdir -p "$dir" && chown postgres: "$dir"
    runuser -u postgres -- "$bin_dir/initdb" -D "$dir/data" -A trust -U postgres -N >/dev/null
    printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = 200\n" "$port" "$dir" >>"$dir/data/postgresql.conf"
    runuser -u postgres -- "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
    pg_dirs+=("$dir/data")
    PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(round(a/b,3) if b else 'null')" "$1" "$2"; }
as_bool() { [ "$1" = 1 ] && echo true || echo false; }

results=()
# emit NAME OURS PEER UNIT OK: one JSON line, printed at the end
emit() {
    local peer=$3 r=null
    [ "$peer" != null ] && r=$(ratio "$2" "$peer")
    results+=("{\"bench\": \"$1\", \"ours\": $2, \"peer\": $peer, \"unit\": \"$4\", \"ratio\": $r, \"correct\": $(as_bool "$5")}")
}
print_results() { echo; printf '%s\n' "${results[@]}"; }

# start_nginx: nginx answering {"status":"ok"} from its config, the ceiling for a trivial endpoint; sets NGINX_PORT
start_nginx() {
    need nginx nginx
    NGINX_PORT=$(free_port)
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
        listen 127.0.0.1:$NGINX_PORT;
        location / { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
CONF
    nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
    pids+=($!)
    wait_ok "http://127.0.0.1:$NGINX_PORT/" >/dev/null
}
