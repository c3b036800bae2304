#!/usr/bin/env python3
"""Interleaved A/B: daachorse vs the Swift filter, per message, alternating pass by pass.

On a shared, loaded machine two measurements taken a minute apart are not comparable. This driver keeps
the Swift bench running (`parley-filter-bench --serve`) and alternates one daachorse per-message pass (timed
here, exactly as filter_bench.py times it) with one pass of each Swift variant, for --rounds rounds. It
reports the best time of each engine and the median of the per-round ratios. Prints one JSON object.

Usage: interleave.py --bin PATH --data DIR [--rounds 30] [--msg-mb 5]
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
args = ap.parse_args()

words = [w for w in open(f"{args.data}/dict.txt", encoding="utf-8").read().split("\n") if w]
sub, acc = [], 0
with open(f"{args.data}/corpus.txt", encoding="utf-8") as f:
    for line in f:
        m = line.rstrip("\n")
        sub.append(m)
        acc += len(m.encode()) + 1
        if acc >= args.msg_mb * 1e6:
            break
da = daachorse.CharwiseDoubleArrayAhoCorasick(words, match_kind=daachorse.MATCH_KIND_LEFTMOST_LONGEST)

proc = subprocess.Popen([args.bin, "--data", args.data, "--serve", "--msg-mb", str(args.msg_mb)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
for line in proc.stdout:
    if line.strip() == "ready":
        break

rounds = []
for _ in range(args.rounds):
    gc.collect()
    t0 = time.perf_counter()
    hits = sum(len(da.find(m)) for m in sub)
    dt = time.perf_counter() - t0
    proc.stdin.write("pass\n")
    proc.stdin.flush()
    swift = json.loads(proc.stdout.readline())
    rounds.append((dt, swift))
proc.stdin.close()
proc.wait()

n = len(sub)
best_da = min(r[0] for r in rounds)
result = {"rounds": args.rounds, "messages": n, "daachorse_best_msgs_per_s": n / best_da, "daachorse_matches": hits}
for key in ("full", "scan", "count", "exact"):
    best = min(r[1][key] for r in rounds)
    result[f"swift_{key}_best_msgs_per_s"] = n / best
    result[f"ratio_{key}_best"] = best_da / best
    result[f"ratio_{key}_median"] = statistics.median(r[0] / r[1][key] for r in rounds)
print(json.dumps(result))
