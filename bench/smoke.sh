#!/usr/bin/env bash
# bench/smoke.sh: checks that every benchmark tool of bench/ still works end to end (issue 8), on small sizes.
# It times nothing and asserts no speed: it fails when a tool breaks, i.e. when a tool exits with an error, reports
# a lost, duplicated, refused or unanswered message, counts other than what it sent, or stops writing its report.
# scripts/test runs it after the unit tests (so CI does); run alone from anywhere: bench/smoke.sh
#
#   1. parley-bench (debug build of its own package) against `parley serve` (the debug build scripts/test made, on
#      a fresh SQLite data dir, with the risk limits lifted as run-peers.sh's "relaxed" variant): every scenario
#      once, checked by bench/smoke_check.py from the JSON lines it writes;
#   2. parley-ingest-bench on SQLite, and on PostgreSQL when PARLEY_TEST_POSTGRES_URL is set (it exits 1 when an
#      acknowledged send is not stored, logged and counted by analytics);
#   3. parley-filter-bench on data dumped by ../shared/bench/filter_bench.py (its Python engines come from PyPI into
#      a venv, as bench/filter/run.sh does; it exits 1 when its match counts differ from the reference's);
#   4. parley-analytics-bench on a few thousand users (SQLite);
#   5. bench/crossnode/run.sh (two nodes on PostgreSQL, when PARLEY_TEST_POSTGRES_URL is set): every message sent on
#      one node reaches the user on the other;
#   6. bench/parley-bench/scripts/compare.py on the committed results of the last peer run: the table has every
#      goal's row and is exactly the committed bench/compare.md, and bench/README.md's goals table is current.
#
# Environment: PARLEY_TEST_POSTGRES_URL (optional), SMOKE_VENV (default ${TMPDIR:-/tmp}/parley-bench-smoke-venv),
# SHARED_BENCH (default ../shared/bench next to the repository).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench-smoke.XXXXXX")
SERVER_PID=

log() { printf '[bench-smoke] %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

BIN=$(swift build --show-bin-path)
for tool in parley parley-ingest-bench parley-filter-bench parley-analytics-bench; do
    [ -x "$BIN/$tool" ] || fail "$BIN/$tool is missing: run swift build first"
done

# ------------------------------------------------------------------------------------------- 1. parley-bench
log "building parley-bench (debug)"
swift build --package-path bench/parley-bench 2>&1 | tail -1
BENCH=$(swift build --package-path bench/parley-bench --show-bin-path)/parley-bench

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA=$WORK/parley-data
KEY=$("$BIN/parley" apikey create --scope admin --name bench-smoke --data-dir "$DATA" 2>/dev/null | tail -1)
[[ "$KEY" == prly_* ]] || fail "parley apikey create gave no key"
(ulimit -n 20000 2>/dev/null || true
 exec env PARLEY_RATE_LIMITS=off PARLEY_FLOOD_DETECTION=off PARLEY_WS_FRAMES_PER_SECOND=1000000 PARLEY_HOST=127.0.0.1 \
     PARLEY_PORT="$PORT" PARLEY_DATA_DIR="$DATA" PARLEY_LOG_LEVEL=warning "$BIN/parley" serve) > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { tail -20 "$WORK/server.log" >&2; fail "parley serve did not start"; }

JSON=$WORK/parley-bench.jsonl
pb() { # LABEL SUBCOMMAND ARGS...
    local label=$1; shift
    log "parley-bench $label"
    local status=0
    timeout 300 "$BENCH" "$@" --url "http://127.0.0.1:$PORT" --api-key "$KEY" --server-pid "$SERVER_PID" --label "$label" \
        --json-out "$JSON" > "$WORK/$label.txt" 2>&1 || status=$?
    [ "$status" = 0 ] || { cat "$WORK/$label.txt" >&2; fail "parley-bench $label exited with $status"; }
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; fail "parley serve died during $label"; }
}
pb pairs pairs --pairs 3 --messages 300 --window 20 --timeout 120
pb group group --members 6 --messages 40 --window 5 --timeout 120
pb fanout fanout --receivers 20 --messages 150 --window 20 --timeout 120
pb dm pairs --pairs 1 --messages 50 --window 1 --timeout 120
pb paced paced --pairs 10 --rate 50 --duration 3 --timeout 120
pb reconnect reconnect --clients 60 --groups 3 --rate 5 --timeout 120
pb idle idle --connections 300 --hold 1 --connect-concurrency 32 --timeout 120
python3 bench/smoke_check.py "$JSON" || fail "parley-bench reported a problem (above)"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=

