"""The change feed: what a step changed goes to the compacted feed in the same
transaction; devices page through it with a cursor (SYNC_CONTRACT.md, Pull)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from central.service.context import Ctx
from central.service.docs import feed_view
from central.store.base import ORDER_ROW, BinRef, Store, Tx


class EpochMismatch(Exception):
    """The client's epoch is not this feed's: it must drop its replica and re-pull."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the feed."""

    cursor: int
    epoch: str
    changes: list[dict[str, Any]]
    more: bool


def stock_docs(tx: Tx, keys: set[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Feed documents of bins ``(warehouse, location, sku)``: on-hand per lot, reserved,
    available and the ledger position they reflect."""
    if not keys:
        return []
    lines = tx.stock_lines(keys=keys)
    reserved: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in tx.reservations(skus={k[2] for k in keys}):
        reserved[(r.warehouse, r.location, r.sku)] += r.qty
    docs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key in sorted(keys):
        docs[key] = {
            "warehouse": key[0],
            "location": key[1],
            "sku": key[2],
            "on_hand": 0,
            "reserved": reserved.get(key, 0),
            "available": 0,
            "lots": [],
            "ledger_seq": 0,
        }
    for line in lines:
        doc = docs[(line.warehouse, line.location, line.sku)]
        doc["on_hand"] += line.on_hand
        doc["ledger_seq"] = max(doc["ledger_seq"], line.ledger_seq)
        if line.lot or line.expiry:
            doc["lots"].append({"lot": line.lot, "expiry": line.expiry, "qty": line.on_hand})
    for doc in docs.values():
        doc["available"] = doc["on_hand"] - doc["reserved"]
    return list(docs.values())


def flush(ctx: Ctx) -> None:
    """Write the step's changed orders, timeline entries and feed changes."""
    if ctx.changed:
        docs = list(ctx.changed.values())
        for doc in docs:
            doc["updated_at"] = ctx.at
            # A moved order goes to every site, so the site it left sees it leave.
            site = None if doc.get("moved_from") else doc["warehouse"]
            ctx.feed.append(("order", doc["id"], site, ORDER_ROW))
        ctx.tx.update_orders(docs)
        ctx.changed.clear()
    if ctx.touched:
        # A bin's document is built when it is pulled (``pull``), from the same
        # snapshot as the rest of the page: the step only moves the bin to the head.
        for wh, loc, sku in sorted(ctx.touched):
            ctx.feed.append(("stock", f"{wh}/{loc}/{sku}", wh, BinRef(wh, loc, sku)))
        ctx.touched.clear()
    ctx.tx.add_timeline(ctx.timeline)
    ctx.tx.feed_put(ctx.feed)
    ctx.timeline.clear()
    ctx.feed.clear()


def pull(store: Store, cursor: int, limit: int, site: str | None, epoch: str | None) -> Page:
    """One page of changes after ``cursor`` (only ``site``'s, when given)."""
    with store.reader() as tx:
        current = tx.get_meta("epoch") or ""
        if epoch is not None and epoch != current:
            raise EpochMismatch(
                f"epoch {epoch!r} is not the feed's epoch {current!r}: re-pull from 0"
            )
        if cursor > tx.feed_head():
            raise EpochMismatch(f"cursor {cursor} is ahead of the feed: re-pull from 0")
        rows = tx.feed_page(cursor, limit + 1, site)
        more = len(rows) > limit
        rows = rows[:limit]
        keys = {(d.warehouse, d.location, d.sku) for r in rows if isinstance(d := r.data, BinRef)}
        bins = {(d["warehouse"], d["location"], d["sku"]): d for d in stock_docs(tx, keys)}
    changes = []
    for r in rows:
        data = r.data
        if isinstance(data, BinRef):
            data = bins[(data.warehouse, data.location, data.sku)]
        elif r.entity == "order" and data:
            data = feed_view(data)  # devices never see a customer's e-mail address
        changes.append({"entity": r.entity, "id": r.id, "data": data})
    return Page(cursor=rows[-1].seq if rows else cursor, epoch=current, changes=changes, more=more)
