#!/usr/bin/env python3
"""Checks the JSON lines parley-bench wrote during bench/smoke.sh: every scenario ran once, sent and received
exactly what its shape implies, and lost, duplicated, refused and left unanswered nothing.

Usage: smoke_check.py RESULTS.jsonl   (exit status 1 and one line per problem when anything is off)
No speed is checked: the smoke run is small and the machine shared.
"""
import json
import sys


def number(report, key):
    value = report.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise KeyError(f"{key} is missing or not a number ({value!r})")
    return value


def nonzero(report, keys):
    """A problem for each count among `keys` that is not 0."""
    return [f"{key} {number(report, key)}" for key in keys if number(report, key) != 0]


def not_positive(report, checks):
    """The problem text of each (key, problem) whose figure is not above 0."""
    return [problem for key, problem in checks if number(report, key) <= 0]


def check_messaging(report, expected_sent, expected_deliveries, expected_with_echo=None):
    """Problems of a pairs/group/fanout/paced report; expected_sent None means 'whatever was sent, all of it'."""
    problems = []
    sent = number(report, "sent")
    if expected_sent is not None and sent != expected_sent:
        problems.append(f"sent {sent}, expected {expected_sent}")
    if sent <= 0:
        problems.append("sent nothing")
    for key, want in [("acked", sent), ("deliveries", expected_deliveries(sent))]:
        if number(report, key) != want:
            problems.append(f"{key} {number(report, key)}, expected {want}")
    if expected_with_echo is not None and number(report, "deliveries_incl_echo") != expected_with_echo(sent):
        problems.append(f"deliveries_incl_echo {number(report, 'deliveries_incl_echo')}, expected {expected_with_echo(sent)}")
    problems += nonzero(report, ["refused", "unanswered", "duplicate_acks", "lost", "duplicated", "unexpected_closes",
                                 "slow_consumer_closes"])
    if report.get("other_errors"):
        problems.append(f"other_errors {report['other_errors']}")
    if not 0 < number(report, "latency_p50_ms") <= number(report, "latency_p99_ms") <= number(report, "latency_max_ms"):
        problems.append("latencies are not 0 < p50 <= p99 <= max")
    return problems


def check_server_figures(report):
    return not_positive(report, [("server_cpu_s", "no server CPU time read (--server-pid)"),
                                 ("server_peak_rss_mb", "no server RSS read (--server-pid)")])


def check(report):
    label = report.get("label")
    if report.get("timed_out"):
        return ["timed out"]
    if label == "pairs":
        pairs, per_sender = number(report, "conversations"), number(report, "messages_per_sender")
        return check_messaging(report, pairs * per_sender, lambda sent: sent, lambda sent: 2 * sent) + check_server_figures(report)
    if label == "dm":
        return check_messaging(report, number(report, "messages_per_sender"), lambda sent: sent) + check_server_figures(report)
    if label == "group":
        members, per_sender = number(report, "connections"), number(report, "messages_per_sender")
        return check_messaging(report, members * per_sender, lambda sent: sent * (members - 1),
                               lambda sent: sent * members) + check_server_figures(report)
    if label == "fanout":
        receivers = number(report, "connections") - 1
        return check_messaging(report, number(report, "messages_per_sender"), lambda sent: sent * receivers) + \
            check_server_figures(report)
    if label == "paced":
        return check_messaging(report, None, lambda sent: sent) + \
            not_positive(report, [("rate_msgs_per_s", "no send rate reported")]) + check_server_figures(report)
    if label == "reconnect":
        problems = []
        clients = number(report, "clients")
        if number(report, "resumed") != clients:
            problems.append(f"resumed {number(report, 'resumed')} of {clients}")
        problems += nonzero(report, ["reconnect_failures", "hello_not_resumed", "resync_required", "lost", "lost_during_storm",
                                     "duplicated", "unexpected_closes"])
        problems += not_positive(report, [("acked", "no message was sent during the run"),
                                          ("drop_to_all_resumed_ms", "no resume time measured")])
        return problems + check_server_figures(report)
    if label == "idle":
        problems = []
        connections = number(report, "connections")
        for key in ["connected", "still_open_after_hold"]:
            if number(report, key) != connections:
                problems.append(f"{key} {number(report, key)} of {connections}")
        problems += nonzero(report, ["failed", "unexpected_closes"])
        number(report, "server_rss_per_connection_kb")
        return problems + not_positive(report, [("server_rss_connected_mb", "no server RSS read (--server-pid)")])
    return [f"unexpected label {label!r}"]


def main():
    reports = []
    with open(sys.argv[1]) as lines:
        for line in lines:
            if line.strip():
                reports.append(json.loads(line))
    expected = {"pairs", "group", "fanout", "dm", "paced", "reconnect", "idle"}
    labels = [report.get("label") for report in reports]
    problems = [f"{label}: no report" for label in sorted(expected - set(labels))]
    problems += [f"{label}: {labels.count(label)} reports" for label in sorted(set(labels)) if labels.count(label) > 1]
    for report in reports:
        try:
            problems += [f"{report.get('label')}: {problem}" for problem in check(report)]
        except KeyError as error:
            problems.append(f"{report.get('label')}: {error.args[0]}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"parley-bench: {len(reports)} scenarios, every count as expected, nothing lost or duplicated")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
