#!/usr/bin/env bash
# Bouncer API benchmark: Rampart's CrowdSec-compatible decisions API beside CrowdSec's own Local
# API (Debian's crowdsec 1.4.6), the server firewall bouncers pull their block lists from. Both
# hold the same DECISIONS (10,000) active 4-hour bans: DECISIONS - RANGES addresses (192.0.2.1-254,
# then 100.64.0.0/10) and RANGES (100) /24 ranges (198.51.100.0/24, then 100.96.k.0/24), loaded
# through each one's own import (Rampart: POST /api/v1/decisions/import; CrowdSec: `cscli
# decisions import`). Each side has its own bouncer key, sent as `X-Api-Key` by a wrk Lua script.
#
#   stream_delta    GET /v1/decisions/stream, after one startup pull: what every bouncer asks every
#                   few seconds, each answer an empty delta; at 10 and 50 connections. Checked: the
#                   answer is an empty delta (`new` and `deleted` null or []).
#   lookup_ip       GET /v1/decisions?ip=, the three paths in turn: a banned address (192.0.2.7),
#                   one inside a banned range (198.51.100.77) and one not banned (203.0.113.9); at
#                   10 and 50 connections. Checked: the first two list their decision (Ip and
#                   Range), the third is `null`, as CrowdSec answers.
#   stream_startup  GET /v1/decisions/stream?startup=true, a bouncer's first pull: all DECISIONS
#                   as `new` (about 1.4 MB of JSON), at STARTUP_CONNECTIONS (10). Checked: exactly
#                   the loaded values, each with id, origin, type, scope (Ip or Range), value,
#                   scenario and a positive Go-style duration (`3h59m58s`).
# Every scenario has a warm-up (WARMUP seconds of wrk, 2), then DURATION (10) seconds of wrk (two
# threads) with its latency distribution; a run with a non-2xx answer or a socket error (an answer
# slower than wrk's timeout, set to 30 s, is one) is not correct.
# Goal: ours ≥ 10× CrowdSec's requests/s on the delta stream, ≥ 5× on startup, p99 < 10 ms, no errors.
#
# Both servers run with their shipped defaults on SQLite (each logs every request at `info`): CrowdSec
# as `crowdsec -no-cs -no-capi` (the Local API alone: no agent, no Central API, no console, no hub)
# with its own configuration, database and logs in a temporary directory, Rampart as `rampart serve`
# on a fresh database. Both are up at once, the one not under test idle; each scenario runs on one,
# then on the other, so that a busier moment weighs on both alike. The machine has 2 cores, which
# the server under test and wrk share: the figures are a same-machine comparison, not a capacity.
#
# Everything runs inside a private network namespace the script creates (the host's loopback has
# listeners that are not ours); no traffic leaves it. Installs wrk and crowdsec from Debian's
# packages when missing (run as root): CrowdSec's package registers with its Central API on
# installation unless /etc/crowdsec/online_api_credentials.yaml is not empty, so the script writes
# a placeholder there first, and it disables the service's start at boot (the host's installation
# is not used otherwise). Knobs: DECISIONS (10000), RANGES (100), DURATION (10), WARMUP (2),
# CONNECTION_COUNTS ("10 50"), STARTUP_CONNECTIONS (10), SIDES ("rampart crowdsec": one of them
# runs one side, e.g. to see CrowdSec's figures alone).
# Ends with one JSON line per scenario and connection count: ours and peer in requests/s (and the
# p99 in ms), ratio = ours / peer.
set -euo pipefail
SIDES=${SIDES:-rampart crowdsec}
has_side() { case " $SIDES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if [ -z "${DECISIONS_BENCH_NS:-}" ]; then
    script=$(realpath "$0")
    cd "$(dirname "$script")/.."
    need() { command -v "$2" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; }; }
    need wrk wrk
    need iproute2 ip
    if ! command -v crowdsec >/dev/null 2>&1 || ! command -v cscli >/dev/null 2>&1; then
        echo "installing crowdsec from Debian's packages (offline: no Central API registration)" >&2
        mkdir -p /etc/crowdsec
        [ -s /etc/crowdsec/online_api_credentials.yaml ] ||
            echo '# no Central API: this machine is offline' >/etc/crowdsec/online_api_credentials.yaml
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq crowdsec >/dev/null
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            systemctl disable --now crowdsec.service >/dev/null 2>&1 || true
        else
            rm -f /etc/systemd/system/multi-user.target.wants/crowdsec.service
        fi
    fi
    running=$(ps -C crowdsec -o pid=,stat= | awk '$2 !~ /^Z/ {printf "%s ", $1}' || true)
    [ -z "$running" ] || echo "warning: crowdsec already runs on this machine (pid $running): it shares the cores" >&2
    if has_side rampart; then cargo build --release --quiet -p rampart; fi
    ns=rampart-decisions-$$
    ip netns add "$ns"
    trap 'ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns delete "$ns" 2>/dev/null || true' EXIT
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" env DECISIONS_BENCH_NS="$ns" SKIP_BUILD=1 bash "$script" "$@"
    exit