# -------------------------------------------------------------------------------------- 2. parley-ingest-bench
INGEST_ARGS=(--messages 40 --concurrency 1,4)
if [ -n "${PARLEY_TEST_POSTGRES_URL:-}" ]; then INGEST_ARGS+=(--postgres "$PARLEY_TEST_POSTGRES_URL"); fi
log "parley-ingest-bench ${INGEST_ARGS[*]}"
"$BIN/parley-ingest-bench" "${INGEST_ARGS[@]}" > "$WORK/ingest.txt" 2>&1 || { tail -40 "$WORK/ingest.txt" >&2; fail "parley-ingest-bench"; }
grep -q '^| sqlite | 4 |' "$WORK/ingest.txt" || { tail -20 "$WORK/ingest.txt" >&2; fail "parley-ingest-bench wrote no SQLite row"; }
if [ -n "${PARLEY_TEST_POSTGRES_URL:-}" ]; then
    grep -q '^| postgres | 4 |' "$WORK/ingest.txt" || { tail -20 "$WORK/ingest.txt" >&2; fail "parley-ingest-bench wrote no PostgreSQL row"; }
fi

# ------------------------------------------------------- Python for the next steps: filter engines, websockets
VENV=${SMOKE_VENV:-${TMPDIR:-/tmp}/parley-bench-smoke-venv}
if ! "$VENV/bin/python" -c 'import ahocorasick, ahocorasick_rs, flashtext, websockets' 2>/dev/null; then
    log "preparing $VENV with filter_bench.py's engines and websockets (PyPI)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check pyahocorasick ahocorasick-rs flashtext websockets
fi

# -------------------------------------------------------------------------------------- 3. parley-filter-bench
[ -f "$SHARED_BENCH/filter_bench.py" ] || fail "$SHARED_BENCH/filter_bench.py not found (set SHARED_BENCH)"
log "parley-filter-bench"
"$VENV/bin/python" "$SHARED_BENCH/filter_bench.py" --mb 0.5 --dump "$WORK/filter-data" > "$WORK/filter-dump.txt" 2>&1 ||
    { cat "$WORK/filter-dump.txt" >&2; fail "filter_bench.py --dump"; }
"$BIN/parley-filter-bench" --data "$WORK/filter-data" --repeat 1 --msg-mb 0.2 --json "$WORK/filter.json" > "$WORK/filter.txt" 2>&1 ||
    { cat "$WORK/filter.txt" >&2; fail "parley-filter-bench (match counts differ from filter_bench.py's)"; }
grep -q 'overlapping, exact .* OK' "$WORK/filter.txt" || { cat "$WORK/filter.txt" >&2; fail "parley-filter-bench checked no match count"; }

# ----------------------------------------------------------------------------------- 4. parley-analytics-bench
log "parley-analytics-bench"
BENCH_USERS=3000 BENCH_DAYS=35 "$BIN/parley-analytics-bench" > "$WORK/analytics.txt" 2>&1 ||
    { cat "$WORK/analytics.txt" >&2; fail "parley-analytics-bench"; }
grep -q '^MAU series' "$WORK/analytics.txt" || { cat "$WORK/analytics.txt" >&2; fail "parley-analytics-bench timed no MAU series"; }

# ------------------------------------------------------------------------------ 5. cross-node probe (PostgreSQL)
if [ -n "${PARLEY_TEST_POSTGRES_URL:-}" ]; then
    log "bench/crossnode/run.sh (two nodes on PostgreSQL)"
    PYTHON="$VENV/bin/python" bench/crossnode/run.sh "$BIN/parley" "$PARLEY_TEST_POSTGRES_URL" 20 > "$WORK/crossnode.txt" 2>&1 ||
        { cat "$WORK/crossnode.txt" >&2; fail "bench/crossnode/run.sh"; }
    grep -q '^n=20 p50=' "$WORK/crossnode.txt" || { cat "$WORK/crossnode.txt" >&2; fail "the cross-node probe reported no latency"; }
fi

# ------------------------------------------------------------------------------------------------ 6. compare.py
log "compare.py on bench/parley-bench/results"
cp bench/README.md "$WORK/README.md"
python3 bench/parley-bench/scripts/compare.py bench/parley-bench/results "$WORK/compare.md" "$WORK/README.md" > /dev/null
for goal in "10 pairs" "20-member group" "fan-out" "Synapse" "p99" "idle"; do
    grep -qi -- "$goal" "$WORK/compare.md" || { cat "$WORK/compare.md" >&2; fail "compare.md has no row for '$goal'"; }
done
# The published table is exactly what its raw results give.
diff -u bench/compare.md "$WORK/compare.md" >&2 || fail "bench/compare.md differs from what compare.py writes from bench/parley-bench/results"
diff -u bench/README.md "$WORK/README.md" >&2 || fail "bench/README.md's goals table differs from what compare.py writes from the results"

log "every benchmark tool works"
