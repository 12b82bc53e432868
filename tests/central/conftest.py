"""Central tests: the app in-process on a real uvicorn port with a manual clock."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.clock import ManualClock
from central.settings import ServerSettings
from tests.support.central import TEST_MASTERDATA
from tests.support.fixtures_central import CentralApp, start_central_app, stop_central_app

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
_ids = itertools.count(1)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[CentralApp]:
    """A fresh server over a fresh database, time frozen at ``NOW``, no periodic tick."""
    handle, server, thread = start_central_app(
        tmp_path / "central.db",
        clock=ManualClock(NOW),
        settings=ServerSettings(reprioritise_seconds=0),
    )
    try:
        with handle.client() as http:
            http.post("/v1/masterdata", json=TEST_MASTERDATA).raise_for_status()
        yield handle
    finally:
        stop_central_app(handle, server, thread)


@pytest.fixture
def http(app: CentralApp) -> Iterator[httpx.Client]:
    """An admin client."""
    with app.client() as client:
        yield client


def order_body(
    order_id: str | None = None,
    lines: list[tuple[str, int]] | None = None,
    hours: float = 120,
    urgent: bool = False,
    country: str = "DE",
    postcode: str = "10115",
    **extra: Any,
) -> dict[str, Any]:
    """An intake body: standard by default; ``urgent`` = medical customer, express, tight deadline."""
    flags = ["medical"] if urgent else []
    body = {
        "id": order_id or f"ORD-{next(_ids)}",
        "customer": {
            "id": "C-1",
            "name": "Ada",
            "email": "ada@example.com",
            "tier": "standard",
            "flags": flags,
        },
        "ship_to": {
            "name": "Ada",
            "line1": "Main St 1",
            "city": "Berlin",
            "postcode": postcode,
            "country": country,
        },
        "lines": [{"sku": sku, "qty": qty} for sku, qty in (lines or [("SKU-2001", 1)])],
        "deadline": (NOW + timedelta(hours=3 if urgent else hours)).isoformat(),
        "service": "express" if urgent else "standard",
        "tags": [],
    }
    body.update(extra)
    return body


def fault_fields(response: httpx.Response) -> list[str]:
    """The dotted field paths a 422 answer names."""
    return [".".join(str(p) for p in e["loc"]) for e in response.json()["detail"]]


@pytest.fixture
def device(app: CentralApp) -> Iterator[httpx.Client]:
    """Handheld HH-1 at DE-FRA (a device token for sync tests)."""
    with app.client(app.token("device", "HH-1", "DE-FRA")) as client:
        yield client
