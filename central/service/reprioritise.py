"""Priority re-evaluated as time passes (the periodic tick) and when a disruption is
posted; level changes go to the order, its reservations, the timeline and the feed."""

from __future__ import annotations

import time
from typing import Any

from central.clock import Clock
from central.service import rules
from central.service.context import Ctx
from central.service.docs import order_of
from central.service.feed import flush
from central.service.tasks import hot_task, stop_waiting
from central.settings import ServerSettings
from central.store.base import ReservationRow, Store
from domain.models import Level


def reprioritise(ctx: Ctx, docs: list[dict[str, Any]] | None = None) -> list[str]:
    """Re-evaluate open orders; returns the ids whose level changed."""
    changed: list[str] = []
    docs = docs if docs is not None else ctx.tx.open_orders()
    ranked = rules.rerank(
        [order_of(doc) for doc in docs], ctx.now, ctx.disruptions, ctx.settings.rules, ctx.skus
    )
    for doc in docs:
        priority = ranked[doc["id"]]
        before = doc["priority"]
        new = priority.to_dict()
        if new["level"] == before["level"]:
            continue
        doc["priority"] = new
        changed.append(doc["id"])
        ctx.note(
            doc["id"],
            "priority",
            f"{before['level']} -> {new['level']}: " + "; ".join(priority.reasons),
        )
        ctx.change(doc)
        held = ctx.tx.reservations(order_ids=[doc["id"]])
        if held:
            ctx.tx.replace_reservations(
                doc["id"],
                [
                    ReservationRow(
                        r.order_id,
                        r.warehouse,
                        r.location,
                        r.sku,
                        r.lot,
                        r.qty,
                        new["level"],
                        r.picking,
                    )
                    for r in held
                ],
            )
        if Level(new["level"]).is_urgent and doc["status"] == "allocated":
            hot_task(ctx, doc)
    return changed


def post_disruption(
    store: Store, body: dict[str, Any], clock: Clock, settings: ServerSettings
) -> dict[str, Any]:
    """Store a disruption (upsert by id) and re-prioritise open orders."""
    with store.transaction() as tx:
        ctx = Ctx(tx, clock.now(), settings)
        tx.upsert_disruption(body)
        ctx.feed.append(("disruption", body["id"], None, body))
        changed = reprioritise(ctx)
        flush(ctx)
        return {"id": body["id"], "changed": len(changed), "orders": changed}


# Meta key: when (Unix seconds) a server process last took the periodic tick.
TICK_AT = "periodic_tick_at"


def take_turn(store: Store, interval: float, now: float | None = None) -> bool:
    """Whether this process runs the periodic tick now: True unless a process on the same
    database took it less than 90% of ``interval`` ago (several workers share one
    tick; a worker that stops leaves it to the next). Wall time, like the interval."""
    now = time.time() if now is None else now
    with store.transaction() as tx:  # one writer at a time: the check and the claim hold
        last = tx.get_meta(TICK_AT)
        if last is not None and 0 <= now - float(last) < 0.9 * interval:
            return False
        tx.set_meta(TICK_AT, repr(now))
    return True


def tick(store: Store, clock: Clock, settings: ServerSettings) -> list[str]:
    """One periodic re-evaluation; returns the orders whose level changed."""
    with store.transaction() as tx:
        ctx = Ctx(tx, clock.now(), settings)
        docs = tx.open_orders()
        changed = reprioritise(ctx, docs)
        stop_waiting(ctx, [d for d in docs if d.get("elsewhere_since")])
        flush(ctx)
        return changed
