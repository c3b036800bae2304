#!/usr/bin/env python3
"""Interleaved A/B: daachorse vs the Swift filter, per message (and optionally bulk), alternating pass by pass.

On a shared, loaded machine two measurements taken a minute apart are not comparable. This driver keeps
the Swift bench running (`parley-filter-bench --serve`) and alternates one daachorse per-message pass (timed
here, exactly as filter_bench.py times it) with one pass of each Swift variant, for --rounds rounds. It
reports the best time of each engine and the median of the per-round ratios. Prints one JSON object.

--baseline-bin PATH runs a second Swift build (e.g. the previous commit's) in the same rounds, so a change is
measured before/after under the same load: keys `baseline_*`, and `speedup_<variant>_median` = median over
rounds of baseline time / new time.

--bulk-rounds N adds N rounds of bulk passes (one call per ~1 MB chunk over the first 5 chunks, as
filter_bench.py's bulk mode): daachorse leftmost-longest, the Swift full pipeline and exact matching (and the
baseline's). Keys `bulk_*`, in MB/s (10^6 bytes of UTF-8).

Usage: interleave.py --bin PATH --data DIR [--rounds 30] [--msg-mb 5] [--baseline-bin PATH] [--bulk-rounds 0]
"""
import argparse
import gc
import json
import statistics
import subprocess
import time

import daachorse

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--rounds", type=int, default=30)
ap.add_argument("--msg-mb", type=float, default=5.0)
ap.add_argument("--baseline-bin")
ap.add_argument("--bulk-rounds", type=int, default=0)
args = ap.parse_args()

words = [w for w in open(f"{args.data}/dict.txt", encoding="utf-8").read().split("\n") if w]
sub, acc = [], 0
chunks, current, size = [], [], 0
with open(f"{args.data}/corpus.txt", encoding="utf-8") as f:
    for line in f:
        m = line.rstrip("\n")
        if acc < args.msg_mb * 1e6:
            sub.append(m)
            acc += len(m.encode()) + 1
        # The Swift bench's chunks: non-empty lines, cut after >= 10^6 bytes (UTF-8 + 1), first 5 chunks.
        if m and len(chunks) < 5:
            current.append(m)
            size += len(m.encode()) + 1
            if size >= 1_000_000:
                chunks.append("\n".join(current))
                current, size = [], 0
        if acc >= args.msg_mb * 1e6 and len(chunks) >= 5:
            break
bulk_bytes = sum(len(c.encode()) for c in chunks)
da = daachorse.CharwiseDoubleArrayAhoCorasick(words, match_kind=daachorse.MATCH_KIND_LEFTMOST_LONGEST)


def start(path):
    proc = subprocess.Popen([path, "--data", args.data, "--serve", "--msg-mb", str(args.msg_mb)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.strip() == "ready":
            break
    return proc


def ask(proc, command):
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


procs = {"new": start(args.bin)}
if args.baseline_bin:
    procs["baseline"] = start(args.baseline_bin)

rounds = []
for k in range(args.rounds):
    gc.collect()
    t0 = time.perf_counter()
    hits = sum(len(da.find(m)) for m in sub)
    dt = time.perf_counter() - t0
    order = list(procs) if k % 2 == 0 else list(reversed(list(procs)))
    rounds.append((dt, {name: ask(procs[name], "pass") for name in order}))
bulk_rounds = []
for k in range(args.bulk_rounds):
    gc.collect()
    t0 = time.perf_counter()
    bulk_hits = sum(len(da.find(c)) for c in chunks)
    dt = time.perf_counter() - t0
    order = list(procs) if k % 2 == 0 else list(reversed(list(procs)))
    bulk_rounds.append((dt, {name: ask(procs[name], "bulk") for name in order}))
for proc in procs.values():
    proc.stdin.close()
    proc.wait()

n = len(sub)
best_da = min(r[0] for r in rounds)
result = {"rounds": args.rounds, "messages": n, "message_bytes": acc, "daachorse_best_msgs_per_s": n / best_da,
          "daachorse_matches": hits}
for name, prefix in (("new", ""), ("baseline", "baseline_")):
    if name not in procs:
        continue
    for key in ("full", "scan", "count", "exact"):
        best = min(r[1][name][key] for r in rounds)
        result[f"{prefix}swift_{key}_best_msgs_per_s"] = n / best
        result[f"{prefix}swift_{key}_best_MB_per_s"] = acc / 1e6 / best
        result[f"{prefix}ratio_{key}_best"] = best_da / best
        result[f"{prefix}ratio_{key}_median"] = statistics.median(r[0] / r[1][name][key] for r in rounds)
if "baseline" in procs:
    for key in ("full", "scan", "count", "exact"):
        result[f"speedup_{key}_median"] = statistics.median(r[1]["baseline"][key] / r[1]["new"][key] for r in rounds)
        result[f"speedup_{key}_best"] = min(r[1]["baseline"][key] for r in rounds) / min(r[1]["new"][key] for r in rounds)
if bulk_rounds:
    best_da_bulk = min(r[0] for r in bulk_rounds)
    result.update({"bulk_rounds": args.bulk_rounds, "bulk_bytes": bulk_bytes,
                   "bulk_daachorse_best_MB_per_s": bulk_bytes / 1e6 / best_da_bulk, "bulk_daachorse_matches": bulk_hits})
    for name, prefix in (("new", "bulk_"), ("baseline", "bulk_baseline_")):
        if name not in procs:
            continue
        for key in ("full", "exact"):
            best = min(r[1][name][key] for r in bulk_rounds)
            result[f"{prefix}swift_{key}_best_MB_per_s"] = bulk_bytes / 1e6 / best
            result[f"{prefix}ratio_{key}_median"] = statistics.median(r[0] / r[1][name][key] for r in bulk_rounds)
    if "baseline" in procs:
        for key in ("full", "exact"):
            result[f"bulk_speedup_{key}_median"] = statistics.median(
                r[1]["baseline"][key] / r[1]["new"][key] for r in bulk_rounds)
print(json.dumps(result))
