#!/usr/bin/env python3
"""Builds the markdown results table from one bench/filter/run.sh output folder (argument: the folder)."""
import json
import os
import sys

out = sys.argv[1]
py = json.load(open(os.path.join(out, "filter_bench_results.json")))
sw = json.load(open(os.path.join(out, "swift.json")))
adj = [json.loads(open(os.path.join(out, f)).read()) for f in ("daachorse_before.json", "daachorse_after.json")
       if os.path.exists(os.path.join(out, f))]


def row(rows, lib):
    return next((r for r in rows if r["lib"] == lib), None)


da_msg = row(py["per_message"], "daachorse charwise leftmost-longest")
da_bulk = row(py["bulk"], "daachorse charwise str, leftmost-longest")
swift_rows = {r["name"]: r for r in sw["rows"]}
lines = []
p = lines.append
p(f"# ModerationFilter benchmark ({py['meta']['cpu']}, {py['meta']['cores']} cores, python {py['meta']['python']})")
p("")
p(f"Dictionary {py['meta']['words']} words; corpus {py['meta']['mb']:.1f} MB, {py['meta']['messages']} messages; "
  f"per-message slice {sw['messages']} messages ({sw['message_mb']:.1f} MB). Single thread. "
  "Ratios are to daachorse charwise leftmost-longest measured by filter_bench.py in this run.")
p("")
p("## Per message (one call per chat message)")
p("")
p("| Engine | msgs/s | MB/s | matches | × daachorse (filter_bench.py) | × daachorse (adjacent re-run, best) |")
p("|---|---:|---:|---:|---:|---:|")
best_adj = max((a["msgs_per_s"] for a in adj), default=None)
for r in py["per_message"]:
    ratio = r["msgs_per_s"] / da_msg["msgs_per_s"] if da_msg else float("nan")
    p(f"| {r['lib']} (python) | {r['msgs_per_s']:,.0f} | {r['MB_per_s']:.1f} | {r['matches']} | {ratio:.2f} | |")
for a in adj:
    p(f"| daachorse, adjacent re-run (python) | {a['msgs_per_s']:,.0f} | {a['MB_per_s']:.1f} | {a['matches']} | "
      f"{a['msgs_per_s'] / da_msg['msgs_per_s']:.2f} | |")
for name, r in swift_rows.items():
    if "msgs_per_s" not in r:
        continue
    ratio = r["msgs_per_s"] / da_msg["msgs_per_s"] if da_msg else float("nan")
    ratio_adj = f"{r['msgs_per_s'] / best_adj:.2f}" if best_adj else ""
    p(f"| **Swift {name}** | {r['msgs_per_s']:,.0f} | {r['MB_per_s']:.1f} | {r['matches']} | **{ratio:.2f}** | {ratio_adj} |")
