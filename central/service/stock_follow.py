"""Reservations follow the stock at the end of a push (``PushState.finish``): a bin that
now holds less than is reserved there gives up reservations; units that came into pick
bins go to the orders waiting for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from central.service.stock import allocate_waiting
from central.store.base import ReservationRow
from domain.models import LocationKind, OrderStatus

if TYPE_CHECKING:
    from central.service.op_kinds import PushState

# Orders whose reservations may be moved to other bins (not yet picking).
_REALLOCATABLE = frozenset((OrderStatus.RECEIVED.value, OrderStatus.ALLOCATED.value))


def follow_stock(state: PushState) -> None:
    """Reservations follow the stock: where a count, adjustment or move left a bin
    holding less than is reserved there, orders not yet being picked and without an
    open pick task give up their share there, least urgent first, and are allocated
    again (elsewhere, or from what the bin still has). Orders being picked, or in a
    task a picker may be walking, keep theirs: a short pick moves them."""
    tx = state.ctx.tx
    skus = {sku for _, _, sku in state.shrunk}
    by_bin: dict[tuple[str, str, str], list[ReservationRow]] = {}
    for r in tx.reservations(skus=skus):
        if r.order_id not in state.holds:  # this push's orders: their rows as changed
            by_bin.setdefault((r.warehouse, r.location, r.sku), []).append(r)
    for rows in state.holds.values():
        for r in rows:
            if r.sku in skus:
                by_bin.setdefault((r.warehouse, r.location, r.sku), []).append(r)
    for key in sorted(state.shrunk):
        rows = by_bin.get(key, [])
        on_hand = state.on_hand.get(key, 0)
        reserved = sum(r.qty for r in rows)
        excess = reserved - max(on_hand, 0)
        held: dict[str, int] = {}
        level: dict[str, str] = {}
        for r in rows:
            if not r.picking:
                held[r.order_id] = held.get(r.order_id, 0) + r.qty
                level[r.order_id] = r.level
        for order_id in sorted(held, key=lambda o: (level[o], o), reverse=True):
            if excess <= 0:
                break
            if order_id in state.reallocate or any(
                t["status"] == "open" for t in tx.tasks_of(order_id)
            ):
                continue
            doc = state.ctx.changed.get(order_id) or state.docs.get(order_id)
            if doc is None:
                row = tx.get_order(order_id)
                doc = row.doc if row is not None else None
            if doc is None or doc["status"] not in _REALLOCATABLE:
                continue
            _, location, sku = key
            state.release(order_id, sku, location)
            state.reallocate.add(order_id)
            state.ctx.change(doc)
            state.ctx.note(
                order_id,
                "reallocated",
                f"{location} {sku}: {on_hand} on hand for {reserved} reserved",
            )
            excess -= held[order_id]


def stock_arrived(state: PushState) -> None:
    """Units came into pick bins (a count found more, a receipt, a move from a
    reserve bin): orders of that warehouse waiting for them are allocated again.
    Orders this push already decides on are left to it."""
    skus_of: dict[str, set[str]] = {}
    for wh, code, sku in state.grown:
        location = state.locations.get((wh, code))
        if location is None or location.kind is LocationKind.PICK:
            skus_of.setdefault(wh, set()).add(sku)
    skip = set(state.holds) | state.reallocate
    for wh, skus in sorted(skus_of.items()):
        allocate_waiting(state.ctx, wh, skus, skip)
