#!/usr/bin/env python3
"""Paired per-round ratios pion/ours (and udp/ours) from run.sh's raw output.

The machine is shared, so absolute figures swing between rounds; ours and
pion's run back to back within a round, so their ratio in that round is
the steadier figure. Prints, per benchmark and metric, the median ratio
over the rounds and its range."""
import re, sys, statistics
from collections import defaultdict

metrics = ["ns/op", "answers/s", "cpu-ns/op", "cpu-ns/answer", "answered-%",
           "handshakes/s", "roundtrips/s", "heap-B/source", "stack-B/source",
           "goroutines/source"]
# rows[(bench, impl)] = list of {metric: value}, one per round in order
rows = defaultdict(list)
for line in open(sys.argv[1] if len(sys.argv) > 1 else "raw.txt"):
    if not line.startswith("Benchmark"):
        continue
    f = line.split()
    name = re.sub(r"-\d+$", "", f[0])
    m = re.match(r"(.*)/impl=(\w+)$", name)
    if not m:
        continue
    vals = {f[i + 1]: float(f[i]) for i in range(2, len(f) - 1, 2)}
    rows[(m.group(1), m.group(2))].append(vals)

benches = sorted({b for b, _ in rows})
print(f"{'benchmark':28} {'metric':18} {'ours (median)':>14} {'pion (median)':>14} "
      f"{'pion/ours median [min..max] per round':>40} {'udp/ours median':>16}")
for b in benches:
    ours = rows.get((b, "ours"), [])
    for met in metrics:
        if not ours or met not in ours[0]:
            continue
        o = [r[met] for r in ours]
        out = f"{b:28} {met:18} {statistics.median(o):14.6g}"
        for other in ("pion", "udp"):
            rs = rows.get((b, other))
            if not rs:
                out += f" {'':>14} {'':>40}" if other == "pion" else ""
                continue
            v = [r[met] for r in rs]
            ratios = [y / x for x, y in zip(o, v) if x]
            if other == "pion":
                out += f" {statistics.median(v):14.6g}"
                out += (f" {statistics.median(ratios):10.3g}x [{min(ratios):.3g}..{max(ratios):.3g}]".rjust(41)
                        if ratios else f" {'n/a (ours is 0)':>40}")
            else:
                out += f" {statistics.median(ratios):15.3g}x" if ratios else ""
        print(out)