fi

# From here on, inside the namespace.
source "$(dirname "$0")/lib.sh"
DECISIONS=${DECISIONS:-10000}
RANGES=${RANGES:-100}
WARMUP=${WARMUP:-2}
CONNECTION_COUNTS=${CONNECTION_COUNTS:-10 50}
STARTUP_CONNECTIONS=${STARTUP_CONNECTIONS:-10}
BANNED_IP=192.0.2.7
IN_RANGE_IP=198.51.100.77
BANNED_RANGE=198.51.100.0/24
FREE_IP=203.0.113.9
LOOKUP_PATHS="/v1/decisions?ip=$BANNED_IP /v1/decisions?ip=$IN_RANGE_IP /v1/decisions?ip=$FREE_IP"

# The decisions, one `value scenario` a line; each side's loader turns them into its import.
python3 - "$work/decisions.txt" "$DECISIONS" "$RANGES" <<'PY'
import sys
path, total, ranges = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
addresses = [f"192.0.2.{i}" for i in range(1, 255)]
addresses += [f"100.{64 + i // 62500}.{i // 250 % 250}.{1 + i % 250}" for i in range(total - ranges - len(addresses))]
nets = ["198.51.100.0/24"] + [f"100.96.{k}.0/24" for k in range(ranges - 1)]
with open(path, "w") as f:
    f.writelines(f"{a} bench/load\n" for a in addresses[: total - ranges])
    f.writelines(f"{n} bench/range\n" for n in nets)
PY
[ "$(wc -l <"$work/decisions.txt")" = "$DECISIONS" ] || { echo "generated $(wc -l <"$work/decisions.txt") decisions, not $DECISIONS" >&2; exit 1; }

