"""Pick routing benchmark: optimised route vs S-shape on random 40-line instances.

Run: ``.venv/bin/python bench/bench_route.py [--instances N] [--lines N] [--aisles N]``.
Prints p50/p99 time of ``optimised_route`` (target < 5 ms), checks the route is never
longer than the S-shape baseline on any instance, and prints the average saving.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from domain.models import Location
from domain.routing import Layout, PickLine, optimised_route, route_length, s_shape_route


def instance(rng: random.Random, lines: int, aisles: int, bays: int) -> list[PickLine]:
    """Random pick lines spread over ``aisles`` aisles of ``bays`` bays."""
    picks = []
    for n in range(lines):
        aisle, bay = rng.randint(1, aisles), rng.randint(1, bays)
        location = Location("BENCH", f"A{aisle:02d}-{bay:02d}-1", aisle=aisle, bay=bay)
        picks.append(PickLine(f"O{n % 5}", f"SKU-{n}", location, 1))
    return picks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--aisles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bays = 25
    layout = Layout(aisle_length_m=bays * 1.2 + 1.2)
    rng = random.Random(args.seed)
    times_ms: list[float] = []
    savings: list[float] = []
    worse = 0
    for _ in range(args.instances):
        lines = instance(rng, args.lines, args.aisles, bays)
        started = time.perf_counter()
        route = optimised_route(lines, layout)
        times_ms.append((time.perf_counter() - started) * 1000)
        s_len = route_length(s_shape_route(lines, layout), layout)
        o_len = route_length(route, layout)
        if o_len > s_len + 1e-9 or sorted(map(id, route)) != sorted(map(id, lines)):
            worse += 1
        savings.append(100.0 * (s_len - o_len) / s_len if s_len else 0.0)
    times_ms.sort()
    p50 = statistics.median(times_ms)
    p99 = times_ms[min(len(times_ms) - 1, int(len(times_ms) * 0.99))]
    print(f"instances: {args.instances} x {args.lines} lines, {args.aisles} aisles x {bays} bays")
    print(f"optimised_route time: p50 {p50:.2f} ms, p99 {p99:.2f} ms (target < 5 ms)")
    print(f"longer than S-shape or not visiting every line once: {worse} instances")
    print(f"average saving vs S-shape: {statistics.fmean(savings):.1f}%")
    return 1 if worse else 0


if __name__ == "__main__":
    raise SystemExit(main())
