"""Sample rows in the sync contract's shapes, for the sync tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def order(order_id: str = "O1", qty: int = 2, status: str = "allocated", **extra: Any) -> dict:
    """An order row as the server sends it."""
    row = {
        "id": order_id,
        "warehouse": "DE-FRA",
        "customer": {"id": "C1", "name": "Ada", "tier": "vip", "flags": []},
        "ship_to": {"name": "Ada", "line1": "1 St", "city": "F", "postcode": "1", "country": "DE"},
        "lines": [{"sku": "SKU-1", "qty": qty, "picked": 0, "packed": 0}],
        "deadline": "2026-11-25T18:00:00+00:00",
        "status": status,
        "exceptions": [],
        "priority": {"level": "P2", "score": 50.0, "reasons": []},
        "tote": None,
    }
    row.update(extra)
    return row


def stock(location: str = "A01", on_hand: int = 10, reserved: int = 2, sku: str = "SKU-1") -> dict:
    """A stock row as the server sends it."""
    return {
        "warehouse": "DE-FRA",
        "location": location,
        "sku": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
        "lots": [],
        "ledger_seq": 1,
    }


def change(entity: str, row_id: str, data: dict | None) -> dict:
    """One change-feed entry."""
    return {"entity": entity, "id": row_id, "data": data}


def pick(order_id: str = "O1", qty: int = 1, location: str = "A01", **extra: Any) -> dict:
    """pick.confirmed data."""
    return {
        "order_id": order_id,
        "sku": "SKU-1",
        "location": location,
        "qty": qty,
        "operator": "op1",
        **extra,
    }
