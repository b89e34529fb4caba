#!/usr/bin/env python3
"""Prints the OCI blob benchmark's table from its results TSV (metric, target, round, value):
medians over rounds with (min..max), and proxy/direct ratios taken round by round."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import load, number, print_table, ratio, summary  # noqa: E402

METRICS = [
    ("push", "blob push (POST, chunked PATCH, PUT)", "MiB/s", 1 / 1048576),
    ("pull", "blob pull (GET)", "MiB/s", 1 / 1048576),
    ("rss", "proxy peak RSS during its push + pull", "MiB", 1 / 1024),
]


def main():
    data, notes = load(sys.argv[1])
    rows = []
    for metric, label, unit, scale in METRICS:
        cells = [summary([v * scale for v in data.get((metric, t), {}).values()], number)
                 for t in ("direct", "proxy")]
        both = all(c != "-" for c in cells)
        rows.append([label, unit, *cells, ratio(data, metric, "direct") if both else "-"])
    print_table(["figure", "unit", "direct", "proxy", "proxy/direct"], rows)
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
