"""Benchmark: a fresh device store pulls 50,000 changes from a real central server
(target < 3 s). The central database is seeded before the server starts through the
master data import (`rushline central import`): 10,000 SKUs + 20,000 bins + 20,000 stock
rows of the device's site = 50,000 feed rows.

    .venv/bin/python bench/bench_pull.py [--skus 10000] [--bins 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_drain import SITE, free_port, rushline, start_central, stop_central

from sync.client import SyncClient
from sync.store import LocalStore


def gtin13(body12: str) -> str:
    """A GTIN-13 with its check digit (weights 1, 3 from the left)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--bins", type=int, default=20_000)
    parser.add_argument("--page", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rl-bench-pull-") as tmp:
        work = Path(tmp)
        db = str(work / "central.db")
        master = {
            "warehouses": [
                {
                    "id": SITE,
                    "name": "Frankfurt",
                    "country": "DE",
                    "postcode": "60311",
                    "timezone": "Europe/Berlin",
                }
            ],
            "locations": [
                {
                    "warehouse": SITE,
                    "code": f"A{i // 100:03d}-{i % 100:02d}-1",
                    "zone": "A",
                    "aisle": i // 100,
                    "bay": i % 100,
                    "level": 1,
                    "kind": "pick",
                }
                for i in range(args.bins)
            ],
            "skus": [
                {
                    "sku": f"SKU-{i:05d}",
                    "gtin": gtin13(f"{400638100000 + i}"),
                    "name": f"Item {i}",
                    "weight_g": 100 + i % 900,
                    "dims_mm": [100, 80, 60],
                    "reorder_point": 5,
                }
                for i in range(args.skus)
            ],
            "stock": [
                {
                    "warehouse": SITE,
                    "location": f"A{i // 100:03d}-{i % 100:02d}-1",
                    "sku": f"SKU-{i % args.skus:05d}",
                    "qty": 10 + i % 50,
                }
                for i in range(args.bins)
            ],
        }
        (work / "master.json").write_text(json.dumps(master))
        t0 = time.perf_counter()
        rushline("central", "import", "--db", db, str(work / "master.json"))
        seed_s = time.perf_counter() - t0
        token = (
            rushline(
                "central",
                "token",
                "--db",
                db,
                "--role",
                "device",
                "--device",
                "bench-pull",
                "--site",
                SITE,
            )
            .splitlines()[-1]
            .strip()
        )
        port = free_port()
        proc = start_central(db, port)
        try:
            with (
                LocalStore(work / "device.db", "bench-pull", SITE) as store,
                SyncClient(
                    store, f"http://127.0.0.1:{port}", token, timeout=60, pull_limit=args.page
                ) as client,
            ):
                t0 = time.perf_counter()
                result = client.run_once()
                pull_s = time.perf_counter() - t0
                counts = {e: store.count(e) for e in ("sku", "location", "stock")}
                t0 = time.perf_counter()
                again = client.run_once()
                idle_s = time.perf_counter() - t0
        finally:
            stop_central(proc)
        total = args.skus + 2 * args.bins
        print(f"central seeded by master data import  {seed_s:6.2f} s ({total:,} feed rows)")
        print(
            f"full pull into a fresh store          {pull_s:6.2f} s ({result.pulled:,} changes, "
            f"{result.pulled / pull_s:,.0f}/s, pages of {args.page})"
        )
        print(f"rows in the device view               {counts}")
        print(
            f"next round with nothing new           {idle_s * 1000:6.1f} ms (pulled {again.pulled})"
        )
        print(f"error                                 {result.error}")
        print(f"target < 3 s                          {'met' if pull_s < 3 else 'NOT met'}")
        return 0 if result.ok and result.pulled >= total else 1


if __name__ == "__main__":
    sys.exit(main())
