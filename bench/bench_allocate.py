"""Allocation benchmark: 3-line orders against ~200 SKUs spread over ~2,000 bins.

Run: ``.venv/bin/python bench/bench_allocate.py [--orders N]``. Prints orders/s
(target >= 5,000) and how many orders were complete, short and preempting.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta

from domain.allocation import allocate
from domain.ledger import Movement, StockBook
from domain.models import Customer, Level, Location, LocationKind, Order, OrderLine, ShipTo

WAREHOUSE = "DE-FRA"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def build_book(rng: random.Random, skus: int, bins: int) -> tuple[StockBook, dict[str, Location]]:
    """A book with every bin holding one SKU (some lots with expiry), 10% reserve bins."""
    book = StockBook()
    locations: dict[str, Location] = {}
    for n in range(bins):
        code = f"A{n // 100:02d}-{n % 100:02d}-1"
        kind = LocationKind.RESERVE if (n // skus) % 10 == 9 else LocationKind.PICK
        locations[code] = Location(WAREHOUSE, code, aisle=n // 100, bay=n % 100, kind=kind)
        sku = f"SKU-{n % skus:04d}"
        expiry = date(2027, 1, 1) + timedelta(days=rng.randint(0, 300)) if n % 3 == 0 else None
        book.apply(
            Movement(
                f"rcv-{n}",
                WAREHOUSE,
                code,
                sku,
                rng.randint(10, 90),
                "receipt",
                NOW - timedelta(days=rng.randint(1, 90)),
                lot=f"L{n}" if expiry else None,
                expiry=expiry,
            )
        )
    return book, locations


def make_orders(rng: random.Random, count: int, skus: int) -> list[tuple[Order, Level]]:
    customer = Customer("C1", "Bench Customer")
    ship_to = ShipTo("Bench Customer", "Main St 1", "Berlin", "10115", "DE")
    orders = []
    for n in range(count):
        lines = tuple(
            OrderLine(f"SKU-{s:04d}", rng.randint(1, 3)) for s in rng.sample(range(skus), 3)
        )
        level = rng.choices(list(Level), weights=[1, 2, 3, 14])[0]
        order = Order(f"ORD-{n}", customer, ship_to, lines, NOW + timedelta(hours=24), NOW)
        orders.append((order, level))
    return orders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--bins", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    book, locations = build_book(rng, args.skus, args.bins)
    orders = make_orders(rng, args.orders, args.skus)
    complete = preempting = 0
    started = time.perf_counter()
    for order, level in orders:
        result = allocate(order, level, book, WAREHOUSE, locations, now=NOW)
        complete += result.complete
        preempting += bool(result.preempted)
    elapsed = time.perf_counter() - started
    print(f"book: {args.skus} SKUs over {args.bins} bins; {args.orders} orders of 3 lines")
    print(f"allocate: {args.orders / elapsed:,.0f} orders/s (target >= 5,000)")
    print(f"complete: {complete}, short: {args.orders - complete}, took from others: {preempting}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
