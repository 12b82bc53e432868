"""Alerts, computed from the current state when asked: low stock (with a replenishment
suggestion), oversold bins, bins holding less than is reserved there, bins a picker
reported short that nobody has counted since, orders at risk of missing their deadline,
open order exceptions and rejected device operations."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from central.clock import Clock
from central.service.context import Ctx
from central.service.docs import standing_exceptions
from central.settings import ServerSettings
from central.store.base import OpRecord, Store, Tx
from domain.models import Level, parse_time

# A short pick asks for a count of its bin for this long (then the alert lapses).
COUNT_WINDOW = timedelta(days=3)


def count_bins(
    tx: Tx, now: datetime, bins: dict[tuple[str, str, str], int]
) -> list[dict[str, Any]]:
    """Bins a picker reported short (``pick.short``) with no count recorded since: the
    system may still believe units are there, and other orders will be sent for them.
    ``bins`` is each bin's on-hand in the system."""
    checks = tx.bin_checks((now - COUNT_WINDOW).astimezone(UTC).isoformat())
    shorts = [op for op in checks if op.kind == "pick.short"]
    orders = tx.get_orders({str(op.data.get("order_id")) for op in shorts})
    latest: dict[tuple[str, str, str], OpRecord] = {}
    for op in checks:  # in the order central received them: a later one decides
        data = op.data
        if op.kind == "pick.short":
            doc = orders.get(str(data.get("order_id")))
            warehouse = doc["warehouse"] if doc else None
        else:
            warehouse = data.get("warehouse")
        key = (str(warehouse), str(data.get("location")), str(data.get("sku")))
        latest[key] = op
    found = []
    for (wh, loc, sku), op in sorted(latest.items()):
        if op.kind != "pick.short":
            continue
        reason = str(op.data.get("reason") or "short")
        on_hand = bins.get((wh, loc, sku), 0)
        found.append(
            {
                "kind": "count_bin",
                "warehouse": wh,
                "location": loc,
                "sku": sku,
                "on_hand": on_hand,
                "reported_at": op.at,
                "reason": reason,
                "order_id": op.data.get("order_id"),
                "message": f"{wh}/{loc} {sku}: short-picked ({reason}) at {op.at}, "
                f"{on_hand} on hand in the system: count it",
            }
        )
    return found


def alerts(store: Store, clock: Clock, settings: ServerSettings) -> dict[str, list[dict[str, Any]]]:
    """Every alert class as a list."""
    with store.reader() as tx:
        ctx = Ctx(tx, clock.now(), settings)
        lines = tx.stock_lines()
        held: dict[tuple[str, str, str], int] = defaultdict(int)
        holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for r in tx.reservations():
            held[(r.warehouse, r.location, r.sku)] += r.qty
            holders[(r.warehouse, r.location, r.sku)].add(r.order_id)
        bins: dict[tuple[str, str, str], int] = defaultdict(int)
        for line in lines:
            bins[(line.warehouse, line.location, line.sku)] += line.on_hand
        pick_free: dict[tuple[str, str], int] = defaultdict(int)
        reserve_stock: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
        for (wh, loc, sku), on_hand in bins.items():
            location = ctx.locations.get((wh, loc))
            if location is None or location.kind.value == "pick":
                pick_free[(wh, sku)] += on_hand - held.get((wh, loc, sku), 0)
            elif on_hand > 0:
                reserve_stock[(wh, sku)].append((loc, on_hand))
        low = []
        for (wh, sku), available in sorted(pick_free.items()):
            point = ctx.skus[sku].reorder_point if sku in ctx.skus else 0
            if point and available < point:
                suggestion = None
                if reserve_stock.get((wh, sku)):
                    loc, qty = max(reserve_stock[(wh, sku)], key=lambda item: item[1])
                    suggestion = {
                        "from_location": loc,
                        "qty": min(qty, 2 * point - max(available, 0)),
                    }
                low.append(
                    {
                        "kind": "low_stock",
                        "warehouse": wh,
                        "sku": sku,
                        "available": available,
                        "reorder_point": point,
                        "suggestion": suggestion,
                        "message": f"{sku} in {wh}: {available} available, reorder point {point}",
                    }
                )
        oversold = [
            {
                "kind": "oversold",
                "warehouse": wh,
                "location": loc,
                "sku": sku,
                "on_hand": qty,
                "message": f"{wh}/{loc} {sku}: on hand {qty}",
            }
            for (wh, loc, sku), qty in sorted(bins.items())
            if qty < 0
        ]
        # Reserved beyond what the bin holds (a count found fewer, say): some of these
        # orders will be short-picked there unless they are allocated elsewhere.
        short_bins = [
            {
                "kind": "short_bin",
                "warehouse": wh,
                "location": loc,
                "sku": sku,
                "on_hand": bins.get((wh, loc, sku), 0),
                "reserved": reserved,
                "orders": sorted(holders[(wh, loc, sku)]),
                "message": f"{wh}/{loc} {sku}: {bins.get((wh, loc, sku), 0)} on hand, "
                f"{reserved} reserved for {', '.join(sorted(holders[(wh, loc, sku)]))}",
            }
            for (wh, loc, sku), reserved in sorted(held.items())
            if 0 <= bins.get((wh, loc, sku), 0) < reserved
        ]
        at_risk, exceptions = [], []
        for doc in tx.open_orders():
            level = Level(doc["priority"]["level"])
            needed = timedelta(hours=float(settings.rules.processing_for(level)))
            slack = parse_time(doc["deadline"]) - ctx.now - needed
            if slack < timedelta(0):
                at_risk.append(
                    {
                        "kind": "at_risk",
                        "order_id": doc["id"],
                        "level": level.value,
                        "deadline": doc["deadline"],
                        "message": f"order {doc['id']} ({level.value}) may miss its deadline {doc['deadline']}",
                    }
                )
            standing = standing_exceptions(doc)
            if standing:
                exceptions.append(
                    {
                        "kind": "exception",
                        "order_id": doc["id"],
                        "exceptions": standing,
                        "settled": [e for e in doc["exceptions"] if e not in standing],
                        "message": f"order {doc['id']}: {', '.join(standing)}",
                    }
                )
        for doc in tx.list_orders(status="shipped", limit=10_000):
            if "cancel_after_ship" in doc["exceptions"]:
                exceptions.append(
                    {
                        "kind": "exception",
                        "order_id": doc["id"],
                        "exceptions": doc["exceptions"],
                        "message": f"order {doc['id']}: cancelled after shipping",
                    }
                )
        rejected = [
            {
                "kind": "rejected_op",
                "op_id": o.op_id,
                "device": o.device,
                "seq": o.seq,
                "op_kind": o.kind,
                "reason": o.reason,
                "at": o.received_at,
                "message": f"{o.device} op {o.op_id} ({o.kind}): {o.reason}",
            }
            for o in tx.rejected_ops()
        ]
        to_count = count_bins(tx, ctx.now, bins)
    return {
        "low_stock": low,
        "oversold": oversold,
        "short_bins": short_bins,
        "count_bins": to_count,
        "at_risk": at_risk,
        "exceptions": exceptions,
        "rejected_ops": rejected,
    }
