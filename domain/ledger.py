"""Stock as a ledger of movements (DESIGN.md §3).

On-hand is the sum of movements, never an overwritten quantity; reserved and available
are projections. ``StockBook`` is the mutable in-memory projection one process keeps;
lookups are indexed by ``(warehouse, sku)`` so allocation never scans the whole book.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from domain.models import DomainError, Level

OVERSOLD = "oversold"


@dataclass(frozen=True, slots=True)
class Movement:
    """One fact about stock: ``delta`` units of ``sku`` entered (+) or left (-) a bin."""

    op_id: str
    warehouse: str
    location: str
    sku: str
    delta: int
    reason: str
    at: datetime
    lot: str | None = None
    expiry: date | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units of a bin promised to an order; ``picking`` ones can no longer be taken."""

    order_id: str
    warehouse: str
    location: str
    sku: str
    qty: int
    level: Level
    lot: str | None = None
    picking: bool = False


@dataclass(frozen=True, slots=True)
class StockPosition:
    """The projection of one bin (and lot) for one SKU."""

    warehouse: str
    location: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    lot: str | None
    expiry: date | None
    first_received: datetime | None


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """A fact the book accepted that contradicts it, e.g. a pick that drove stock negative."""

    kind: str
    warehouse: str
    location: str
    sku: str
    on_hand: int
    op_id: str


_BinKey = tuple[str, str | None]  # (location, lot) inside one (warehouse, sku)
_ResKey = tuple[str, str, str, str | None]  # (warehouse, location, sku, lot)


class BinStock:
    """Running totals of one (warehouse, location, sku, lot). Read-only outside the book."""

    __slots__ = ("expiry", "first_received", "holds", "on_hand", "reserved")

    def __init__(self) -> None:
        self.on_hand = 0
        self.reserved = 0
        self.expiry: date | None = None
        self.first_received: datetime | None = None
        self.holds: dict[str, Reservation] = {}  # order_id -> its reservation here


