#!/usr/bin/env bash
# Findings benchmark, on SQLite and on PostgreSQL:
#   import     a generated SARIF 2.1.0 report of 100,000 results (distinct rule, file and line),
#              POSTed to /api/v1/imports: findings/s, from the request to its 201 (the report
#              parsed, every finding tracked, its change event and the run's rows committed).
#              Checked: 100,000 open findings, 100,000 `finding_new` changes.
#   reimport   the same report again: every finding matched, none new. Checked: still 100,000
#              findings, each seen twice, no new `finding_new` change.
#   list       GET /api/v1/findings?status=open&severity=high (the most severe first, 50 a page)
#              and the same with a text search (q=), under wrk at 100,000 findings: p99 latency.
# The peer is DefectDojo, whose published numbers are used (it is a Django, Celery, Redis and
# PostgreSQL deployment, not installable from a registry here): about 10 minutes to import 30,000
# findings (its issue #6570: 50 findings/s) and 25.78 s for a batched reimport of its 13,000-finding
# JFrog sample report after its own optimisation (its PRs #13889 and #13891: 504 findings/s). They
# are not runs of this machine: the ratios say how far apart the two are, not a same-run comparison.
# Goal: 100,000 findings imported in under 10 s, reimport faster than import, list p99 < 50 ms.
#
# Installs wrk and PostgreSQL from Debian's packages when missing (run as root). Traffic stays
# on 127.0.0.1. Knobs: FINDINGS (100000), DURATION (seconds of wrk, default 10), CONNECTIONS (16).
# Ends with one JSON line per scenario.
CONNECTIONS=${CONNECTIONS:-16}
source "$(dirname "$0")/lib.sh"
need wrk wrk
FINDINGS=${FINDINGS:-100000}
DOJO_IMPORT=50     # findings/s: 30,000 in about 600 s (DefectDojo issue #6570)
DOJO_REIMPORT=504  # findings/s: 13,000 in 25.78 s (DefectDojo PRs #13889, #13891)

python3 - "$work/report.sarif" "$FINDINGS" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
levels = ["error", "warning", "note", "none"]
results = [{
    "ruleId": f"bench.rule-{i % 250}",
    "level": levels[i % 4],
    "message": {"text": f"Finding {i}: something to look at in module {i // 1000}"},
    "locations": [{"physicalLocation": {"artifactLocation": {"uri": f"src/module{i // 1000}/file{i % 1000}.py"},
                                        "region": {"startLine": 1 + i % 400}}}],
} for i in range(n)]
json.dump({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "benchscan"}}, "results": results}]},
          open(path, "w"))
PY
printf 'report: %s findings, %s MB\n' "$FINDINGS" "$(du -m "$work/report.sarif" | cut -f1)"

# post_import PORT TOKEN -> seconds
post_import() {
    local start end code
    start=$(date +%s.%N)
    code=$(curl -s -o "$work/import.json" -w '%{http_code}' -X POST \
        "http://127.0.0.1:$1/api/v1/imports?format=sarif&source=bench.sarif" \
        -H "Authorization: Bearer $2" -H 'Content-Type: application/octet-stream' --data-binary "@$work/report.sarif")
    end=$(date +%s.%N)
    [ "$code" = 201 ] || { echo "import answered $code: $(head -c 300 "$work/import.json")" >&2; exit 1; }
    python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 3))" "$start" "$end"
}

# api PORT TOKEN PATH -> body
api() { curl -fs "http://127.0.0.1:$1$3" -H "Authorization: Bearer $2"; }

# new_changes PORT TOKEN SINCE -> 1 when some finding was new since SINCE, 0 when none
new_changes() {
    api "$1" "$2" "/api/v1/changes?kind=finding_new&limit=1&since=$3" |
        python3 -c 'import json,sys; print(min(1, len(json.load(sys.stdin)["items"])))'
}

scenarios() { # backend
    local backend=$1 token seconds rate ok total changes seen p99 ok2
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/auth/register" -H 'Content-Type: application/json' \
        -d '{"email": "bench@example.com", "username": "bench", "password": "a long bench passphrase 4471", "full_name": "Bench"}'
    token=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d '{"login": "bench", "password": "a long bench passphrase 4471"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

    seconds=$(post_import "$PORT" "$token")
    rate=$(python3 -c "print(round($FINDINGS / $seconds, 1))")
    total=$(api "$PORT" "$token" "/api/v1/findings/summary" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["total"], s["by_status"].get("open", 0))')
    changes=$(new_changes "$PORT" "$token" "1970-01-01T00:00:00Z")
    ok=0; [ "$total" = "$FINDINGS $FINDINGS" ] && [ "$changes" = 1 ] && ok=1
    printf '%-34s %8s s  %10s findings/s   DefectDojo %6s findings/s  (%s)\n' "$backend: import" "$seconds" "$rate" "$DOJO_IMPORT" "$total"
    emit "findings_import_${backend}" "$rate" "$DOJO_IMPORT" "findings/s" "$ok"
    import_seconds=$seconds

    before=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
    seconds=$(post_import "$PORT" "$token")
    rate=$(python3 -c "print(round($FINDINGS / $seconds, 1))")
    changes=$(new_changes "$PORT" "$token" "$before")
    seen=$(api "$PORT" "$token" "/api/v1/findings?limit=500&sort=last_seen" | python3 -c 'import json,sys; items=json.load(sys.stdin)["items"]; print(len(items), all(i["occurrences"] == 2 for i in items))')
    total=$(api "$PORT" "$token" "/api/v1/findings/summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
    ok=0; [ "$total" = "$FINDINGS" ] && [ "$seen" = "500 True" ] && [ "$changes" = 0 ] && ok=1
    faster=$(python3 -c "print('faster' if $seconds < $import_seconds else 'NOT faster')")
    printf '%-34s %8s s  %10s findings/s   DefectDojo %6s findings/s  (%s findings, %s than import)\n' "$backend: reimport (all dedup)" "$seconds" "$rate" "$DOJO_REIMPORT" "$total" "$faster"
    emit "findings_reimport_${backend}" "$rate" "$DOJO_REIMPORT" "findings/s" "$ok"

    read -r _ p99 ok < <(load "http://127.0.0.1:$PORT/api/v1/findings?status=open&severity=high" -H "Authorization: Bearer $token")
    printf '%-34s p99 %8s ms\n' "$backend: list status+severity" "$p99"
    emit "findings_list_filtered_${backend}_p99" "$p99" null ms "$ok"
    read -r _ p99 ok2 < <(load "http://127.0.0.1:$PORT/api/v1/findings?status=open&q=module42" -H "Authorization: Bearer $token")
    printf '%-34s p99 %8s ms\n' "$backend: list status+text search" "$p99"
    emit "findings_list_search_${backend}_p99" "$p99" null ms "$ok2"
}

start_rampart sqlite
scenarios sqlite
kill "$PID"

start_postgres
start_rampart postgres RAMPART_DATABASE_URL="$PG_URL"
scenarios postgres

print_results
