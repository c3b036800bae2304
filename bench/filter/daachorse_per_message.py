#!/usr/bin/env python3
"""Quick daachorse reference for A/B runs next to parley-filter-bench.

Times daachorse charwise leftmost-longest in per-message mode exactly as filter_bench.py does (one
`find()` call per message over the first --msg-mb MB of messages, bytes counted as UTF-8 length + 1,
best of --repeat), on the dump written by `filter_bench.py --dump DIR`. Prints one JSON line.
"""
import argparse
import gc
import json
import time

import daachorse

ap = argparse.ArgumentParser()
ap.add_argument("--data", default="/tmp/filterdata")
ap.add_argument("--msg-mb", type=float, default=5.0)
ap.add_argument("--repeat", type=int, default=5)
args = ap.parse_args()

words = open(f"{args.data}/dict.txt", encoding="utf-8").read().split("\n")
words = [w for w in words if w]
sub, acc = [], 0
with open(f"{args.data}/corpus.txt", encoding="utf-8") as f:
    for line in f:
        m = line.rstrip("\n")
        sub.append(m)
        acc += len(m.encode()) + 1
        if acc >= args.msg_mb * 1e6:
            break
da = daachorse.CharwiseDoubleArrayAhoCorasick(words, match_kind=daachorse.MATCH_KIND_LEFTMOST_LONGEST)
best, hits = None, 0
for _ in range(args.repeat):
    gc.collect()
    t0 = time.perf_counter()
    hits = sum(len(da.find(m)) for m in sub)
    dt = time.perf_counter() - t0
    best = dt if best is None or dt < best else best
print(json.dumps({"lib": "daachorse charwise leftmost-longest", "messages": len(sub), "msgs_per_s": len(sub) / best,
                  "MB_per_s": acc / 1e6 / best, "matches": hits}))