# The wrk script: X-Api-Key from BENCH_KEY; with several BENCH_PATHS (space-separated), each
# connection asks them in turn.
cat >"$work/bouncer.lua" <<'LUA'
local key, paths = os.getenv("BENCH_KEY"), {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "", "%S+") do paths[#paths + 1] = path end
wrk.headers["X-Api-Key"] = key
if #paths > 1 then
    local requests, next = {}, 0
    function init(args)
        for n, path in ipairs(paths) do requests[n] = wrk.format("GET", path) end
    end
    function request()
        next = next % #requests + 1
        return requests[next]
    end
end
LUA

# check KIND FILE: 1 when the answer in FILE is what KIND expects, else 0 (and why, on stderr)
check() {
    python3 - "$1" "$2" "$work/decisions.txt" "$BANNED_IP" "$BANNED_RANGE" <<'PY'
import json, re, sys
kind, path, loaded, banned_ip, banned_range = sys.argv[1:]
raw = open(path, "rb").read()
go_duration = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$")
def positive(d):
    return isinstance(d, str) and d and go_duration.match(d) and not re.fullmatch(r"[0hms.]*", d)
def decision_ok(d):
    return (isinstance(d, dict) and all(k in d for k in ("id", "origin", "type", "scope", "value", "duration", "scenario"))
            and positive(d["duration"]) and d["scope"] in ("Ip", "Range") and d["type"] == "ban")
def why():
    try:
        body = json.loads(raw)
    except ValueError:
        return f"not JSON: {raw[:200]!r}"
    if kind == "delta":
        if not isinstance(body, dict) or set(body) != {"new", "deleted"}:
            return f"not a delta: {raw[:200]!r}"
        if any(body[k] not in (None, []) for k in ("new", "deleted")):
            return f"not an empty delta: {raw[:200]!r}"
    elif kind == "startup":
        new = body.get("new") if isinstance(body, dict) else None
        if not isinstance(new, list):
            return f"no `new` list: {raw[:200]!r}"
        bad = [d for d in new if not decision_ok(d)]
        if bad:
            return f"{len(bad)} malformed decisions, e.g. {bad[0]}"
        expected = {line.split()[0] for line in open(loaded)}
        values = [d["value"] for d in new]
        if len(values) != len(expected) or set(values) != expected:
            return f"{len(values)} decisions ({len(set(values) & expected)} of the {len(expected)} loaded)"
        ranges = {d["value"] for d in new if d["scope"] == "Range"}
        if ranges != {v for v in expected if "/" in v}:
            return f"{len(ranges)} decisions scoped Range"
    elif kind in ("lookup_ip", "lookup_range"):
        value, scope = (banned_ip, "Ip") if kind == "lookup_ip" else (banned_range, "Range")
        if not isinstance(body, list) or not any(decision_ok(d) and d["value"] == value and d["scope"] == scope for d in body):
            return f"no well-formed {scope} decision on {value}: {raw[:200]!r}"
    elif kind == "lookup_none":
        if raw.strip() != b"null":
            return f"not `null`: {raw[:200]!r}"
    return None
reason = why()
if reason:
    print(f"{kind}: {reason}", file=sys.stderr)
print(0 if reason else 1)
PY
}

# get BASE KEY PATH FILE: the answer's body into FILE
get() { curl -fsS -o "$4" "$1$3" -H "X-Api-Key: $2"; }

# wait_key BASE KEY: polls a lookup until it answers 200
wait_key() {
    for _ in $(seq 1 2000); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/v1/decisions?ip=$FREE_IP" -H "X-Api-Key: $2")" = 200 ] && return
        sleep 0.005
    done
    echo "no answer from $1" >&2; exit 1
}

# measure LABEL BASE KEY PATHS CONNECTIONS [wrk args…] -> "rps p99_ms ok": a warm-up, then the run
# with wrk's latency distribution; ok=1 when some answers came, all 2xx, and no socket failed (else
# why, on stderr)
measure() {
    local label=$1 base=$2 key=$3 paths=$4 connections=$5; shift 5
    local url=$base${paths%% *} out rps p99 non2xx errors answers
    BENCH_KEY=$key BENCH_PATHS=$paths wrk -t2 -c"$connections" -d"${WARMUP}s" --timeout 30s -s "$work/bouncer.lua" "$@" "$url" >/dev/null
    out=$(BENCH_KEY=$key BENCH_PATHS=$paths wrk -t2 -c"$connections" -d"${DURATION}s" --timeout 30s --latency -s "$work/bouncer.lua" "$@" "$url")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errors=$(awk '/Socket errors/ {print $0}' <<<"$out")
    answers=$(awk '/requests in/ {print $1}' <<<"$out")
    if [ -z "$non2xx" ] && [ -z "$errors" ] && [ "${answers:-0}" -gt 0 ]; then echo "$rps $p99 1"; return; fi
    echo "$label: ${non2xx:-0} non-2xx answers of ${answers:-0}${errors:+; $errors}" >&2
    echo "$rps $p99 0"
}

declare -A BASE KEY RPS P99 OK
# The scenarios, each against one side (BASE[side], KEY[side]); each fills RPS, P99 and
# OK[side:name] for its names.

