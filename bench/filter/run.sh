#!/usr/bin/env bash
# Runs the Python comparison engines (filter_bench.py) and the Swift ModerationFilter bench in one go and
# writes a markdown table of the results with ratios to daachorse measured in the same run.
#
# Usage: bench/filter/run.sh            (from the package root, or anywhere)
# Environment:
#   FILTER_BENCH  path to filter_bench.py   (default: first of ../shared/bench, /work/shared/bench)
#   VENV          Python venv to create/use (default: bench/filter/.venv)
#   OUT           output folder             (default: a new temp dir; results.md, *.json, *.log go there)
#   MB            corpus size for filter_bench.py's bulk rows (default 50; per-message rows always use the
#                 first 5 MB of messages, identical for any MB)
#   REPEAT        best-of-N for the Swift bench (default 7)
#   SCRATCH       SwiftPM scratch path      (default: <package>/.build)
#   ROUNDS        rounds of the interleaved A/B (default 40)
#   BULK_ROUNDS   rounds of the interleaved bulk A/B (default 10)
#   BASELINE_BIN  optional second parley-filter-bench (e.g. built from the previous commit, with the same
#                 --serve protocol) timed in the same interleaved rounds, for before/after ratios
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
MB="${MB:-50}"
REPEAT="${REPEAT:-7}"
SCRATCH="${SCRATCH:-$ROOT/.build}"
VENV="${VENV:-$HERE/.venv}"
OUT="${OUT:-$(mktemp -d -t parley-filter-bench.XXXXXX)}"
mkdir -p "$OUT"

if [[ -z "${FILTER_BENCH:-}" ]]; then
    for candidate in "$ROOT/../shared/bench/filter_bench.py" "/work/shared/bench/filter_bench.py"; do
        if [[ -f "$candidate" ]]; then FILTER_BENCH="$candidate"; break; fi
    done
fi
if [[ -z "${FILTER_BENCH:-}" || ! -f "$FILTER_BENCH" ]]; then
    echo "filter_bench.py not found; set FILTER_BENCH" >&2
    exit 2
fi

# 1. Python engines.
if [[ ! -x "$VENV/bin/python" ]]; then python3 -m venv "$VENV"; fi
if ! "$VENV/bin/python" -c "import ahocorasick, ahocorasick_rs, flashtext, daachorse" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet pyahocorasick flashtext ahocorasick-rs daachorse
fi
PY="$VENV/bin/python"

# 2. Data: dict.txt, corpus.txt, expected.txt.
DATA="$OUT/data"
echo "== dumping data to $DATA"
"$PY" "$FILTER_BENCH" --mb "$MB" --dump "$DATA" | tee "$OUT/dump.log"

# 3. Build the Swift bench (release) before timing anything.
echo "== building parley-filter-bench (release)"
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product parley-filter-bench 2>&1 | tail -3)
BIN="$(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/parley-filter-bench"

# 4. Python comparison engines (filter_bench.py, full run).
echo "== filter_bench.py --mb $MB (takes a few minutes)"
"$PY" "$FILTER_BENCH" --mb "$MB" --out "$OUT" | tee "$OUT/filter_bench.log"

LL_EXPECTED="$("$PY" -c "
import json, sys
rows = json.load(open('$OUT/filter_bench_results.json'))['bulk']
print(next(r['matches'] for r in rows if r['lib'] == 'daachorse charwise str, leftmost-longest'))")"

# 5. Swift bench, with daachorse per message re-measured right before and after it (same load).
echo "== daachorse per message (adjacent A/B reference)"
"$PY" "$HERE/daachorse_per_message.py" --data "$DATA" --repeat 15 | tee "$OUT/daachorse_before.json"
echo "== parley-filter-bench"
set +e
"$BIN" --data "$DATA" --repeat "$REPEAT" --ll-expected "$LL_EXPECTED" --json "$OUT/swift.json" | tee "$OUT/swift.log"
SWIFT_STATUS=${PIPESTATUS[0]}
set -e
"$PY" "$HERE/daachorse_per_message.py" --data "$DATA" --repeat 15 | tee "$OUT/daachorse_after.json"

# 6. Interleaved A/B per message: daachorse and Swift passes alternate, so both see the same load.
echo "== interleaved A/B (${ROUNDS:-40} rounds, ${BULK_ROUNDS:-10} bulk rounds)"
BASELINE_ARGS=()
if [[ -n "${BASELINE_BIN:-}" ]]; then BASELINE_ARGS=(--baseline-bin "$BASELINE_BIN"); fi
"$PY" "$HERE/interleave.py" --bin "$BIN" --data "$DATA" --rounds "${ROUNDS:-40}" --bulk-rounds "${BULK_ROUNDS:-10}" \
    ${BASELINE_ARGS[@]+"${BASELINE_ARGS[@]}"} | tee "$OUT/interleave.json"

# 7. Table.
"$PY" "$HERE/report.py" "$OUT" | tee "$OUT/results.md"
echo "results: $OUT/results.md"
exit "$SWIFT_STATUS"
