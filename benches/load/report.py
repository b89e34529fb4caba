#!/usr/bin/env python3
"""Prints the load harness's one table from its results TSV (metric, target, round, value).

Each cell is the median over rounds with the range (min..max); ratios are taken round by round
(proxy vs direct / nginx in the same round) and summarised the same way.
"""

import statistics
import sys
from collections import defaultdict

TARGETS = ["direct", "nginx", "proxy"]

# metric -> (label, unit, scale applied to raw values)
METRICS = [
    ("get_rps", "small GET, keep-alive", "req/s", 1),
    ("get_p50", "small GET p50 latency", "ms", 1e-3),
    ("get_p99", "small GET p99 latency", "ms", 1e-3),
    ("get_added_p99", "small GET p99 added over direct", "ms", 1e-3),
    ("download", "1 GiB download", "MiB/s", 1 / 1048576),
    ("upload", "1 GiB upload", "MiB/s", 1 / 1048576),
    ("stream_rss", "peak RSS while streaming", "MiB", 1 / 1024),
    ("idle_rss_0", "RSS before idle connections", "MiB", 1 / 1024),
    ("idle_rss_1000", "RSS, 1,000 idle keep-alive conns", "MiB", 1 / 1024),
    ("idle_rss_10000", "RSS, 10,000 idle keep-alive conns", "MiB", 1 / 1024),
    ("first_p50", "new-token first request p50", "ms", 1e3),
    ("first_p99", "new-token first request p99", "ms", 1e3),
]

# The bench-client paths: direct to the plain and the TLS upstream, the reverse proxy (path
# form), the forward proxy (absolute-form) and CONNECT with TLS interception.
CLIENT_TARGETS = ["direct_http", "reverse", "forward", "direct_https", "connect"]
CLIENT_METRICS = [
    ("client_rps", "keep-alive GET", "req/s", 1),
    ("client_p50", "keep-alive GET p50", "ms", 1e-3),
    ("client_p99", "keep-alive GET p99", "ms", 1e-3),
]
# (target, baseline) pairs whose round-by-round ratio is shown.
CLIENT_RATIOS = [("reverse", "direct_http"), ("forward", "direct_http"),
                 ("connect", "direct_https"), ("connect", "forward")]


def load(path):
    data = defaultdict(dict)  # (metric, target) -> {round: value}
    notes = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "note":
                notes.append(parts[1])
                continue
            metric, target, rnd, value = parts
            data[(metric, target)][int(rnd)] = float(value)
    return data, notes


def add_derived(data):
    direct = data.get(("get_p99", "direct"), {})
    for target in ("nginx", "proxy"):
        mine = data.get(("get_p99", target), {})
        added = {r: mine[r] - direct[r] for r in mine if r in direct}
        if added:
            data[("get_added_p99", target)] = added


def summary(values, fmt):
    if not values:
        return "-"
    values = sorted(values)
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(values[0])}..{fmt(values[-1])})"


def number(x):
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(data, metric, other, target="proxy"):
    mine = data.get((metric, target), {})
    theirs = data.get((metric, other), {})
    per_round = [mine[r] / theirs[r] for r in mine if r in theirs and theirs[r] != 0]
    return summary(per_round, lambda x: f"{x:.2f}x")


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def client_table(data):
    """The bench-client comparison: the same keep-alive client on every path."""
    rows = []
    for metric, label, unit, scale in CLIENT_METRICS:
        cells = [summary([v * scale for v in data.get((metric, t), {}).values()], number)
                 for t in CLIENT_TARGETS]
        if all(c == "-" for c in cells):
            continue
        ratios = [ratio(data, metric, base, target) for target, base in CLIENT_RATIOS]
        rows.append([label, unit, *cells, *ratios])
    if rows:
        header = ["bench-client figure", "unit", *CLIENT_TARGETS,
                  *[f"{t}/{b}" for t, b in CLIENT_RATIOS]]
        print()
        print_table(header, rows)


def main():
    data, notes = load(sys.argv[1])
    add_derived(data)
    header = ["figure", "unit", *TARGETS, "proxy/direct", "proxy/nginx"]
    rows = []
    for metric, label, unit, scale in METRICS:
        cells = [summary([v * scale for v in data.get((metric, t), {}).values()], number)
                 for t in TARGETS]
        if all(c == "-" for c in cells):
            continue
        if "proxy" in [t for t, c in zip(TARGETS, cells) if c != "-"]:
            ratios = [ratio(data, metric, "direct"), ratio(data, metric, "nginx")]
        else:
            ratios = ["-", "-"]
        rows.append([label, unit, *cells, *ratios])
    print_table(header, rows)
    client_table(data)
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
