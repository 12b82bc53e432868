"""Device-store look-ups behind every scan, in a store the size of a busy site.

A handheld or pack station finds the order in a scanned tote, the SKU of a scanned GTIN
and, for a tote it does not know, the order that set it aside for a top-up. This fills a
device store (a real SQLite file) as a pull would, with ``--orders`` open orders (one in
50 being picked) and ``--skus`` SKUs, and prints each look-up's median and p99.

    .venv/bin/python bench/bench_lookup.py [--orders 5000] [--skus 10000] [--rounds 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.store import LocalStore

SITE = "DE-FRA"


def order(i: int) -> dict[str, Any]:
    tote = f"TOTE-{i:06d}"
    return {
        "id": f"O-{i}",
        "warehouse": SITE,
        "status": "picking" if i % 50 == 0 else "allocated",
        "priority": {"level": "P3", "score": 40.0, "reasons": []},
        "deadline": "2026-11-27T18:00:00+00:00",
        "lines": [
            {"sku": f"SKU-{(i * 7 + j) % 1000:05d}", "qty": 2, "picked": 0} for j in range(3)
        ],
        "tote": tote,
        "totes": [tote],
    }


def timed(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """Median and p99 of ``fn`` in ms."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--skus", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="rushline-bench-") as tmp:
        store = LocalStore(Path(tmp) / "device.db", "hh-1", SITE)
        changes = [
            {"entity": "order", "id": f"O-{i}", "data": order(i)} for i in range(args.orders)
        ]
        changes += [
            {
                "entity": "sku",
                "id": f"SKU-{i:05d}",
                "data": {"sku": f"SKU-{i:05d}", "gtin": f"40{i:011d}"},
            }
            for i in range(args.skus)
        ]
        store.apply_changes(changes, cursor=len(changes), epoch="bench")
        cases = {
            "order in a scanned tote": lambda: store.order_by_tote(
                f"TOTE-{rng.randrange(args.orders):06d}"
            ),
            "SKU of a scanned GTIN": lambda: store.sku_by_gtin(
                f"40{rng.randrange(args.skus):011d}"
            ),
            "a tote nobody holds (new)": lambda: store.order_in_tote("TOTE-NEW"),
        }
        print(f"device store: {args.orders} open orders, {args.skus} SKUs")
        for name, fn in cases.items():
            median, p99 = timed(fn, args.rounds)
            print(f"{name:28s} median {median:6.3f} ms   p99 {p99:6.3f} ms")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