stream_delta() { # SIDE: a startup pull first, then the deltas
    local side=$1 c ok1 ok2 rps p99 ok
    get "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions/stream?startup=true" "$work/$side-startup.json"
    OK[$side:first_startup]=$(check startup "$work/$side-startup.json")
    printf '%s: startup stream %s bytes, %s decisions\n' "$side" "$(wc -c <"$work/$side-startup.json")" \
        "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("new") or []))' "$work/$side-startup.json")"
    get "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions/stream" "$work/$side-delta.json"
    ok1=$(check delta "$work/$side-delta.json")
    printf '%s: empty delta %s\n' "$side" "$(cat "$work/$side-delta.json")"
    for c in $CONNECTION_COUNTS; do
        read -r rps p99 ok < <(measure "$side stream_delta c$c" "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions/stream" "$c")
        get "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions/stream" "$work/$side-delta.json"
        ok2=$(check delta "$work/$side-delta.json")
        RPS[$side:stream_delta_c$c]=$rps; P99[$side:stream_delta_c$c]=$p99
        OK[$side:stream_delta_c$c]=$(( ok && ok1 && ok2 ))
    done
}

lookup_ip() { # SIDE: a banned address, one in a banned range, one not banned, in turn
    local side=$1 c ok1 rps p99 ok
    get "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions?ip=$BANNED_IP" "$work/$side-ip.json"
    get "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions?ip=$IN_RANGE_IP" "$work/$side-range.json"
    get "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions?ip=$FREE_IP" "$work/$side-none.json"
    printf '%s: ?ip=%s %s\n%s: ?ip=%s %s\n%s: ?ip=%s %s\n' "$side" "$BANNED_IP" "$(cat "$work/$side-ip.json")" \
        "$side" "$IN_RANGE_IP" "$(cat "$work/$side-range.json")" "$side" "$FREE_IP" "$(cat "$work/$side-none.json")"
    ok1=$(( $(check lookup_ip "$work/$side-ip.json") && $(check lookup_range "$work/$side-range.json") && $(check lookup_none "$work/$side-none.json") ))
    for c in $CONNECTION_COUNTS; do
        read -r rps p99 ok < <(measure "$side lookup_ip c$c" "${BASE[$side]}" "${KEY[$side]}" "$LOOKUP_PATHS" "$c")
        RPS[$side:lookup_ip_c$c]=$rps; P99[$side:lookup_ip_c$c]=$p99; OK[$side:lookup_ip_c$c]=$(( ok && ok1 ))
    done
}

stream_startup() { # SIDE: every decision, every time
    local side=$1 ok1 rps p99 ok
    read -r rps p99 ok < <(measure "$side stream_startup" "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions/stream?startup=true" "$STARTUP_CONNECTIONS")
    get "${BASE[$side]}" "${KEY[$side]}" "/v1/decisions/stream?startup=true" "$work/$side-startup.json"
    ok1=$(check startup "$work/$side-startup.json")
    RPS[$side:stream_startup]=$rps; P99[$side:stream_startup]=$p99
    OK[$side:stream_startup]=$(( ok && ok1 && ${OK[$side:first_startup]:-0} ))
}

