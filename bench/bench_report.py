"""Benchmark: the analytics summary over 100,000 orders with their timelines, device ops
and carrier deliveries in a SQLite central database (target < 5 s).

The database is seeded directly through the store in bulk (not timed): a synthetic
week of orders across four priority levels, ~8 timeline rows and ~3 device ops each,
deliveries for the ones already handed over. Then ``build_summary`` (one query per
table + ``domain.analytics``) is timed, and the HTML report rendering separately.

    .venv/bin/python bench/bench_report.py [--orders 100000] [--db PATH --keep]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from central.analytics.summary import build_summary
from central.store import open_store
from central.store.analytics_sql import AnalyticsSql
from central.store.base import OpRecord

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
LEVELS = (("P1", 0.05), ("P2", 0.15), ("P3", 0.30), ("P4", 0.50))
# Median minutes per floor stage by level (urgent orders are hot-picked and packed first).
PICK_MIN = {"P1": 8, "P2": 14, "P3": 45, "P4": 80}
SHIP_MIN = {"P1": 25, "P2": 40, "P3": 150, "P4": 240}
CARRIERS = (
    ("dhl-express", 0.96, 20),
    ("ups-standard", 0.88, 40),
    ("post-economy", 0.72, 60),
    ("gls-parcel", 0.91, 36),
)
COUNTRIES = ("DE", "AT", "PL", "FR", "NL")
HANDHELDS = [f"HH-{i}" for i in range(1, 9)]
PACKERS = ("PACK-1", "PACK-2", "PACK-3")
PICKERS = [f"OP-{i:02d}" for i in range(1, 13)]


def _level(rng: random.Random) -> str:
    x = rng.random()
    for level, share in LEVELS:
        if x < share:
            return level
        x -= share
    return "P4"


def _minutes(rng: random.Random, median: float) -> float:
    return median * rng.lognormvariate(0.0, 0.5)


def seed(store: Any, orders: int, rng: random.Random, now: datetime = NOW) -> None:
    """Write ``orders`` synthetic orders with timelines, ops and deliveries in bulk."""
    start = now - timedelta(days=7)
    docs, timeline, ops, deliveries = [], [], [], []
    seq = 0
    for n in range(orders):
        order_id = f"B-{n:06d}"
        level = _level(rng)
        created = start + timedelta(seconds=rng.uniform(0, 7 * 86400))
        hours = {"P1": 6, "P2": 12, "P3": 36, "P4": 96}[level]
        deadline = created + timedelta(hours=hours)
        service, reliability, transit_h = rng.choice(CARRIERS)
        country = rng.choice(COUNTRIES)
        marks = [created]
        for minutes in (
            _minutes(rng, 2),
            _minutes(rng, PICK_MIN[level]),
            _minutes(rng, 12),
            _minutes(rng, SHIP_MIN[level]),
        ):
            marks.append(marks[-1] + timedelta(minutes=minutes))
        on_time = rng.random() < reliability
        delivered_at = (
            deadline - timedelta(hours=rng.uniform(0.5, 4))
            if on_time
            else deadline + timedelta(hours=rng.uniform(1, 30))
        )
        delivered_at = max(delivered_at, marks[-1] + timedelta(hours=transit_h * 0.25))
        reached = sum(1 for m in marks if m <= now)
        status = ("received", "allocated", "picked", "packed", "shipped")[reached - 1]
        if delivered_at <= now and reached == 5:
            status = "delivered"
        if rng.random() < 0.01:
            status = "cancelled"
        names = ("received", "allocated", "picked", "packed", "shipped")
        for i in range(reached):
            timeline.append((order_id, marks[i].isoformat(), names[i], ""))
        timeline.append((order_id, created.isoformat(), "priority", f"{level}: deadline"))
        if reached >= 2:
            timeline.append((order_id, marks[1].isoformat(), "task", "pick task"))
        if reached >= 3:
            picker = rng.choice(PICKERS)
            device = rng.choice(HANDHELDS)
            picked_at = marks[2].isoformat()
            timeline.append((order_id, picked_at, "picked", f"SKU x1 by {picker}"))
            for _ in range(2):
                seq += 1
                ops.append(
                    OpRecord(
                        f"op-{seq}",
                        device,
                        seq,
                        "pick.confirmed",
                        picked_at,
                        {
                            "order_id": order_id,
                            "sku": "SKU-1",
                            "location": "A01",
                            "qty": rng.randint(1, 3),
                            "operator": picker,
                        },
                        "applied",
                        None,
                        picked_at,
                    )
                )
        if reached >= 4:
            seq += 1
            packed_at = marks[3].isoformat()
            ops.append(
                OpRecord(
                    f"op-{seq}",
                    rng.choice(PACKERS),
                    seq,
                    "order.packed",
                    packed_at,
                    {"order_id": order_id, "carrier_service": service},
                    "applied",
                    None,
                    packed_at,
                )
            )
        if reached >= 5:
            seq += 1
            shipped_at = marks[4].isoformat()
            ops.append(
                OpRecord(
                    f"op-{seq}",
                    "DOCK-1",
                    seq,
                    "order.shipped",
                    shipped_at,
                    {"order_id": order_id},
                    "applied",
                    None,
                    shipped_at,
                )
            )
        if status == "delivered":
            timeline.append((order_id, delivered_at.isoformat(), "delivered", service))
            deliveries.append(
                (
                    order_id,
                    service,
                    country,
                    level,
                    deadline.isoformat(),
                    delivered_at.isoformat(),
                    delivered_at <= deadline,
                )
            )
        docs.append(
            {
                "id": order_id,
                "warehouse": "DE-FRA",
                "customer": {
                    "id": f"C-{n % 5000}",
                    "name": "Customer",
                    "tier": "standard",
                    "flags": [],
                },
                "ship_to": {
                    "name": "N",
                    "line1": "Street 1",
                    "city": "City",
                    "postcode": "10115",
                    "country": country,
                },
                "lines": [{"sku": "SKU-1", "qty": 1, "picked": 1, "packed": 1}],
                "deadline": deadline.isoformat(),
                "created_at": created.isoformat(),
                "status": status,
                "exceptions": [],
                "priority": {"level": level, "score": 50.0, "reasons": []},
                "carrier_service": service,
                "tracking": f"TRK{n:08d}",
                "tracking_token": f"tok-{n}",
                "tote": None,
            }
        )
    with store.transaction() as tx:
        for doc in docs:
            tx.insert_order(doc, "bench")
        tx.add_timeline(timeline)
        tx.record_ops(ops)
        AnalyticsSql(tx).add_deliveries(deliveries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--db", help="database file (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the database (with --db)")
    parser.add_argument("--html", metavar="DIR", help="also write the HTML report to DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rl-bench-report-") as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "central.db"
        if path.exists() and not args.keep:
            print(f"{path} exists: remove it or pass --keep to reuse it", file=sys.stderr)
            return 2
        store = open_store(f"sqlite:///{path}")
        try:
            with store.reader() as tx:
                empty = tx.list_orders(limit=1) == []
            if empty:
                began = time.perf_counter()
                seed(store, args.orders, random.Random(7))
                print(f"seeded {args.orders} orders in {time.perf_counter() - began:.1f} s")
            began, cpu = time.perf_counter(), time.process_time()
            summary = build_summary(store, NOW)
            took, cpu = time.perf_counter() - began, time.process_time() - cpu
        finally:
            store.close()
        print(
            f"summary over {summary.orders_total} orders: {took:.2f} s wall, {cpu:.2f} s CPU "
            f"(target < 5 s) {'OK' if took < 5 else 'SLOW'}"
        )
        print(f"bottleneck: {summary.bottleneck.reason if summary.bottleneck else '-'}")
        print(
            f"urgent on time {summary.on_time_urgent.rate}, standard {summary.on_time_standard.rate}"
        )
        if args.html:
            from rushline.report import write_html

            began = time.perf_counter()
            page = write_html(summary.to_dict(), args.html, keep_png=True)
            print(f"HTML report {page} in {time.perf_counter() - began:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
