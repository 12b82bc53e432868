"""Stock in a transaction: the in-memory book for some SKUs, allocation of orders
against it and writing the outcome back (reservations, allocations, transfers)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from central.service import rules
from central.service.context import Ctx, parse_day
from central.service.docs import order_of, set_state, state_of
from central.service.tasks import hot_task, top_up
from central.store.base import ReservationRow
from domain.ledger import Movement, Reservation, StockBook
from domain.models import ExceptionKind, Level, LocationKind, OrderLine, OrderStatus, parse_time
from domain.status import add_exception, advance


def load_book(ctx: Ctx, skus: set[str]) -> StockBook:
    """The stock and open reservations of ``skus`` (every warehouse) as a StockBook: one
    movement per bin and lot carrying its running total (not the whole history)."""
    book = StockBook()
    for m in ctx.tx.bin_totals(skus):
        if m.delta == 0:
            continue
        book.apply(
            Movement(
                m.op_id,
                m.warehouse,
                m.location,
                m.sku,
                m.delta,
                m.reason,
                parse_time(m.at) if m.at else ctx.now,
                m.lot or None,
                parse_day(m.expiry),
            )
        )
    for r in ctx.tx.reservations(skus=skus):
        book.reserve(
            Reservation(
                r.order_id,
                r.warehouse,
                r.location,
                r.sku,
                r.qty,
                Level(r.level),
                r.lot or None,
                r.picking,
            )
        )
    return book


def _allocations(book: StockBook, order_id: str) -> list[dict[str, Any]]:
    result = []
    for res in sorted(book.reservations(order_id), key=lambda r: (r.sku, r.location, r.lot or "")):
        expiry = next(
            (
                p.expiry
                for p in book.positions(res.sku, res.warehouse)
                if p.location == res.location and p.lot == res.lot
            ),
            None,
        )
        result.append(
            {
                "sku": res.sku,
                "location": res.location,
                "qty": res.qty,
                "lot": res.lot,
                "expiry": expiry.isoformat() if expiry else None,
            }
        )
    return result


def save_reservations(ctx: Ctx, book: StockBook, order_id: str) -> None:
    """Write an order's reservations from the book and mark its bins touched."""
    held = book.reservations(order_id)
    before = ctx.tx.reservations(order_ids=[order_id])
    ctx.tx.replace_reservations(
        order_id,
        [
            ReservationRow(
                r.order_id,
                r.warehouse,
                r.location,
                r.sku,
                r.lot or "",
                r.qty,
                r.level.value,
                r.picking,
            )
            for r in held
        ],
    )
    for row in before:
        ctx.touched.add((row.warehouse, row.location, row.sku))
    for res in held:
        ctx.touched.add((res.warehouse, res.location, res.sku))


# Orders looked at per step when stock arrives (the most urgent first).
WAITING_LIMIT = 500
# Statuses of orders that may wait for stock: not allocated in full yet, or short-picked.
_WAITING = (OrderStatus.RECEIVED.value, OrderStatus.PICKING.value, OrderStatus.PICKED.value)


