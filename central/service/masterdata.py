"""Master data in: warehouses, bins, SKUs and carriers upserted; stock rows become
ledger movements (reason "import") whose op_id is derived from the row, so importing
the same document twice does not double the stock. Stock imported into pick bins goes
to the orders waiting for it."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from central.clock import Clock
from central.service.context import Ctx, InputError
from central.service.feed import flush
from central.service.stock import allocate_waiting
from central.settings import ServerSettings
from central.store.base import MovementRow, Store
from domain.models import LocationKind

SECTIONS = ("warehouses", "locations", "skus", "carriers", "stock")


def import_op_id(row: dict[str, Any], occurrence: int) -> str:
    """The movement id of a stock row: its content plus how often it occurred before."""
    text = json.dumps(row, sort_keys=True, separators=(",", ":"))
    return f"import:{hashlib.sha256(f'{text}#{occurrence}'.encode()).hexdigest()[:32]}"


def import_masterdata(
    store: Store, body: dict[str, Any], clock: Clock, settings: ServerSettings
) -> dict[str, int]:
    """Upsert a §4.2 master-data document; returns counts per section (stock: rows
    newly added to the ledger)."""
    with store.transaction() as tx:
        ctx = Ctx(tx, clock.now(), settings)
        known_wh = set(ctx.warehouses) | {w["id"] for w in body.get("warehouses", [])}
        known_sku = set(ctx.skus) | {s["sku"] for s in body.get("skus", [])}
        known_loc = set(ctx.locations) | {
            (loc["warehouse"], loc["code"]) for loc in body.get("locations", [])
        }
        for i, loc in enumerate(body.get("locations", [])):
            if loc["warehouse"] not in known_wh:
                raise InputError(
                    ("body", "locations", i, "warehouse"), f"unknown warehouse {loc['warehouse']!r}"
                )
        for i, row in enumerate(body.get("stock", [])):
            if row["sku"] not in known_sku:
                raise InputError(("body", "stock", i, "sku"), f"unknown sku {row['sku']!r}")
            if (row["warehouse"], row["location"]) not in known_loc:
                raise InputError(
                    ("body", "stock", i, "location"),
                    f"unknown location {row['warehouse']}/{row['location']}",
                )
        for w in body.get("warehouses", []):
            tx.upsert_master("warehouse", w["id"], w)
            ctx.feed.append(("warehouse", w["id"], None, w))  # no warehouse field: all sites
        for loc in body.get("locations", []):
            key = f"{loc['warehouse']}/{loc['code']}"
            tx.upsert_master("location", key, loc)
            ctx.feed.append(("location", key, loc["warehouse"], loc))
        for s in body.get("skus", []):
            tx.upsert_master("sku", s["sku"], s)
            ctx.feed.append(("sku", s["sku"], None, s))
        for c in body.get("carriers", []):
            tx.upsert_master("carrier", c["id"], c)
            ctx.feed.append(("carrier", c["id"], None, c))
        seen: Counter[str] = Counter()
        rows = []
        for row in body.get("stock", []):
            text = json.dumps(row, sort_keys=True)
            rows.append(
                MovementRow(
                    op_id=import_op_id(row, seen[text]),
                    warehouse=row["warehouse"],
                    location=row["location"],
                    sku=row["sku"],
                    delta=int(row["qty"]),
                    reason="import",
                    at=ctx.at,
                    lot=row.get("lot") or "",
                    expiry=row.get("expiry") or None,
                )
            )
            seen[text] += 1
            ctx.touched.add((row["warehouse"], row["location"], row["sku"]))
        added = tx.append_movements(rows)
        flush(ctx)
        if added:
            # Stock arrived: orders waiting for it are allocated, read through a new step
            # that sees the master data just written (bins and SKUs of this document).
            after = Ctx(tx, ctx.now, settings)
            arrived: dict[str, set[str]] = {}
            for row in rows:
                location = after.locations.get((row.warehouse, row.location))
                if location is not None and location.kind is LocationKind.PICK:
                    arrived.setdefault(row.warehouse, set()).add(row.sku)
            for warehouse, skus in sorted(arrived.items()):
                allocate_waiting(after, warehouse, skus)
            flush(after)
        counts = {name: len(body.get(name, [])) for name in SECTIONS}
        counts["stock"] = added
        return counts