class StockBook:
    """In-memory projection of the movement ledger plus the open reservations."""

    def __init__(self, movements: Sequence[Movement] = ()) -> None:
        self._movements: list[Movement] = []
        self._seen: set[str] = set()
        self._bins: dict[tuple[str, str], dict[_BinKey, BinStock]] = {}
        self._warehouses_of: dict[str, set[str]] = {}
        self._orders: dict[str, dict[_ResKey, Reservation]] = {}
        self._picked: dict[str, dict[tuple[str, str], int]] = {}  # order -> (wh, sku) -> units
        # Rotation order only changes on a receipt or a new bin, so allocation reuses it.
        self._rotation: dict[tuple[str, str], list[tuple[str, str | None, BinStock]]] = {}
        for movement in movements:
            self.apply(movement)

    # --- movements ----------------------------------------------------------------------

    def apply(self, movement: Movement) -> list[Discrepancy]:
        """Record a movement once (idempotent by ``op_id``). A removal is always accepted,
        even below zero, and then reported as an ``oversold`` discrepancy."""
        if not movement.op_id:
            raise DomainError("movement has no op_id")
        if not (movement.warehouse and movement.location and movement.sku):
            raise DomainError(f"movement {movement.op_id}: warehouse, location and sku needed")
        if isinstance(movement.delta, bool) or not isinstance(movement.delta, int):
            raise DomainError(f"movement {movement.op_id}: delta must be an integer")
        if movement.op_id in self._seen:
            return []
        self._seen.add(movement.op_id)
        self._movements.append(movement)
        if movement.delta > 0:
            self._receive(movement)
        elif movement.delta < 0:
            return self._remove(movement)
        return []

    def _receive(self, movement: Movement) -> None:
        slot = self._bin(movement.warehouse, movement.location, movement.sku, movement.lot)
        self._rotation.pop((movement.warehouse, movement.sku), None)
        # A bin emptied and refilled starts a new FIFO age.
        if slot.first_received is None or slot.on_hand <= 0:
            slot.first_received = movement.at
        else:
            slot.first_received = min(slot.first_received, movement.at)
        if movement.expiry is not None and (slot.expiry is None or movement.expiry < slot.expiry):
            slot.expiry = movement.expiry
        slot.on_hand += movement.delta

    def _remove(self, movement: Movement) -> list[Discrepancy]:
        bins = self._bins_of(movement.warehouse, movement.sku)
        remaining = -movement.delta
        if movement.lot is None:
            # A pick without a scanned lot comes out of the bin's lots, earliest expiry first.
            lots = sorted(
                (
                    (key, slot)
                    for key, slot in bins.items()
                    if key[0] == movement.location and slot.on_hand > 0
                ),
                key=lambda item: _fefo_key(item[0], item[1]),
            )
            for _key, slot in lots:
                taken = min(remaining, slot.on_hand)
                slot.on_hand -= taken
                remaining -= taken
                if remaining == 0:
                    break
        if remaining:
            slot = self._bin(movement.warehouse, movement.location, movement.sku, movement.lot)
            slot.on_hand -= remaining
        on_hand = self.on_hand(movement.sku, movement.warehouse, movement.location)
        if on_hand < 0:
            return [
                Discrepancy(
                    OVERSOLD,
                    movement.warehouse,
                    movement.location,
                    movement.sku,
                    on_hand,
                    movement.op_id,
                )
            ]
        return []

    def movements(self) -> Sequence[Movement]:
        """Every accepted movement, in the order applied."""
        return tuple(self._movements)

    def seen(self, op_id: str) -> bool:
        """Whether a movement with this op_id was already applied."""
        return op_id in self._seen

    # --- reservations -------------------------------------------------------------------

    def reserve(self, r: Reservation) -> None:
        """Promise units of a bin to an order; a second reservation of the same bin adds up.
        Availability is the allocator's rule, so a restored reservation is never refused."""
        if r.qty <= 0:
            raise DomainError(f"reservation for {r.order_id}: qty must be positive, got {r.qty}")
        if not (r.order_id and r.warehouse and r.location and r.sku):
            raise DomainError("reservation needs order_id, warehouse, location and sku")
        key: _ResKey = (r.warehouse, r.location, r.sku, r.lot)
        held = self._orders.setdefault(r.order_id, {})
        before = held.get(key)
        merged = r if before is None else replace(r, qty=before.qty + r.qty)
        held[key] = merged
        slot = self._bin(r.warehouse, r.location, r.sku, r.lot)
        slot.holds[r.order_id] = merged
        slot.reserved += r.qty

    def release(self, order_id: str) -> list[Reservation]:
        """Drop every reservation of an order and return what was released."""
        held = self._orders.pop(order_id, {})
        for (warehouse, location, sku, lot), res in held.items():
            slot = self._bins[(warehouse, sku)][(location, lot)]
            slot.reserved -= res.qty
            del slot.holds[order_id]
        return list(held.values())

    def reduce(
        self, order_id: str, warehouse: str, location: str, sku: str, lot: str | None, qty: int
    ) -> int:
        """Shrink one reservation of an order by up to ``qty``; returns the units freed."""
        held = self._orders.get(order_id)
        key: _ResKey = (warehouse, location, sku, lot)
        if held is None or key not in held or qty <= 0:
            return 0
        res = held[key]
        freed = min(qty, res.qty)
        slot = self._bins[(warehouse, sku)][(location, lot)]
        slot.reserved -= freed
        if freed == res.qty:
            del held[key]
            del slot.holds[order_id]
            if not held:
                del self._orders[order_id]
        else:
            smaller = replace(res, qty=res.qty - freed)
            held[key] = smaller
            slot.holds[order_id] = smaller
        return freed

    def mark_picking(self, order_id: str) -> None:
        """The order is being picked: its reservations can no longer be taken by others."""
        self._rewrite(order_id, lambda res: replace(res, picking=True))

    def set_level(self, order_id: str, level: Level) -> None:
        """Re-level an order's reservations after its priority changed."""
        self._rewrite(order_id, lambda res: replace(res, level=level))

    def _rewrite(self, order_id: str, change: Callable[[Reservation], Reservation]) -> None:
        held = self._orders.get(order_id, {})
        for key, res in list(held.items()):
            new = change(res)
            held[key] = new
            warehouse, location, sku, lot = key
            self._bins[(warehouse, sku)][(location, lot)].holds[order_id] = new

    def consume(self, order_id: str, warehouse: str, location: str, sku: str, qty: int) -> None:
        """A confirmed pick fulfils the order's reservation there; a pick from another bin
        than reserved shrinks the order's other reservations of that SKU instead."""
        if qty <= 0:
            return
        held = self._orders.get(order_id, {})
        keys = sorted(
            (k for k in held if k[0] == warehouse and k[2] == sku),
            key=lambda k: (k[1] != location, k[1], k[3] or ""),
        )
        picked = self._picked.setdefault(order_id, {})
        picked[(warehouse, sku)] = picked.get((warehouse, sku), 0) + qty
        remaining = qty
        for key in keys:
            remaining -= self.reduce(order_id, *key, qty=remaining)
            if remaining == 0:
                break

    def picked(self, order_id: str, warehouse: str, sku: str) -> int:
        """Units of a SKU consumed by confirmed picks for an order in a warehouse."""
        return self._picked.get(order_id, {}).get((warehouse, sku), 0)

    def reservations(self, order_id: str | None = None) -> list[Reservation]:
        """Open reservations of one order, or of every order."""
        if order_id is not None:
            return list(self._orders.get(order_id, {}).values())
        return [res for held in self._orders.values() for res in held.values()]

    def holds(self, warehouse: str, sku: str) -> list[Reservation]:
        """Every open reservation of one SKU in one warehouse."""
        return [
            res for slot in self._bins_of(warehouse, sku).values() for res in slot.holds.values()
        ]

    # --- projections --------------------------------------------------------------------

    def on_hand(self, sku: str, warehouse: str | None = None, location: str | None = None) -> int:
        """Units physically there: the sum of the movements."""
        return sum(slot.on_hand for slot in self._select(sku, warehouse, location))

    def reserved(self, sku: str, warehouse: str | None = None, location: str | None = None) -> int:
        """Units promised to orders."""
        return sum(slot.reserved for slot in self._select(sku, warehouse, location))

    def available(self, sku: str, warehouse: str | None = None, location: str | None = None) -> int:
        """On-hand minus reserved (negative when oversold)."""
        return sum(slot.on_hand - slot.reserved for slot in self._select(sku, warehouse, location))

    def positions(self, sku: str, warehouse: str) -> list[StockPosition]:
        """One position per bin and lot of the SKU in the warehouse, sorted by location."""
        return [
            StockPosition(
                warehouse=warehouse,
                location=location,
                sku=sku,
                on_hand=slot.on_hand,
                reserved=slot.reserved,
                available=slot.on_hand - slot.reserved,
                lot=lot,
                expiry=slot.expiry,
                first_received=slot.first_received,
            )
            for (location, lot), slot in sorted(
                self._bins_of(warehouse, sku).items(),
                key=lambda item: (item[0][0], item[0][1] or ""),
            )
        ]

    def rotation(self, sku: str, warehouse: str) -> Sequence[tuple[str, str | None, BinStock]]:
        """(location, lot, live totals) of every bin of the SKU, FEFO then FIFO: dated bins
        first by expiry, then by first receipt. Do not modify the totals."""
        key = (warehouse, sku)
        cached = self._rotation.get(key)
        if cached is None:
            cached = sorted(
                ((loc, lot, slot) for (loc, lot), slot in self._bins_of(warehouse, sku).items()),
                key=lambda item: (
                    item[2].expiry or date.max,
                    item[2].first_received is None,
                    item[2].first_received.timestamp() if item[2].first_received else 0.0,
                    item[0],
                    item[1] or "",
                ),
            )
            self._rotation[key] = cached
        return cached

    def skus(self, warehouse: str) -> list[str]:
        """SKUs the warehouse has ever held or reserved."""
        return sorted(sku for (wh, sku) in self._bins if wh == warehouse)

    def _select(self, sku: str, warehouse: str | None, location: str | None) -> Iterator[BinStock]:
        warehouses = [warehouse] if warehouse is not None else self._warehouses_of.get(sku, ())
        for wh in warehouses:
            for (loc, _lot), slot in self._bins_of(wh, sku).items():
                if location is None or loc == location:
                    yield slot

    def _bins_of(self, warehouse: str, sku: str) -> dict[_BinKey, BinStock]:
        return self._bins.get((warehouse, sku), {})

    def _bin(self, warehouse: str, location: str, sku: str, lot: str | None) -> BinStock:
        bins = self._bins.get((warehouse, sku))
        if bins is None:
            bins = self._bins[(warehouse, sku)] = {}
            self._warehouses_of.setdefault(sku, set()).add(warehouse)
        slot = bins.get((location, lot))
        if slot is None:
            slot = bins[(location, lot)] = BinStock()
            self._rotation.pop((warehouse, sku), None)
        return slot


def _fefo_key(key: _BinKey, slot: BinStock) -> tuple[bool, date, str]:
    """Earliest expiry first, bins without expiry last."""
    return (slot.expiry is None, slot.expiry or date.max, key[1] or "")