def allocate_waiting(
    ctx: Ctx, warehouse: str, skus: set[str], skip: set[str] | frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Stock of ``skus`` arrived in ``warehouse`` (a receipt, a count, a move into a pick
    bin, a cancelled order's release): orders there still waiting for some of it (a line
    short: never allocated in full, or short-picked with no other bin to take the rest
    from) are allocated again, most urgent first. An urgent one that now holds all its
    lines gets its hot pick task; a partly picked one whose tote has left the picker gets
    a top-up task. Orders in ``skip`` are left (a step already deciding their
    reservations). Returns the orders allocated again."""
    if not skus:
        return []
    docs = []
    for doc in ctx.tx.orders_waiting_stock(warehouse, _WAITING, WAITING_LIMIT):
        doc = ctx.changed.get(doc["id"], doc)
        if doc["id"] in skip or doc["status"] not in _WAITING:
            continue
        if any(li.get("short") and li["sku"] in skus for li in doc["lines"]):
            docs.append(doc)
    if not docs:
        return []
    allocate_orders(ctx, docs)
    for doc in docs:
        if doc["status"] != OrderStatus.ALLOCATED.value:
            top_up(ctx, doc)
        elif Level(doc["priority"]["level"]).is_urgent:
            hot_task(ctx, doc)
    return docs


def allocate_orders(
    ctx: Ctx, docs: list[dict[str, Any]], excluded: set[tuple[str, str]] | None = None
) -> None:
    """Allocate open orders, most urgent first, preempted ones again afterwards; record
    shortages as exceptions and transfer proposals. ``excluded`` bins (warehouse, code)
    are not picked from (a picker found them empty)."""
    if not docs:
        return
    skus = {li["sku"] for d in docs for li in d["lines"]}
    book = load_book(ctx, skus)
    queue = sorted(docs, key=lambda d: (d["priority"]["level"], -d["priority"]["score"], d["id"]))
    seen: set[str] = set()
    rounds = 0
    while queue and rounds < 3 * len(docs) + 10:
        rounds += 1
        doc = queue.pop(0)
        preempted = _allocate_one(ctx, book, doc, excluded or set())
        seen.add(doc["id"])
        if preempted:
            victims = ctx.tx.get_orders([p for p in preempted if p not in ctx.changed])
            victims.update({p: ctx.changed[p] for p in preempted if p in ctx.changed})
            for vid in preempted:
                ctx.note(vid, "preempted", f"stock taken by more urgent order {doc['id']}")
                save_reservations(ctx, book, vid)
                if vid in victims:
                    queue.append(victims[vid])


def _allocate_one(
    ctx: Ctx, book: StockBook, doc: dict[str, Any], excluded: set[tuple[str, str]]
) -> tuple[str, ...]:
    state = state_of(doc)
    if state.status in (OrderStatus.CANCELLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        return ()
    level = Level(doc["priority"]["level"])
    warehouse = doc["warehouse"]
    locations = ctx.locations_in(warehouse)  # shared: copied before a bin is excluded
    hidden = [code for wh, code in excluded if wh == warehouse and code in locations]
    if hidden:
        locations = dict(locations)
        for code in hidden:
            locations[code] = replace(locations[code], kind=LocationKind.RESERVE)
    # Only what is still to be picked is allocated (a partly picked order keeps its picks).
    remaining = tuple(
        OrderLine(li["sku"], li["qty"] - li.get("picked", 0))
        for li in doc["lines"]
        if li["qty"] - li.get("picked", 0) > 0
    )
    if not remaining:
        return ()
    order = replace(order_of(doc), lines=remaining)
    result = rules.allocate(order, level, book, warehouse, locations, ctx.now)
    save_reservations(ctx, book, doc["id"])
    doc["allocations"] = _allocations(book, doc["id"])
    missing = {li.sku: li.qty for li in result.shortages}
    for li in doc["lines"]:
        li["short"] = missing.get(li["sku"], 0)
    if result.complete:
        state = advance(state, OrderStatus.ALLOCATED)
        ctx.note(
            doc["id"],
            "allocated",
            ", ".join(f"{a['sku']}x{a['qty']}@{a['location']}" for a in doc["allocations"]),
        )
    else:
        short = ", ".join(f"{li.sku}x{li.qty}" for li in result.shortages)
        proposal = rules.propose_transfer(
            order, result.shortages, ctx.warehouses[warehouse], ctx.warehouses, book, ctx.now
        )
        movable = not doc.get("moved_from") and not any(li.get("picked") for li in doc["lines"])
        if proposal is not None and proposal["move_fulfilment"] and movable:
            # Another warehouse holds the whole order and ships sooner: fulfil it there.
            proposal.update(created_at=ctx.at, status="moved")
            ctx.tx.add_transfer(proposal)
            book.release(doc["id"])
            save_reservations(ctx, book, doc["id"])
            doc["warehouse"], doc["moved_from"] = proposal["to_warehouse"], warehouse
            ctx.note(doc["id"], "fulfilment_moved", proposal["reason"])
            set_state(doc, state)
            return tuple(result.preempted) + _allocate_one(ctx, book, doc, excluded)
        state = add_exception(state, ExceptionKind.STOCK_SHORTAGE)
        ctx.note(doc["id"], "stock_shortage", f"short in {warehouse}: {short}")
        same = [
            t
            for t in ctx.tx.transfers_of(doc["id"])
            if proposal is not None
            and (t["from_warehouse"], t["to_warehouse"], t["lines"])
            == (proposal["from_warehouse"], proposal["to_warehouse"], proposal["lines"])
        ]
        if proposal is not None and not proposal["move_fulfilment"] and not same:
            proposal.update(created_at=ctx.at, status="proposed")
            tid = ctx.tx.add_transfer(proposal)
            ctx.note(
                doc["id"], "transfer_proposed", f"#{tid} from {proposal['from_warehouse']}: {short}"
            )
    set_state(doc, state)
    ctx.change(doc)
    return tuple(result.preempted)
