#!/usr/bin/env python3
"""Writes bench/compare.md from one run-peers.sh results folder.

Usage: compare.py RESULTS_DIR OUTPUT_MD [README_MD]

With README_MD (bench/README.md), also replaces the block between its `<!-- run-peers:goals:begin -->` and
`<!-- run-peers:goals:end -->` lines with this run's goals table.

Every figure is the median of the repetitions of that shape in this one run; ratios are Parley / peer,
both measured in the same run on the same machine.
"""
import json
import re
import statistics
import sys
from pathlib import Path

results = Path(sys.argv[1])
output = Path(sys.argv[2])
readme = Path(sys.argv[3]) if len(sys.argv) > 3 else None


def median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def parley_runs():
    """{variant: {shape: [report, ...]}} from parley-<variant>.jsonl."""
    runs = {}
    for path in sorted(results.glob("parley-*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                report = json.loads(line)
            except ValueError:
                continue
            variant, _, shape = report.get("label", "").partition(" ")
            runs.setdefault(variant, {}).setdefault(shape, []).append(report)
    return runs


def json_lines(path):
    """[(shape, report)] from lines 'SHAPE {json} loadavg=X'."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        match = re.match(r"^(\S+)\s+(?:\S+\s+)?(\{.*\})\s*(loadavg=\S+)?\s*$", line)
        if not match:
            continue
        try:
            report = json.loads(match.group(2))
        except ValueError:
            continue
        report["_loadavg"] = (match.group(3) or "loadavg=").split("=")[1]
        rows.append((match.group(1), report))
    return rows


def key_values(path):
    """[(shape, {k: v})] from lines 'SHAPE k=v k=v ...' (mqttfan)."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        values = {}
        for part in parts[1:]:
            if "=" in part:
                k, v = part.split("=", 1)
                try:
                    values[k] = float(v)
                except ValueError:
                    values[k] = v
        rows.append((parts[0], values))
    return rows


def med(rows, shape, key):
    return median([r.get(key) for s, r in rows if s == shape])


def pmed(runs, variant, shape, key):
    return median([r.get(key) for r in runs.get(variant, {}).get(shape, [])])


def psum(runs, variant, shape, key):
    values = [r.get(key) for r in runs.get(variant, {}).get(shape, [])]
    values = [v for v in values if isinstance(v, (int, float))]
    return sum(values) if values else None


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "n/a"
    if isinstance(value, float) and digits == 0:
        return f"{value:,.0f}{suffix}"
    return f"{value:,.{digits}f}{suffix}"


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def fmt_ratio(value):
    if value is None:
        return "n/a"
    if value < 0.1:
        return f"{value:.3g}×"
    return f"{value:.2f}×" if value < 100 else f"{value:,.0f}×"


runs = parley_runs()
ejabberd = json_lines(results / "ejabberd.txt")
prosody = json_lines(results / "prosody.txt")
mosquitto = key_values(results / "mosquitto.txt")
# synapse.txt lines are "sqlite dm {json} loadavg=X" (bench_synapse.sh).
synapse = []
if (results / "synapse.txt").exists():
    for line in (results / "synapse.txt").read_text().splitlines():
        match = re.match(r"^\S+\s+(dm|group)\s+(\{.*\})", line)
        if match:
            try:
                synapse.append((match.group(1), json.loads(match.group(2))))
            except ValueError:
                pass
meta = (results / "meta.txt").read_text() if (results / "meta.txt").exists() else ""
variants = [v for v in ("relaxed", "stock") if v in runs] + [v for v in runs if v not in ("relaxed", "stock")]
main = "relaxed" if "relaxed" in runs else (variants[0] if variants else None)

# XMPP per-message server CPU: chat delivers each message once; MUC delivers it to every occupant.
def xmpp_cpu_per_msg(rows, shape):
    values = []
    for s, r in rows:
        if s != shape or not r.get("delivered"):
            continue
        messages = r.get("sent") or r["delivered"]
        values.append(r.get("server_cpu_s", 0) * 1e6 / messages)
    return median(values)


def xmpp_cpu_per_delivery(rows, shape):
    return median([r["server_cpu_s"] * 1e6 / r["delivered"] for s, r in rows if s == shape and r.get("delivered")])


mosq_fan = [r for s, r in mosquitto if s == "fanout100-qos1"]
mosq_rate = median([r.get("delivered_per_s") for r in mosq_fan])
mosq_cpu_per_delivery = median([r["broker_cpu_s"] * 1e6 / r["delivered"] for r in mosq_fan if r.get("delivered")])
mosq_cpu_per_msg = median([r["broker_cpu_s"] * 1e6 / r["sent"] for r in mosq_fan if r.get("sent")])
mosq_paced = [r for s, r in mosquitto if s.startswith("paced200")]

lines = []
w = lines.append
w("# Parley against its peers, measured in one run")
w("")
w("Written by `bench/run-peers.sh` (do not edit by hand; rerun it). Every figure is the median of the repetitions")
w("of that shape in this run; a ratio is Parley / peer, both measured in this run on this machine, client and")
w("server sharing its 2 cores. Raw results: `bench/parley-bench/results/`.")
w("")
w("```")
w(meta.strip())
w("```")
w("")
w("Parley variants: **stock** is `parley serve` as built from this tree, with its default risk-control limits;")
w("**relaxed** is the same binary started with its risk-control limits lifted through its settings")
w("(`PARLEY_RATE_LIMITS=off PARLEY_FLOOD_DETECTION=off PARLEY_WS_FRAMES_PER_SECOND=1000000`: the gateway's inbound")
w("frames per connection, send_message per user and per conversation, logins per address, and the flood/duplicate")
w("detector), the way the peers run with their own limits lifted (Synapse `rc_message`, ejabberd `c2s_shaper: none`).")
w("Both variants run SQLite in WAL mode with `synchronous=NORMAL`; a send is acked only after its transaction committed.")
w("")

# ---------------------------------------------------------------- goals
w("## Goals (issue 8)")
w("")
w(f"Parley column: the **{main}** variant. Server CPU µs are the server's user+system CPU per message (per delivery for fan-out).")
w("")
w("| goal | Parley | peer (same run) | ratio | target | met? | server CPU µs, Parley / peer |")
w("|---|---|---|---|---|---|---|")


def goal_row(name, parley_value, peer_value, target_ratio, unit, cpu_parley, cpu_peer, absolute=None, digits=0):
    r = ratio(parley_value, peer_value)
    if absolute is not None:
        met = "n/a" if parley_value is None else ("yes" if absolute else "**no**")
        target = target_ratio
    else:
        met = "n/a" if r is None else ("yes" if r >= target_ratio else "**no**")
        target = f"≥ {target_ratio:g}×"
    w(f"| {name} | {fmt(parley_value, digits)} {unit} | {fmt(peer_value, digits)} {unit} | {fmt_ratio(r)} | {target} | {met} | "
      f"{fmt(cpu_parley, 1)} / {fmt(cpu_peer, 1)} |")


if main:
    goal_row("1:1, 10 pairs: delivered msgs/s vs ejabberd", pmed(runs, main, "pairs10", "deliveries_per_s"),
             med(ejabberd, "pairs10", "delivered_per_s"), 1, "msg/s",
             pmed(runs, main, "pairs10", "server_cpu_us_per_msg"), xmpp_cpu_per_msg(ejabberd, "pairs10"))
    goal_row("20-member group, every member sends: deliveries/s vs ejabberd MUC",
             pmed(runs, main, "group20", "deliveries_incl_echo_per_s"), med(ejabberd, "group20", "delivered_per_s"), 1, "/s",
             pmed(runs, main, "group20", "server_cpu_us_per_msg"), xmpp_cpu_per_msg(ejabberd, "group20"))
    goal_row("100-member fan-out: deliveries/s vs Mosquitto QoS 1", pmed(runs, main, "fanout100", "deliveries_per_s"),
             mosq_rate, 1, "/s", pmed(runs, main, "fanout100", "server_cpu_us_per_delivery"), mosq_cpu_per_delivery)
    goal_row("1:1 (Synapse's dm shape): sends/s vs Synapse", pmed(runs, main, "synapse-dm", "msgs_per_s"),
             med(synapse, "dm", "sends_per_s"), 500, "msg/s", pmed(runs, main, "synapse-dm", "server_cpu_us_per_msg"),
             median([r["server_cpu_s"] * 1e6 / max(1, r.get("sent_ok", 1)) for s, r in synapse if s == "dm"]))
    goal_row("group (Synapse's group shape): sends/s vs Synapse", pmed(runs, main, "synapse-group", "msgs_per_s"),
             med(synapse, "group", "sends_per_s"), 500, "msg/s", pmed(runs, main, "synapse-group", "server_cpu_us_per_msg"),
             median([r["server_cpu_s"] * 1e6 / max(1, r.get("sent_ok", 1)) for s, r in synapse if s == "group"]))
    goal_row("1:1, 10 pairs (Parley's shape): sends/s vs Synapse dm", pmed(runs, main, "pairs10", "msgs_per_s"),
             med(synapse, "dm", "sends_per_s"), 500, "msg/s", pmed(runs, main, "pairs10", "server_cpu_us_per_msg"), None)
    goal_row("group of 20 (Parley's shape): sends/s vs Synapse group", pmed(runs, main, "group20", "msgs_per_s"),
             med(synapse, "group", "sends_per_s"), 500, "msg/s", pmed(runs, main, "group20", "server_cpu_us_per_msg"), None)
    for variant in variants:
        p99 = pmed(runs, variant, "paced200", "latency_p99_ms")
        goal_row(f"paced 200 msg/s 1:1: p99 send-to-deliver ({variant})", p99, None, "< 5 ms", "ms", None, None,
                 absolute=(p99 is not None and p99 < 5 and (pmed(runs, variant, "paced200", "lost") or 0) == 0), digits=2)
    for variant in variants:
        kb = pmed(runs, variant, "idle", "server_rss_per_connection_kb")
        n = pmed(runs, variant, "idle", "connected")
        goal_row(f"idle: server RSS per connection at {fmt(n)} connections ({variant})", kb, None, "< 10 KB", "KB", None, None,
                 absolute=(kb is not None and kb < 10 and (n or 0) >= 19000), digits=2)
w("")

losses = [(v, shape, r.get("lost"), r.get("lost_sample", "")) for v in variants for shape, reports in runs[v].items()
          for r in reports if r.get("lost")]
if losses:
    w("**Lost messages** (acked, so committed, but never delivered live to a member's connection within the run):")
    w("")
    for v, shape, n, sample in losses:
        w(f"- Parley {v} {shape}: {n} deliveries missing" + (f" ({sample[:300]})" if sample else ""))
    w("")

# ---------------------------------------------------------------- detail
w("## Throughput shapes, every system")
w("")
w("Deliveries count what each connection received: for 1:1 the partner's copies; for groups every occupant's copy,")
w("the sender's own echo included (as xmpp_raw_bench counts MUC), except fan-out, which counts the 100 receivers")
w("only (as mqttfan counts subscribers). Latency is send-to-deliver on one clock (Parley: exact, per message;")
w("XMPP: the raw client's timestamps; unpaced latency is queueing behind the window, not transport).")
w("Parley's window counts sends awaiting their ack (after commit); xmpp_raw_bench's counts messages not yet received.")
w("Messages per sender differ (see `shapes` above: Parley's counts keep a repetition to a second or two); rates are per second.")
w("Parley stock rows: most sends are refused by the default limits (last table), so its rates and CPU per message")
w("describe a few hundred accepted messages plus the refusals' cost, not a throughput.")
w("")
w("| shape | system | msgs/s | deliveries/s | latency p50 / p99 ms | lost / dup | refused | server CPU s | CPU µs per msg | CPU µs per delivery |")
w("|---|---|---|---|---|---|---|---|---|---|")
shapes = [
    ("pairs10", "1:1, 10 pairs, window 200", "deliveries_per_s"),
    ("group20", "group of 20, all 20 send, window 20", "deliveries_incl_echo_per_s"),
    ("group20-1sender", "group of 20, 1 sender × 2000, window 200 (PEERS.md shape)", "deliveries_incl_echo_per_s"),
    ("fanout100", "1 sender → 100 members, window 100", "deliveries_per_s"),
    ("synapse-dm", "Synapse dm: 1 pair × 200, 1 in flight", "deliveries_per_s"),
    ("synapse-group", "Synapse group: 10 members, 10 in flight, 500 msgs", "deliveries_incl_echo_per_s"),
]
for shape, title, delivery_key in shapes:
    for variant in variants:
        reports = runs.get(variant, {}).get(shape, [])
        if not reports:
            continue
        refused = median([r.get("refused") for r in reports])
        w(f"| {title} | Parley {variant} | {fmt(pmed(runs, variant, shape, 'msgs_per_s'))} | "
          f"{fmt(pmed(runs, variant, shape, delivery_key))} | {fmt(pmed(runs, variant, shape, 'latency_p50_ms'), 1)} / "
          f"{fmt(pmed(runs, variant, shape, 'latency_p99_ms'), 1)} | {fmt(psum(runs, variant, shape, 'lost'))} / "
          f"{fmt(psum(runs, variant, shape, 'duplicated'))} | {fmt(refused)} | {fmt(pmed(runs, variant, shape, 'server_cpu_s'), 2)} | "
          f"{fmt(pmed(runs, variant, shape, 'server_cpu_us_per_msg'), 1)} | {fmt(pmed(runs, variant, shape, 'server_cpu_us_per_delivery'), 1)} |")
    for name, rows in (("ejabberd", ejabberd), ("Prosody", prosody)):
        if any(s == shape for s, _ in rows):
            lost = median([r["expected_deliveries"] - r["delivered"] for s, r in rows if s == shape and "expected_deliveries" in r])
            w(f"| {title} | {name} | {fmt(median([r.get('sent') / r['elapsed_s'] for s, r in rows if s == shape and r.get('elapsed_s')]))} | "
              f"{fmt(med(rows, shape, 'delivered_per_s'))} | {fmt(med(rows, shape, 'delay_ms_p50'), 1)} / {fmt(med(rows, shape, 'delay_ms_p99'), 1)} | "
              f"{fmt(lost)} / n/a | – | {fmt(med(rows, shape, 'server_cpu_s'), 2)} | {fmt(xmpp_cpu_per_msg(rows, shape), 1)} | "
              f"{fmt(xmpp_cpu_per_delivery(rows, shape), 1)} |")
    if shape == "fanout100" and mosq_fan:
        w(f"| {title} | Mosquitto QoS 1 (mqttfan) | {fmt(median([r.get('published_per_s') for r in mosq_fan]))} | {fmt(mosq_rate)} | "
          f"{fmt(median([r.get('lat_ms_p50') for r in mosq_fan]), 1)} / {fmt(median([r.get('lat_ms_p99') for r in mosq_fan]), 1)} | "
          f"{fmt(median([r.get('lost') for r in mosq_fan]))} / n/a | – | {fmt(median([r.get('broker_cpu_s') for r in mosq_fan]), 2)} | "
          f"{fmt(mosq_cpu_per_msg, 1)} | {fmt(mosq_cpu_per_delivery, 1)} |")
    if shape in ("synapse-dm", "synapse-group"):
        key = "dm" if shape == "synapse-dm" else "group"
        rows = [r for s, r in synapse if s == key]
        if rows:
            w(f"| {title} | Synapse (SQLite) | {fmt(median([r.get('sends_per_s') for r in rows]), 1)} | – | "
              f"{fmt(median([r.get('delivery_ms_p50') for r in rows]), 1)} / {fmt(median([r.get('delivery_ms_p99') for r in rows]), 1)} | "
              f"{fmt(median([r.get('errors') for r in rows]))} errors | – | {fmt(median([r.get('server_cpu_s') for r in rows]), 2)} | "
              f"{fmt(median([r['server_cpu_s'] * 1e6 / max(1, r.get('sent_ok', 1)) for r in rows]), 1)} | – |")
w("")

w("## Latency, idle connections, reconnect storm (Parley)")
w("")
w("| measure | " + " | ".join(f"Parley {v}" for v in variants) + " |")
w("|---|" + "---|" * len(variants))


def row(title, shape, key, digits=1):
    w(f"| {title} | " + " | ".join(fmt(pmed(runs, v, shape, key), digits) for v in variants) + " |")


row("paced 200 msg/s (100 pairs × 2 msg/s, 19 s): acked", "paced200", "acked", 0)
row("paced: refused", "paced200", "refused", 0)
row("paced: latency p50 ms", "paced200", "latency_p50_ms", 2)
row("paced: latency p99 ms", "paced200", "latency_p99_ms", 2)
row("paced: latency max ms", "paced200", "latency_max_ms", 2)
row("paced: lost", "paced200", "lost", 0)
row("paced: duplicated", "paced200", "duplicated", 0)
row("paced: server CPU µs per message", "paced200", "server_cpu_us_per_msg", 1)
row("idle: connections opened", "idle", "connected", 0)
row("idle: failed", "idle", "failed", 0)
row("idle: handshakes per second", "idle", "connects_per_s", 0)
row("idle: server RSS before, MB", "idle", "server_rss_before_mb", 1)
row("idle: server RSS with all connected, MB", "idle", "server_rss_connected_mb", 1)
row("idle: server RSS per connection, KB", "idle", "server_rss_per_connection_kb", 2)
row("idle: server CPU µs per connect (hello included)", "idle", "server_cpu_us_per_connect", 0)
row("idle: server CPU s while holding (5 s)", "idle", "server_cpu_idle_hold_s", 2)
row("reconnect: clients dropped at once", "reconnect", "clients", 0)
row("reconnect: resumed", "reconnect", "resumed", 0)
row("reconnect: drop → all resumed, ms", "reconnect", "drop_to_all_resumed_ms", 0)
row("reconnect: resume p50 ms", "reconnect", "resume_p50_ms", 0)
row("reconnect: resume p99 ms", "reconnect", "resume_p99_ms", 0)
row("reconnect: messages sent during the storm", "reconnect", "msgs_during_storm", 0)
row("reconnect: lost (during the storm)", "reconnect", "lost", 0)
row("reconnect: duplicated", "reconnect", "duplicated", 0)
row("reconnect: resync_required", "reconnect", "resync_required", 0)
row("reconnect: server CPU s for the storm", "reconnect", "server_cpu_storm_s", 2)
if mosq_paced:
    r = mosq_paced[0]
    w("")
    w(f"Reference: Mosquitto QoS 1, 1 publisher at 200 msg/s → 100 subscribers (20k deliveries/s) in this run: "
      f"p50 {fmt(r.get('lat_ms_p50'), 2)} ms, p99 {fmt(r.get('lat_ms_p99'), 2)} ms, lost {fmt(r.get('lost'))}.")
w("")

# Stock refusals, spelled out.
if "stock" in runs:
    w("## What the stock defaults refuse")
    w("")
    w("| shape | sent | acked | refused by code (all repetitions) |")
    w("|---|---|---|---|")
    for shape, reports in runs["stock"].items():
        if shape in ("idle", "reconnect"):
            continue
        codes = {}
        for r in reports:
            for k, v in (r.get("refused_by_code") or {}).items():
                codes[k] = codes.get(k, 0) + v
        w(f"| {shape} | {fmt(sum(r.get('sent', 0) for r in reports))} | {fmt(sum(r.get('acked', 0) for r in reports))} | "
          + (", ".join(f"{k} {v:,}" for k, v in sorted(codes.items())) or "none") + " |")
    w("")

output.write_text("\n".join(lines) + "\n")
print(f"wrote {output}")


def goals_block():
    """The goals table of `lines`, with the run's date and revision, as the README block's lines."""
    start = lines.index("## Goals (issue 8)") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("## "))
    facts = dict(re.findall(r"^(date|parley): (.*)$", meta, re.M))
    head = f"The last `bench/run-peers.sh` run ({facts.get('date', '?')}, Parley {facts.get('parley', '?')}), as it wrote it:"
    return [head] + lines[start:end]


if readme is not None:
    begin_marker, end_marker = "<!-- run-peers:goals:begin -->", "<!-- run-peers:goals:end -->"
    text = readme.read_text().split("\n")
    if begin_marker not in text or end_marker not in text:
        sys.exit(f"{readme} has no {begin_marker} ... {end_marker} block")
    begin, end = text.index(begin_marker), text.index(end_marker)
    block = goals_block()
    while block and block[-1] == "":
        block.pop()
    readme.write_text("\n".join(text[:begin + 1] + block + text[end:]))
    print(f"updated the goals block of {readme}")