# --- CrowdSec: its Local API alone, configured offline in $work/crowdsec ---------------------------
crowdsec_start() { # sets CS_BASE, CS_CONFIG, CS_PID
    local dir=$work/crowdsec port
    port=$(free_port)
    mkdir -p "$dir/etc" "$dir/data" "$dir/log" "$dir/hub"
    cp /etc/crowdsec/profiles.yaml "$dir/etc/" 2>/dev/null ||
        printf 'name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == "Ip"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n' >"$dir/etc/profiles.yaml"
    printf 'simulation: off\n' >"$dir/etc/simulation.yaml"
    printf '{}\n' >"$dir/hub/.index.json"
    : >"$dir/etc/acquis.yaml"
    CS_CONFIG=$dir/etc/config.yaml
    # Debian's config.yaml, with every path in $dir, the Local API on this namespace's 127.0.0.1,
    # no `online_client` (no Central API) and no Prometheus listener.
    cat >"$CS_CONFIG" <<YAML
common:
  daemonize: false
  log_media: file
  log_level: info
  log_dir: $dir/log/
  working_dir: .
config_paths:
  config_dir: $dir/etc/
  data_dir: $dir/data/
  simulation_path: $dir/etc/simulation.yaml
  hub_dir: $dir/hub/
  index_path: $dir/hub/.index.json
  notification_dir: $dir/etc/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: $dir/etc/acquis.yaml
  parser_routines: 1
cscli:
  output: human
  color: no
db_config:
  log_level: info
  type: sqlite
  db_path: $dir/data/crowdsec.db
  use_wal: true
  flush:
    max_items: 5000
    max_age: 7d
plugin_config:
  user: nobody
  group: nogroup
api:
  client:
    insecure_skip_verify: false
    credentials_path: $dir/etc/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:$port
    profiles_path: $dir/etc/profiles.yaml
    console_path: $dir/etc/console.yaml
    trusted_ips:
      - 127.0.0.1
      - ::1
prometheus:
  enabled: false
YAML
    CS_BASE=http://127.0.0.1:$port
    # cscli's import speaks to the Local API as a machine (these credentials); a bouncer key
    # reads decisions. Both are written to the database before the server starts.
    cscli -c "$CS_CONFIG" --error machines add bench --auto --force --url "$CS_BASE" -f "$dir/etc/local_api_credentials.yaml" >/dev/null
    (exec crowdsec -c "$CS_CONFIG" -no-cs -no-capi >"$dir/log/stdout.log" 2>&1) &
    CS_PID=$!
    pids+=("$CS_PID")
}

crowdsec_key() { cscli -c "$CS_CONFIG" --error bouncers add "bench-$1" -o raw; }

crowdsec_load() { # cscli's --scope applies to every line of a file: addresses and ranges apart
    local start end
    python3 - "$work/decisions.txt" "$work/crowdsec" <<'PY'
import json, sys
lines = [line.split() for line in open(sys.argv[1])]
for name, pick in (("ips", lambda v: "/" not in v), ("ranges", lambda v: "/" in v)):
    json.dump([{"duration": "4h", "reason": s, "type": "ban", "value": v} for v, s in lines if pick(v)],
              open(f"{sys.argv[2]}/{name}.json", "w"))
PY
    start=$(date +%s.%N)
    cscli -c "$CS_CONFIG" --error decisions import -i "$work/crowdsec/ips.json" --scope Ip --type ban >/dev/null
    cscli -c "$CS_CONFIG" --error decisions import -i "$work/crowdsec/ranges.json" --scope Range --type ban >/dev/null
    end=$(date +%s.%N)
    printf 'crowdsec: %s decisions imported in %.2f s\n' "$DECISIONS" "$(python3 -c "print($end - $start)")"
}

crowdsec_side() { # started, loaded, a bouncer key: sets BASE[crowdsec] and KEY[crowdsec]
    crowdsec_start
    KEY[crowdsec]=$(crowdsec_key delta)
    wait_key "$CS_BASE" "${KEY[crowdsec]}"
    crowdsec_load
    BASE[crowdsec]=$CS_BASE
    echo "crowdsec: $(crowdsec -version 2>&1 | awk '/version:/ {print $NF; exit}'), Local API at $CS_BASE"
}

