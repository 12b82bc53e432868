"""Stock allocation, transfers between warehouses and low-stock alerts (DESIGN.md §1.2).

Reservations come from pick bins: FEFO where expiry is known (expired lots never), else
FIFO, preferring the fewest bins. Urgent orders may take reservations from less urgent
orders that are not yet being picked (``Reservation.picking``: central sets it when an
order is first picked, or put in a pick task).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.ledger import BinStock, Reservation, StockBook, StockPosition
from domain.models import (
    DomainError,
    Level,
    Location,
    LocationKind,
    Order,
    OrderLine,
    OrderStatus,
    Sku,
    Warehouse,
)

_PAST_PICKING = frozenset(
    {
        OrderStatus.PICKED,
        OrderStatus.PACKED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.CANCELLED,
    }
)

# Replenishment fills the pick face up to this multiple of the reorder point.
REPLENISH_TARGET_FACTOR = 2


@dataclass(frozen=True, slots=True)
class AllocationResult:
    """What an order holds after allocation; ``preempted`` names the orders that lost
    reservations to it (they need allocating again)."""

    order_id: str
    reservations: tuple[Reservation, ...]
    shortages: tuple[OrderLine, ...]
    preempted: tuple[str, ...]
    complete: bool


def _pickable(code: str, locations: Mapping[str, Location] | None) -> bool:
    """Only pick bins are picked from; a bin the map does not know is taken as a pick bin."""
    if locations is None:
        return True
    location = locations.get(code)
    return location is None or location.kind == LocationKind.PICK


def _sort_rotation(positions: list[StockPosition]) -> list[StockPosition]:
    """FEFO (dated bins first, earliest expiry first), then FIFO by first receipt."""
    return sorted(
        positions,
        key=lambda p: (
            p.expiry or date.max,
            p.first_received is None,
            p.first_received.timestamp() if p.first_received is not None else 0.0,
            p.location,
            p.lot or "",
        ),
    )


def _needs(order: Order) -> dict[str, int]:
    needs: dict[str, int] = {}
    for line in order.lines:
        if line.qty <= 0:
            raise DomainError(f"order {order.id}: line {line.sku} has qty {line.qty}")
        needs[line.sku] = needs.get(line.sku, 0) + line.qty
    return needs


_Bin = tuple[str, str | None, BinStock]  # (location, lot, totals)


def _choose(need: int, usable: list[tuple[_Bin, int]]) -> list[tuple[_Bin, int]]:
    """Take ``need`` units from bins already in rotation order: strict across expiry dates;
    within one expiry date, a single bin covering the rest wins (fewest bins), FIFO ties."""
    taken: list[tuple[_Bin, int]] = []
    pool = [item for item in usable if item[1] > 0]
    while need > 0 and pool:
        group_expiry = pool[0][0][2].expiry
        group = [item for item in pool if item[0][2].expiry == group_expiry]
        whole = next((item for item in group if item[1] >= need), None)
        chosen = whole if whole is not None else group[0]
        amount = min(need, chosen[1])
        taken.append((chosen[0], amount))
        need -= amount
        pool.remove(chosen)
    return taken


def allocate(
    order: Order,
    level: Level,
    book: StockBook,
    warehouse: str,
    locations: Mapping[str, Location] | None = None,
    now: datetime | None = None,
) -> AllocationResult:
    """Reserve the order's lines from pick bins of ``warehouse``. Idempotent: an order that
    already holds its lines gets them back; a partial one is topped up (units already
    picked count as held). Lots expiring before ``now`` (default: the order's creation)
    are never reserved; an order past picking is never topped up."""
    if not warehouse:
        raise DomainError(f"order {order.id}: no warehouse to allocate from")
    needs = _needs(order)
    today = (now or order.created_at).date()
    existing = book.reservations(order.id)
    if any(res.level != level for res in existing):
        book.set_level(order.id, level)
    if order.status in _PAST_PICKING:
        # Nothing more to reserve once picking is over; report what it still holds.
        return AllocationResult(order.id, tuple(existing), (), (), True)
    for res in existing:
        if res.warehouse == warehouse and res.sku in needs:
            needs[res.sku] -= res.qty
    for sku in needs:
        # Units already picked are no longer reserved, yet need no stock again.
        needs[sku] -= book.picked(order.id, warehouse, sku)
    preempted: list[str] = []
    shortages: list[OrderLine] = []
    for sku, need in needs.items():
        if need <= 0:
            continue
        short = _allocate_sku(order.id, sku, need, level, book, warehouse, locations, today)
        if short.preempted:
            preempted.extend(o for o in short.preempted if o not in preempted)
        if short.missing:
            shortages.append(OrderLine(sku, short.missing))
    held = tuple(book.reservations(order.id))
    return AllocationResult(
        order_id=order.id,
        reservations=held,
        shortages=tuple(shortages),
        preempted=tuple(preempted),
        complete=not shortages,
    )


@dataclass(frozen=True, slots=True)
class _SkuOutcome:
    missing: int
    preempted: tuple[str, ...]


def _allocate_sku(
    order_id: str,
    sku: str,
    need: int,
    level: Level,
    book: StockBook,
    warehouse: str,
    locations: Mapping[str, Location] | None,
    today: date,
) -> _SkuOutcome:
    everything = book.rotation(sku, warehouse)
    # A reservation not tied to a lot still holds the bin's stock: cap by the bin's total.
    bin_free: dict[str, int] = {}
    for location, _lot, totals in everything:
        bin_free[location] = bin_free.get(location, 0) + totals.on_hand - totals.reserved
    candidates = [
        item
        for item in everything
        if _pickable(item[0], locations) and (item[2].expiry is None or item[2].expiry >= today)
    ]
    usable = [
        (item, max(0, min(item[2].on_hand - item[2].reserved, bin_free[item[0]])))
        for item in candidates
    ]
    for (location, lot, _totals), qty in _choose(need, usable):
        book.reserve(Reservation(order_id, warehouse, location, sku, qty, level, lot))
        need -= qty
    if need == 0 or not level.is_urgent:
        return _SkuOutcome(need, ())
    return _preempt(order_id, sku, need, level, book, warehouse, candidates)


def _preempt(
    order_id: str,
    sku: str,
    need: int,
    level: Level,
    book: StockBook,
    warehouse: str,
    candidates: list[_Bin],
) -> _SkuOutcome:
    """Take reservations of less urgent orders not yet picking, least urgent first."""
    order_of_bin = {(location, lot): i for i, (location, lot, _t) in enumerate(candidates)}
    victims = sorted(
        (
            res
            for res in book.holds(warehouse, sku)
            if not res.picking
            and res.order_id != order_id
            and res.level.rank > level.rank
            and (res.location, res.lot) in order_of_bin
        ),
        key=lambda r: (-r.level.rank, order_of_bin[(r.location, r.lot)], r.order_id),
    )
    taken_from: list[str] = []
    for victim in victims:
        if need == 0:
            break
        free = _free(book, sku, warehouse, victim.location, victim.lot)  # <= 0 after phase one
        if free + victim.qty <= 0:
            continue  # freeing it would only cover an oversold hole, not this order
        freed = book.reduce(
            victim.order_id, warehouse, victim.location, sku, victim.lot, need - free
        )
        gained = min(need, free + freed)
        book.reserve(
            Reservation(order_id, warehouse, victim.location, sku, gained, level, victim.lot)
        )
        need -= gained
        if victim.order_id not in taken_from:
            taken_from.append(victim.order_id)
    return _SkuOutcome(need, tuple(taken_from))


def _free(book: StockBook, sku: str, warehouse: str, location: str, lot: str | None) -> int:
    """Units of one lot in one bin nobody holds, capped by the bin's total."""
    lot_free = 0
    bin_free = 0
    for p in book.positions(sku, warehouse):
        if p.location == location:
            bin_free += p.available
            if p.lot == lot:
                lot_free = p.available
    return min(lot_free, bin_free)


# --- transfers between warehouses ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferProposal:
    """Either move ``lines`` from ``from_warehouse`` to ``to_warehouse`` (a transfer,
    ``eta`` = arrival) or, with ``move_fulfilment``, fulfil the whole order at
    ``to_warehouse`` instead (``eta`` = when it can leave there)."""

    order_id: str
    from_warehouse: str
    to_warehouse: str
    lines: tuple[OrderLine, ...]
    eta: datetime
    move_fulfilment: bool
    reason: str


def _hours(hours: float) -> str:
    whole = round(hours * 60)
    return f"{whole // 60}h{whole % 60:02d}m"


def _deadline_note(arrival: datetime, deadline: datetime) -> str:
    if arrival <= deadline:
        return f"meets the deadline with {_hours((deadline - arrival).total_seconds() / 3600)} to spare"
    return f"misses the deadline by {_hours((arrival - deadline).total_seconds() / 3600)}"


def propose_transfer(
    order: Order,
    shortages: Sequence[OrderLine],
    warehouse: Warehouse,
    warehouses: Mapping[str, Warehouse],
    book: StockBook,
    now: datetime,
    ship_hours: Mapping[str, float] | None = None,
) -> TransferProposal | None:
    """Cover a shortage from the warehouse that can deliver soonest, or move the whole
    order there when shipping from it reaches the customer sooner than waiting."""
    if not shortages:
        return None
    ships = ship_hours or {}
    here_ship = ships.get(warehouse.id, 0.0)
    others = sorted(
        (other, hours)
        for other, hours in warehouse.transfer_hours.items()
        if other != warehouse.id and (not warehouses or other in warehouses)
    )
    by_speed = sorted(others, key=lambda item: (item[1], item[0]))

    def covers(wh: str, lines: Sequence[OrderLine]) -> bool:
        return all(book.available(line.sku, wh) >= line.qty for line in lines)

    transfer = next(((wh, h) for wh, h in by_speed if covers(wh, shortages)), None)
    transfer_done = now + timedelta(hours=transfer[1] + here_ship) if transfer else None

    whole = list(_needs(order).items())
    whole_lines = [OrderLine(sku, qty) for sku, qty in whole]
    movers = sorted(
        (
            (now + timedelta(hours=ships.get(wh, here_ship)), wh)
            for wh in {wh for wh, _h in others} | {wh for wh in warehouses if wh != warehouse.id}
            if covers(wh, whole_lines)
        ),
    )
    if movers and (transfer_done is None or movers[0][0] < transfer_done):
        done, target = movers[0]
        why = (
            f"{target} holds the whole order; shipping from there arrives {done:%Y-%m-%d %H:%M}"
            f" and {_deadline_note(done, order.deadline)}"
        )
        if transfer_done is not None and transfer is not None:
            why += f", sooner than a transfer from {transfer[0]} ({_hours(transfer[1])})"
        return TransferProposal(order.id, warehouse.id, target, tuple(whole_lines), now, True, why)
    if transfer is not None and transfer_done is not None:
        source, hours = transfer
        return TransferProposal(
            order.id,
            source,
            warehouse.id,
            tuple(shortages),
            now + timedelta(hours=hours),
            False,
            f"short at {warehouse.id}; transfer from {source} takes {_hours(hours)}"
            f" and {_deadline_note(transfer_done, order.deadline)}",
        )
    return _partial_transfer(order, shortages, warehouse, by_speed, book, now)


def _partial_transfer(
    order: Order,
    shortages: Sequence[OrderLine],
    warehouse: Warehouse,
    by_speed: Sequence[tuple[str, float]],
    book: StockBook,
    now: datetime,
) -> TransferProposal | None:
    """No warehouse covers the shortage: take what the best-stocked one has."""
    best: tuple[int, float, str, tuple[OrderLine, ...]] | None = None
    for wh, hours in by_speed:
        lines = tuple(
            OrderLine(line.sku, min(line.qty, book.available(line.sku, wh)))
            for line in shortages
            if book.available(line.sku, wh) > 0
        )
        units = sum(line.qty for line in lines)
        if units and (best is None or (units, -hours) > (best[0], -best[1])):
            best = (units, hours, wh, lines)
    if best is None:
        return None
    units, hours, source, lines = best
    wanted = sum(line.qty for line in shortages)
    return TransferProposal(
        order.id,
        source,
        warehouse.id,
        lines,
        now + timedelta(hours=hours),
        False,
        f"short at {warehouse.id}; no warehouse holds all of it; {source} can send"
        f" {units} of {wanted} units in {_hours(hours)}",
    )


# --- low stock ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replenishment:
    """Move ``qty`` of a SKU from a reserve bin to its pick face."""

    sku: str
    warehouse: str
    from_location: str
    to_location: str
    qty: int


@dataclass(frozen=True, slots=True)
class LowStockAlert:
    """Available stock in pick bins fell below the SKU's reorder point."""

    sku: str
    warehouse: str
    available: int
    reorder_point: int
    suggestion: Replenishment | None
    message: str


def _kind(code: str, locations: Mapping[str, Location]) -> LocationKind:
    location = locations.get(code)
    return location.kind if location is not None else LocationKind.PICK


def low_stock(
    book: StockBook, skus: Mapping[str, Sku], warehouse: str, locations: Mapping[str, Location]
) -> list[LowStockAlert]:
    """One alert per SKU whose available pick-bin stock is below its reorder point, with a
    replenishment from a reserve bin when one holds stock."""
    alerts: list[LowStockAlert] = []
    for code in sorted(skus):
        sku = skus[code]
        if sku.reorder_point <= 0:
            continue
        positions = book.positions(code, warehouse)
        picks = [p for p in positions if _kind(p.location, locations) == LocationKind.PICK]
        available = sum(p.available for p in picks)
        if available >= sku.reorder_point:
            continue
        head = (
            f"{code} at {warehouse}: {available} available in pick bins,"
            f" below reorder point {sku.reorder_point}"
        )
        reserves = _sort_rotation(
            [
                p
                for p in positions
                if _kind(p.location, locations) == LocationKind.RESERVE and p.available > 0
            ]
        )
        wanted = REPLENISH_TARGET_FACTOR * sku.reorder_point - available
        suggestion: Replenishment | None = None
        if not reserves:
            message = f"{head}; no reserve stock: reorder from supplier"
        elif not picks:
            message = f"{head}; no pick bin holds {code}: assign a pick face, then replenish"
        else:
            source = next((p for p in reserves if p.available >= wanted), None) or max(
                reserves, key=lambda p: p.available
            )
            face = min(picks, key=lambda p: (p.available, p.location))
            qty = min(wanted, source.available)
            suggestion = Replenishment(code, warehouse, source.location, face.location, qty)
            message = f"{head}; move {qty} from {source.location} to {face.location}"
            if qty < wanted:
                message += "; reserve stock is low too: reorder from supplier"
        alerts.append(
            LowStockAlert(code, warehouse, available, sku.reorder_point, suggestion, message)
        )
    return alerts
