"""Orders in: intake (idempotent by id), reading, listing and cancelling."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from central.clock import Clock
from central.service import rules
from central.service.context import Conflict, Ctx, InputError, NotFound
from central.service.docs import new_order_doc, set_state, state_of
from central.service.feed import flush
from central.service.stock import allocate_orders, allocate_waiting, load_book, save_reservations
from central.service.tasks import batch_waiting, close_tasks_of, hot_task
from central.settings import ServerSettings
from central.store.base import Store
from domain.models import DomainError, Level, OrderStatus, order_from_dict
from domain.status import cancel


def body_hash(body: dict[str, Any]) -> str:
    """A stable fingerprint of an intake body (key order does not matter)."""
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _choose_warehouse(ctx: Ctx, body: dict[str, Any]) -> str:
    requested = body.get("warehouse")
    if requested:
        if requested not in ctx.warehouses:
            raise InputError(("body", "warehouse"), f"unknown warehouse {requested!r}")
        return str(requested)
    if not ctx.warehouses:
        raise InputError(("body", "warehouse"), "no warehouse known: import master data first")
    country = body["ship_to"]["country"]
    same = [w for w in sorted(ctx.warehouses) if ctx.warehouses[w].country == country]
    return same[0] if same else sorted(ctx.warehouses)[0]


def create_order(
    store: Store, body: dict[str, Any], clock: Clock, settings: ServerSettings
) -> tuple[int, dict[str, Any]]:
    """Take an order: 201 and the new document, 200 and the existing one for a repeated
    body, Conflict for the same id with a different body."""
    fingerprint = body_hash(body)
    with store.transaction() as tx:
        existing = tx.get_order(body["id"])
        if existing is not None:
            if existing.body_hash != fingerprint:
                raise Conflict(f"order {body['id']} exists with a different body")
            return 200, _with_timeline(tx, existing.doc)
        ctx = Ctx(tx, clock.now(), settings)
        for i, line in enumerate(body["lines"]):
            if line["sku"] not in ctx.skus:
                raise InputError(("body", "lines", i, "sku"), f"unknown sku {line['sku']!r}")
        warehouse = _choose_warehouse(ctx, body)
        try:
            order = order_from_dict({**body, "warehouse": warehouse}, ctx.now)
        except (DomainError, ValueError) as exc:
            raise InputError(("body",), str(exc)) from exc
        priority = rules.evaluate(order, ctx.now, ctx.disruptions, settings.rules, ctx.skus)
        doc = new_order_doc(order, priority, ctx.at)
        tx.insert_order(doc, fingerprint)
        ctx.note(order.id, "received", f"warehouse {warehouse}")
        ctx.note(order.id, "priority", f"{priority.level.value}: " + "; ".join(priority.reasons))
        ctx.change(doc)
        allocate_orders(ctx, [doc])
        if Level(doc["priority"]["level"]).is_urgent:
            hot_task(ctx, doc)
        flush(ctx)
        batch_waiting(ctx, warehouse=doc["warehouse"])
        flush(ctx)
        return 201, _with_timeline(tx, doc)


def _with_timeline(tx: Any, doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "timeline": tx.timeline(doc["id"])}


def get_order(store: Store, order_id: str) -> dict[str, Any]:
    """The order document with its timeline, or NotFound."""
    with store.reader() as tx:
        row = tx.get_order(order_id)
        if row is None:
            raise NotFound(f"unknown order {order_id!r}")
        return _with_timeline(tx, row.doc)


def list_orders(
    store: Store, status: str | None, level: str | None, limit: int, warehouse: str | None = None
) -> list[dict[str, Any]]:
    """Orders, most urgent first (of one warehouse, when given)."""
    with store.reader() as tx:
        return tx.list_orders(status, level, limit, warehouse)


def cancel_order(
    store: Store, order_id: str, clock: Clock, settings: ServerSettings
) -> dict[str, Any]:
    """Cancel before shipping (reservations released); after shipping the order keeps
    its status and gets a cancel_after_ship exception."""
    with store.transaction() as tx:
        row = tx.get_order(order_id)
        if row is None:
            raise NotFound(f"unknown order {order_id!r}")
        ctx = Ctx(tx, clock.now(), settings)
        doc = row.doc
        state = cancel(state_of(doc))
        if set_state(doc, state):
            if state.status is OrderStatus.CANCELLED:
                book = load_book(ctx, {li["sku"] for li in doc["lines"]})
                book.release(order_id)
                save_reservations(ctx, book, order_id)
                doc["allocations"] = []
                close_tasks_of(ctx, order_id, "cancelled")
                ctx.note(order_id, "cancelled", "reservations released")
                ctx.change(doc)
                # What it held may be what another order is waiting for.
                skus = {li["sku"] for li in doc["lines"]}
                allocate_waiting(ctx, doc["warehouse"], skus, {order_id})
            else:
                ctx.note(order_id, "exception", "cancel_after_ship: cancel arrived after shipping")
            ctx.change(doc)
        flush(ctx)
        return _with_timeline(tx, doc)


def tick_batches(store: Store, clock: Clock, settings: ServerSettings) -> int:
    """Batch every waiting order (the periodic tick); returns the tasks made."""
    with store.transaction() as tx:
        ctx = Ctx(tx, clock.now(), settings)
        made = batch_waiting(ctx, force=True)
        flush(ctx)
        return len(made)
