"""The domain rules the server calls, in one place: priority, allocation, transfers and
pick tasks, with their results turned into the JSON shapes the server stores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from domain import priority as priority_engine
from domain import routing
from domain.allocation import AllocationResult
from domain.allocation import allocate as allocate_order
from domain.allocation import propose_transfer as propose
from domain.ledger import StockBook
from domain.models import Disruption, Level, Location, Order, OrderLine, Priority, Sku, Warehouse


def evaluate(
    order: Order,
    now: datetime,
    disruptions: Sequence[Disruption],
    rules: Any,
    skus: Mapping[str, Sku],
) -> Priority:
    """The order's priority level, score and reasons at ``now``."""
    return priority_engine.evaluate(order, now, disruptions, rules, skus)


def rerank(
    orders: Sequence[Order],
    now: datetime,
    disruptions: Sequence[Disruption],
    rules: Any,
    skus: Mapping[str, Sku],
) -> dict[str, Priority]:
    """Priorities of many orders at once (the domain's backlog re-rank)."""
    if not orders:
        return {}
    ranked = priority_engine.rerank(orders, now, disruptions, rules, skus)
    return {order.id: priority for order, priority in ranked}


def allocate(
    order: Order,
    level: Level,
    book: StockBook,
    warehouse: str,
    locations: Mapping[str, Location],
    now: datetime,
) -> AllocationResult:
    """Reserve the order's lines in ``warehouse`` (urgent orders may preempt)."""
    return allocate_order(order, level, book, warehouse, locations, now=now)


def propose_transfer(
    order: Order,
    shortages: Sequence[OrderLine],
    warehouse: Warehouse,
    warehouses: Mapping[str, Warehouse],
    book: StockBook,
    now: datetime,
) -> dict[str, Any] | None:
    """A transfer covering the shortages (or a move of the whole order), as a JSON doc."""
    proposal = propose(order, shortages, warehouse, warehouses, book, now)
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


def build_tasks(
    orders: Sequence[tuple[Order, Level, Sequence[tuple[str, Location, int]]]], batch_size: int
) -> list[dict[str, Any]]:
    """Pick tasks as JSON docs: P1/P2 one routed hot task per order, others in routed
    batches; ``lines`` are ``(sku, location, qty)`` per order."""
    picks = [
        (order, level, [routing.PickLine(order.id, sku, loc, qty) for sku, loc, qty in lines])
        for order, level, lines in orders
    ]
    return [
        {
            "id": task.id,
            "kind": task.kind,
            "level": Level(task.level).value,
            "order_ids": list(task.order_ids),
            "lines": [
                {"order_id": p.order_id, "sku": p.sku, "location": p.location.code, "qty": p.qty}
                for p in task.lines
            ],
            "deadline": task.deadline.isoformat(),
            "length_m": round(float(task.length_m), 1),
        }
        for task in routing.build_tasks(picks, routing.Layout(), batch_size=batch_size)
    ]
