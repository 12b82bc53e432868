"""Master data, orders and central queries shared by the sync integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

SITE = "DE-FRA"
LOCATIONS = ["A01", "A02", "A03"]
SKUS = ["SKU-1", "SKU-2"]
INITIAL_QTY = 50


def masterdata() -> dict[str, Any]:
    """One warehouse, three bins, two SKUs with ``INITIAL_QTY`` in every bin."""
    return {
        "warehouses": [
            {
                "id": SITE,
                "name": "Frankfurt",
                "country": "DE",
                "postcode": "60311",
                "timezone": "Europe/Berlin",
            }
        ],
        "locations": [
            {
                "warehouse": SITE,
                "code": code,
                "zone": "A",
                "aisle": 1,
                "bay": i + 1,
                "level": 1,
                "kind": "pick",
            }
            for i, code in enumerate(LOCATIONS)
        ],
        "skus": [
            {
                "sku": sku,
                "gtin": f"400638133393{i}",
                "name": f"Item {sku}",
                "category": "general",
                "flags": [],
                "weight_g": 300,
                "dims_mm": [100, 80, 60],
                "reorder_point": 0,
            }
            for i, sku in enumerate(SKUS)
        ],
        "stock": [
            {"warehouse": SITE, "location": loc, "sku": sku, "qty": INITIAL_QTY}
            for loc in LOCATIONS
            for sku in SKUS
        ],
        "carriers": [
            {
                "id": "dhl-express",
                "carrier": "DHL",
                "service": "Express",
                "transit_hours": 24,
                "cutoff": "17:00",
                "cost": 14.9,
                "countries": ["DE"],
                "max_weight_g": 31500,
                "local_postcode_prefixes": [],
            }
        ],
    }


def order_body(order_id: str, qty: int = 2, sku: str = "SKU-1") -> dict[str, Any]:
    """A POST /v1/orders body for the test site."""
    return {
        "id": order_id,
        "warehouse": SITE,
        "customer": {
            "id": "C1",
            "name": "Ada",
            "email": "ada@example.com",
            "tier": "vip",
            "flags": [],
        },
        "ship_to": {
            "name": "Ada",
            "line1": "Main St 1",
            "city": "Frankfurt",
            "postcode": "60311",
            "country": "DE",
        },
        "lines": [{"sku": sku, "qty": qty}],
        "deadline": (datetime.now(UTC) + timedelta(hours=6)).isoformat(),
        "service": "express",
    }


def admin(server: Any) -> httpx.Client:
    """An HTTP client with the admin token."""
    return httpx.Client(
        base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {server.admin_token}"}
    )


def stock_rows(http: httpx.Client, sku: str) -> list[dict[str, Any]]:
    """GET /v1/stock rows of one SKU at the test site."""
    response = http.get("/v1/stock", params={"sku": sku, "warehouse": SITE})
    response.raise_for_status()
    body = response.json()
    if isinstance(body, dict):
        body = body.get("stock", body.get("items", body.get("positions", [])))
    return list(body)


def on_hand(http: httpx.Client) -> dict[tuple[str, str], int]:
    """Central's on-hand per (location, sku) at the test site."""
    totals: dict[tuple[str, str], int] = {}
    for sku in SKUS:
        for row in stock_rows(http, sku):
            key = (row["location"], row["sku"])
            totals[key] = totals.get(key, 0) + int(row["on_hand"])
    return totals


def order_status(http: httpx.Client, order_id: str) -> str:
    """GET /v1/orders/{id} status."""
    response = http.get(f"/v1/orders/{order_id}")
    response.raise_for_status()
    return str(response.json()["status"])
