"""Building and sending device operations in the central server's sync tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.central.conftest import NOW

_op = itertools.count(1)
AT = NOW.isoformat()


def op(op_kind: str, seq: int, op_id: str | None = None, **data: Any) -> dict[str, Any]:
    return {
        "op_id": op_id or f"op-{next(_op)}",
        "seq": seq,
        "kind": op_kind,
        "at": AT,
        "data": data,
    }


def adjusted(seq: int, delta: Any, reason: str = "found") -> dict[str, Any]:
    """A ``stock.adjusted`` op on bin DE-FRA/A01-02-1 of SKU-2001."""
    return op(
        "stock.adjusted",
        seq,
        warehouse="DE-FRA",
        location="A01-02-1",
        sku="SKU-2001",
        delta=delta,
        reason=reason,
    )


def push(client: httpx.Client, *ops: dict[str, Any], device: str = "HH-1") -> dict[str, Any]:
    r = client.post("/v1/sync/push", json={"device": device, "ops": list(ops)})
    assert r.status_code == 200, r.text
    return dict(r.json())


def stock_of(
    http: httpx.Client, sku: str, location: str, warehouse: str = "DE-FRA"
) -> dict[str, Any]:
    rows = http.get("/v1/stock", params={"sku": sku, "warehouse": warehouse}).json()
    return next(r for r in rows if r["location"] == location)


def pull_all(
    client: httpx.Client, cursor: int = 0, limit: int = 500
) -> tuple[list[dict[str, Any]], int]:
    changes: list[dict[str, Any]] = []
    for _ in range(1000):
        page = client.get("/v1/sync/pull", params={"cursor": cursor, "limit": limit}).json()
        changes += page["changes"]
        assert page["cursor"] >= cursor
        cursor = page["cursor"]
        if not page["more"]:
            return changes, cursor
    raise AssertionError("feed never ended")


def held(http: httpx.Client, order_id: str) -> list[tuple[str, int]]:
    doc = http.get(f"/v1/orders/{order_id}").json()
    return sorted((a["location"], a["qty"]) for a in doc["allocations"])


def events(http: httpx.Client, order_id: str) -> list[str]:
    return [e["event"] for e in http.get(f"/v1/orders/{order_id}").json()["timeline"]]


def counted(seq: int, location: str, sku: str, qty: int, http: httpx.Client) -> dict[str, Any]:
    """A ``stock.counted`` op against the bin's current ledger position."""
    seen = stock_of(http, sku, location)["ledger_seq"]
    return op(
        "stock.counted",
        seq,
        warehouse="DE-FRA",
        location=location,
        sku=sku,
        counted=qty,
        seen_cursor=seen,
    )