# --- Rampart: `rampart serve` on a fresh SQLite database ---------------------------------------------
rampart_token() { # an admin of the bench's organisation: the first user, registered
    curl -fs -o /dev/null -X POST "$RP_BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
        -d '{"email": "bench@example.com", "username": "bench", "password": "a long bench passphrase 4471", "full_name": "Bench"}'
    curl -fs -X POST "$RP_BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d '{"login": "bench", "password": "a long bench passphrase 4471"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

rampart_key() { # TOKEN NAME
    curl -fsS -X POST "$RP_BASE/api/v1/bouncers" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"name\": \"bench-$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}

rampart_load() { # TOKEN: one import request (at most 10,000 a request)
    local start end created
    python3 - "$work/decisions.txt" "$work/rampart-import.json" <<'PY'
import json, sys
lines = [line.split() for line in open(sys.argv[1])]
json.dump({"decisions": [{"value": v, "duration": "4h", "scenario": s} for v, s in lines]},  # a ban, by default
          open(sys.argv[2], "w"), separators=(",", ":"))
PY
    start=$(date +%s.%N)
    created=$(curl -fsS -X POST "$RP_BASE/api/v1/decisions/import" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' --data-binary "@$work/rampart-import.json" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["created"])')
    end=$(date +%s.%N)
    [ "$created" = "$DECISIONS" ] || { echo "rampart: the import created $created decisions, not $DECISIONS" >&2; exit 1; }
    printf 'rampart: %s decisions imported in %.2f s\n' "$created" "$(python3 -c "print($end - $start)")"
}

rampart_side() { # started, loaded, a bouncer key: sets BASE[rampart] and KEY[rampart]
    local token
    start_rampart rampart
    RP_BASE=http://127.0.0.1:$PORT
    token=$(rampart_token)
    KEY[rampart]=$(rampart_key "$token" delta)
    rampart_load "$token"
    wait_key "$RP_BASE" "${KEY[rampart]}"
    BASE[rampart]=$RP_BASE
    echo "rampart: $("$bin" --version 2>/dev/null || echo rampart), API at $RP_BASE"
}

# Both servers are up (idle, the one not under test); each scenario runs on one side, then the
# other, so that a machine busier at one moment than the next weighs on both alike.
order=()
if has_side crowdsec; then crowdsec_side; order+=(crowdsec); fi
if has_side rampart; then rampart_side; order+=(rampart); fi
for scenario in stream_delta lookup_ip stream_startup; do
    for side in "${order[@]}"; do "$scenario" "$side"; done
done

# line NAME OURS PEER UNIT OK: emit's JSON line, also when one side did not run (null)
line() {
    local r=null
    [ "$2" != null ] && [ "$3" != null ] && r=$(ratio "$2" "$3")
    results+=("{\"bench\": \"$1\", \"ours\": $2, \"peer\": $3, \"unit\": \"$4\", \"ratio\": $r, \"correct\": $(as_bool "$5")}")
}

# --- results -----------------------------------------------------------------------------------------
echo
printf '%-22s %12s %10s %12s %10s %9s %8s\n' scenario "ours req/s" "ours p99" "crowdsec" "cs p99" "ratio" correct
names=()
for c in $CONNECTION_COUNTS; do names+=("stream_delta_c$c"); done
for c in $CONNECTION_COUNTS; do names+=("lookup_ip_c$c"); done
names+=(stream_startup)
for name in "${names[@]}"; do
    ours=${RPS[rampart:$name]:-null}; peer=${RPS[crowdsec:$name]:-null}
    ours_p99=${P99[rampart:$name]:-null}; peer_p99=${P99[crowdsec:$name]:-null}
    ok=1
    has_side rampart && [ "${OK[rampart:$name]:-0}" != 1 ] && ok=0
    has_side crowdsec && [ "${OK[crowdsec:$name]:-0}" != 1 ] && ok=0
    r=null; [ "$ours" != null ] && [ "$peer" != null ] && r=$(ratio "$ours" "$peer")
    printf '%-22s %12s %8s ms %12s %7s ms %8s× %8s\n' "$name" "$ours" "$ours_p99" "$peer" "$peer_p99" "$r" "$(as_bool "$ok")"
    line "decisions_$name" "$ours" "$peer" "requests/s" "$ok"
    line "decisions_${name}_p99" "$ours_p99" "$peer_p99" "ms" "$ok"
done
print_results
