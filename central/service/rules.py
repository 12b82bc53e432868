"""The domain rules the server calls, behind one seam.

Each function calls the domain module when it is installed and otherwise a small,
conservative stand-in, so the server runs while the domain grows (the stand-ins follow
the same contracts: DESIGN.md §1).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from domain.ledger import StockBook
from domain.models import Disruption, Level, Location, Order, OrderLine, Priority, Sku, Warehouse


def _domain(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(f"domain.{module}"), name, None)
    except ImportError:
        return None


def _hours(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _affects(d: Disruption, order: Order, now: datetime) -> bool:
    if not d.active(now):
        return False
    if d.country and d.country != order.ship_to.country:
        return False
    # A carrier outage without a region touches every order until a carrier is chosen.
    return not (d.postcode_prefix and not order.ship_to.postcode.startswith(d.postcode_prefix))


def evaluate(
    order: Order,
    now: datetime,
    disruptions: Sequence[Disruption],
    rules: Any,
    skus: Mapping[str, Sku],
) -> Priority:
    """The order's priority level, score and reasons at ``now``."""
    engine = _domain("priority", "evaluate")
    if engine is not None:
        return engine(order, now, disruptions, rules, skus)  # type: ignore[no-any-return]
    score, reasons, forced = 0.0, [], None
    left = order.deadline - now
    hours = left.total_seconds() / 3600
    if hours < 0:
        score += rules.overdue_points
        reasons.append(f"deadline passed {_hours(left)} ago")
        forced = Level.P1
    else:
        for upper, points in rules.slack_bands:
            if hours < upper:
                score += points
                reasons.append(f"deadline in {_hours(left)}")
                break
    tables = (
        ("service", rules.service_points, [order.service or ""]),
        ("customer flag", rules.flag_points, sorted(order.customer.flags)),
        ("customer tier", rules.tier_points, [order.customer.tier]),
        ("tag", rules.tag_points, sorted(order.tags)),
        (
            "category",
            rules.category_points,
            sorted({skus[line.sku].category for line in order.lines if line.sku in skus}),
        ),
    )
    for label, table, keys in tables:
        for key in keys:
            points = float(table.get(key, 0.0))
            if points:
                score += points
                reasons.append(f"{label}: {key}")
    level = forced or rules.level_for(score)
    for d in disruptions:
        if _affects(d, order, now):
            score += rules.disruption_points
            level = Level(f"P{max(1, level.rank - max(0, d.escalate_by))}")
            reasons.append(f"disruption: {d.kind} ({d.id})")
    return Priority(level, score, tuple(reasons))


def rerank(
    orders: Sequence[Order],
    now: datetime,
    disruptions: Sequence[Disruption],
    rules: Any,
    skus: Mapping[str, Sku],
) -> dict[str, Priority]:
    """Priorities of many orders at once (the domain's backlog re-rank when installed)."""
    engine = _domain("priority", "rerank")
    if engine is not None and orders:
        return {
            order.id: priority for order, priority in engine(orders, now, disruptions, rules, skus)
        }
    return {order.id: evaluate(order, now, disruptions, rules, skus) for order in orders}


def allocate(
    order: Order, level: Level, book: StockBook, warehouse: str, locations: Any, now: datetime
) -> Any:
    """domain.allocation.allocate (always installed)."""
    from domain.allocation import allocate as engine

    return engine(order, level, book, warehouse, locations, now=now)


def propose_transfer(
    order: Order,
    shortages: Sequence[OrderLine],
    warehouse: Warehouse,
    warehouses: Mapping[str, Warehouse],
    book: StockBook,
    now: datetime,
) -> dict[str, Any] | None:
    """A transfer that covers the shortages from one other warehouse, as a JSON doc."""
    engine = _domain("allocation", "propose_transfer")
    if engine is not None:
        proposal = engine(order, shortages, warehouse, warehouses, book, now)
        if proposal is None:
            return None
        return {
            "order_id": proposal.order_id,
            "from_warehouse": proposal.from_warehouse,
            "to_warehouse": proposal.to_warehouse,
            "lines": [{"sku": li.sku, "qty": li.qty} for li in proposal.lines],
            "eta": proposal.eta.isoformat(),
            "move_fulfilment": proposal.move_fulfilment,
            "reason": proposal.reason,
        }
    best: tuple[float, str] | None = None
    for other in sorted(warehouses):
        if other == warehouse.id:
            continue
        if all(book.available(li.sku, other) >= li.qty for li in shortages):
            hours = float(warehouse.transfer_hours.get(other, 48.0))
            if best is None or hours < best[0]:
                best = (hours, other)
    if best is None:
        return None
    hours, source = best
    return {
        "order_id": order.id,
        "from_warehouse": source,
        "to_warehouse": warehouse.id,
        "lines": [{"sku": li.sku, "qty": li.qty} for li in shortages],
        "eta": (now + timedelta(hours=hours)).isoformat(),
        "move_fulfilment": False,
        "reason": f"{warehouse.id} short of {', '.join(li.sku for li in shortages)}",
    }


def build_tasks(
    orders: Sequence[tuple[Order, Level, Sequence[tuple[str, Location, int]]]], batch_size: int
) -> list[dict[str, Any]]:
    """Pick tasks as JSON docs: P1/P2 one hot task per order, others in batches;
    lines are ``(sku, location, qty)`` per order."""
    routing = (
        importlib.import_module("domain.routing") if _domain("routing", "build_tasks") else None
    )
    if routing is not None:
        picks = [
            (o, lv, [routing.PickLine(o.id, sku, loc, qty) for sku, loc, qty in lines])
            for o, lv, lines in orders
        ]
        tasks = routing.build_tasks(picks, routing.Layout(), batch_size=batch_size)
        return [
            {
                "id": t.id,
                "kind": t.kind,
                "level": Level(t.level).value,
                "order_ids": list(t.order_ids),
                "lines": [
                    {
                        "order_id": p.order_id,
                        "sku": p.sku,
                        "location": p.location.code,
                        "qty": p.qty,
                    }
                    for p in t.lines
                ],
                "deadline": t.deadline.isoformat(),
                "length_m": round(float(t.length_m), 1),
            }
            for t in tasks
        ]
    result: list[dict[str, Any]] = []
    hot = [item for item in orders if item[1].is_urgent]
    rest = sorted((item for item in orders if not item[1].is_urgent), key=lambda i: i[0].deadline)
    groups = [[item] for item in hot] + [
        rest[i : i + batch_size] for i in range(0, len(rest), batch_size)
    ]
    for group in groups:
        lines = sorted(
            ((o.id, sku, loc, qty) for o, _lv, ls in group for sku, loc, qty in ls),
            key=lambda p: (p[2].aisle, p[2].bay if p[2].aisle % 2 == 0 else -p[2].bay),
        )
        level = min((lv for _o, lv, _ls in group), key=lambda lv: lv.rank)
        kind = "hot" if level.is_urgent else "batch"
        result.append(
            {
                "id": f"HOT-{group[0][0].id}" if kind == "hot" else "",
                "kind": kind,
                "level": level.value,
                "order_ids": [o.id for o, _lv, _ls in group],
                "lines": [
                    {"order_id": oid, "sku": sku, "location": loc.code, "qty": qty}
                    for oid, sku, loc, qty in lines
                ],
                "deadline": min(o.deadline for o, _lv, _ls in group).isoformat(),
                "length_m": 0.0,
            }
        )
    return result