p("")
ab_path = os.path.join(out, "interleave.json")
if os.path.exists(ab_path):
    ab = json.load(open(ab_path))
    p("### Interleaved A/B (daachorse and Swift passes alternate; same load for both)")
    p("")
    p(f"{ab['rounds']} rounds; daachorse best {ab['daachorse_best_msgs_per_s']:,.0f} msgs/s.")
    p("")
    p("| Swift variant | best msgs/s | × daachorse (best vs best) | × daachorse (median of per-round ratios) |")
    p("|---|---:|---:|---:|")
    names = {"full": "full pipeline (all folds + allow-list + replace), `apply`",
             "scan": "all folds + allow-list, `scan` (matches built, no rewrite)",
             "count": "all folds + allow-list, `matchCount`",
             "exact": "exact match only, `matchCount`"}
    for key, name in names.items():
        p(f"| {name} | {ab[f'swift_{key}_best_msgs_per_s']:,.0f} | {ab[f'ratio_{key}_best']:.2f} | "
          f"{ab[f'ratio_{key}_median']:.2f} |")
    p("")
    if "baseline_swift_full_best_msgs_per_s" in ab:
        p("Baseline build (`BASELINE_BIN`) in the same rounds:")
        p("")
        p("| Swift variant | baseline best msgs/s | baseline × daachorse (best / median) | "
          "speed-up over baseline (best / median of per-round ratios) |")
        p("|---|---:|---:|---:|")
        for key, name in names.items():
            p(f"| {name} | {ab[f'baseline_swift_{key}_best_msgs_per_s']:,.0f} | "
              f"{ab[f'baseline_ratio_{key}_best']:.2f} / {ab[f'baseline_ratio_{key}_median']:.2f} | "
              f"{ab[f'speedup_{key}_best']:.2f} / {ab[f'speedup_{key}_median']:.2f} |")
        p("")
    if ab.get("bulk_rounds"):
        p(f"Bulk, interleaved ({ab['bulk_rounds']} rounds over the first {ab['bulk_bytes'] / 1e6:.1f} MB, "
          f"one call per ~1 MB chunk); daachorse leftmost-longest best {ab['bulk_daachorse_best_MB_per_s']:.1f} MB/s:")
        p("")
        p("| Swift variant | best MB/s | × daachorse (median of per-round ratios) | baseline best MB/s | "
          "speed-up over baseline (median) |")
        p("|---|---:|---:|---:|---:|")
        for key, name in (("full", "full pipeline, `apply`"), ("exact", "exact match only, `matchCount`")):
            base = ab.get(f"bulk_baseline_swift_{key}_best_MB_per_s")
            speedup = ab.get(f"bulk_speedup_{key}_median")
            p(f"| {name} | {ab[f'bulk_swift_{key}_best_MB_per_s']:.1f} | {ab[f'bulk_ratio_{key}_median']:.2f} | "
              f"{f'{base:.1f}' if base else ''} | {f'{speedup:.2f}' if speedup else ''} |")
        p("")
p("## Bulk (one call per ~1 MB chunk)")
p("")
p("| Engine | MB/s | matches | × daachorse |")
p("|---|---:|---:|---:|")
for lib in ("daachorse charwise str, leftmost-longest", "daachorse charwise str, overlapping",
            "ahocorasick_rs str, leftmost-longest", "ahocorasick_rs bytes, leftmost-longest, ContiguousNFA",
            "pyahocorasick iter_long() leftmost-longest", "flashtext extract_keywords (word-bounded)"):
    r = row(py["bulk"], lib)
    if r:
        p(f"| {lib} (python) | {r['MB_per_s']:.1f} | {r['matches']} | {r['MB_per_s'] / da_bulk['MB_per_s']:.2f} |")
for name, r in swift_rows.items():
    if "msgs_per_s" in r:
        continue
    p(f"| **Swift {name}** | {r['MB_per_s']:.1f} | {r['matches']} | **{r['MB_per_s'] / da_bulk['MB_per_s']:.2f}** |")
p("")
p("## Build and memory (Swift)")
p("")
p("| Dictionary | build | states | bytes/state |")
p("|---|---:|---:|---:|")
p(f"| dict.txt, 10k words + 200 allow-list phrases | {sw['build_ms_dict']:.1f} ms | {sw['states_dict']} | "
  f"{sw['bytes_per_state_dict']:.2f} |")
p(f"| synthetic 60k words | {sw['build_ms_60k']:.1f} ms (first build in process, incl. fold tables: "
  f"{sw['build_ms_60k_cold']:.1f} ms) | {sw['states_60k']} | {sw['bytes_per_state_60k']:.2f} |")
p("")
p("## Checks")
p("")
for c in sw["checks"]:
    status = "OK" if c["expected"] is not None and c["got"] == c["expected"] else (
        "no reference" if c["expected"] is None else "MISMATCH")
    p(f"* {c['name']}: {c['got']} (expected {c['expected']}) {status}")
print("\n".join(lines))
