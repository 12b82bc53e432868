"""``GET /v1/reports/summary`` over a small floor day driven through the real API with a
manual clock, so every figure below is worked out by hand."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.central.conftest import NOW, order_body
from tests.support.fixtures_central import CentralApp

_seq = itertools.count(1)


def push(app: CentralApp, device: str, minutes: float, kind: str, **data: Any) -> None:
    """Set the clock to NOW + ``minutes`` and push one op from ``device``."""
    when = NOW + timedelta(minutes=minutes)
    app.clock.set(when)
    op = {
        "op_id": f"{device}-{next(_seq)}",
        "seq": next(_seq),
        "kind": kind,
        "at": when.isoformat(),
        "data": data,
    }
    with app.client(app.token("device", device, "DE-FRA")) as client:
        result = client.post("/v1/sync/push", json={"device": device, "ops": [op]}).json()
    assert result["results"][0]["status"] == "applied", result


def seed_floor_day(app: CentralApp, http: httpx.Client) -> None:
    """R-1 standard and R-2 urgent, taken in (and allocated) at minute 0.

    minute  4: HH-1 picks R-2 (OP-8)       minute 10: HH-1 picks R-1 (OP-7)
    minute 30: PACK-1 packs both            minute 40: DOCK-1 ships R-2; 60: R-1
    carrier: R-2 delivered at 2 h (deadline 3 h), R-1 at 130 h (deadline 120 h).
    """
    app.clock.set(NOW)
    http.post("/v1/orders", json=order_body("R-1", [("SKU-2001", 1)])).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("R-2", [("SKU-1001", 1)], urgent=True)
    ).raise_for_status()
    pick = {"qty": 1, "tote": None}
    push(
        app,
        "HH-1",
        4,
        "pick.confirmed",
        order_id="R-2",
        sku="SKU-1001",
        location="A01-01-1",
        operator="OP-8",
        **pick,
    )
    push(
        app,
        "HH-1",
        10,
        "pick.confirmed",
        order_id="R-1",
        sku="SKU-2001",
        location="A01-02-1",
        operator="OP-7",
        **pick,
    )
    for order_id in ("R-2", "R-1"):
        push(
            app,
            "PACK-1",
            30,
            "order.packed",
            order_id=order_id,
            carton="S",
            weight_g=300,
            carrier_service="dhl-express",
            tracking=f"T-{order_id}",
        )
    push(
        app,
        "DOCK-1",
        40,
        "order.shipped",
        order_id="R-2",
        carrier_service="dhl-express",
        tracking="T-R-2",
    )
    push(
        app,
        "DOCK-1",
        60,
        "order.shipped",
        order_id="R-1",
        carrier_service="dhl-express",
        tracking="T-R-1",
    )
    events = [
        {"tracking": "T-R-2", "event": "delivered", "at": (NOW + timedelta(hours=2)).isoformat()},
        {"tracking": "T-R-1", "event": "delivered", "at": (NOW + timedelta(hours=130)).isoformat()},
    ]
    http.post("/v1/carrier-events", json={"events": events}).raise_for_status()


@pytest.fixture
def report(app: CentralApp, http: httpx.Client) -> dict[str, Any]:
    seed_floor_day(app, http)
    app.clock.set(NOW + timedelta(hours=131))
    r = http.get("/v1/reports/summary")
    assert r.status_code == 200, r.text
    return dict(r.json())


def overall(report: dict[str, Any], stage: str) -> dict[str, Any]:
    return next(s for s in report["stages"] if s["stage"] == stage)["overall"]


def test_stage_durations(report: dict[str, Any]) -> None:
    assert report["orders"]["total"] == 2
    assert report["orders"]["by_status"] == {"delivered": 2}
    # Allocation happens at intake: both 0 s.
    assert (overall(report, "allocate")["count"], overall(report, "allocate")["p90_s"]) == (2, 0)
    # pick [4, 10] min: p50 7 min = 420 s, p90 4 + 0.9*6 = 9.4 min = 564 s.
    assert (overall(report, "pick")["p50_s"], overall(report, "pick")["p90_s"]) == (420, 564)
    # pack R-2 26 min, R-1 20 min: p50 23 min = 1380 s, p90 20 + 0.9*6 = 25.4 min = 1524 s.
    assert (overall(report, "pack")["p50_s"], overall(report, "pack")["p90_s"]) == (1380, 1524)
    # ship R-2 10 min, R-1 30 min: p50 20 min = 1200 s, p90 10 + 0.9*20 = 28 min = 1680 s.
    assert (overall(report, "ship")["p50_s"], overall(report, "ship")["p90_s"]) == (1200, 1680)
    # deliver R-2 120 - 40 = 80 min = 4800 s; R-1 130 h - 60 min = 129 h = 464400 s.
    deliver = next(s for s in report["stages"] if s["stage"] == "deliver")
    assert sorted(v["p50_s"] for v in deliver["by_level"].values()) == [4800, 464400]


def test_bottleneck_and_on_time(report: dict[str, Any], http: httpx.Client) -> None:
    # Floor p90s 0 + 564 + 1524 + 1680 = 3768 s; ship's share 1680/3768 = 0.4459.
    assert report["bottleneck"]["stage"] == "ship"
    assert report["bottleneck"]["share"] == pytest.approx(0.4459, abs=1e-4)
    # R-2 (urgent) on time, R-1 (standard) late.
    assert report["on_time"]["urgent"] == {"on_time": 1, "total": 1, "rate": 1.0}
    assert report["on_time"]["standard"] == {"on_time": 0, "total": 1, "rate": 0.0}
    assert report["on_time"]["by_carrier"] == [
        {"service": "dhl-express", "on_time": 1, "total": 2, "rate": 0.5}
    ]
    level_r2 = http.get("/v1/orders/R-2").json()["priority"]["level"]
    assert report["on_time"]["by_level"][level_r2] == {"on_time": 1, "total": 1, "rate": 1.0}


def test_throughput(report: dict[str, Any]) -> None:
    # HH-1: 2 pick lines over 6 min -> 20/h; DOCK-1: 2 over 20 min -> 6/h; PACK-1: 2 in
    # the same minute (span floored to 60 s) -> 120/h.
    stations = {s["name"]: (s["kind"], s["ops"], s["per_hour"]) for s in report["stations"]}
    assert stations == {
        "HH-1": ("pick lines", 2, 20.0),
        "PACK-1": ("orders packed", 2, 120.0),
        "DOCK-1": ("orders shipped", 2, 6.0),
    }
    assert [(o["name"], o["ops"], o["units"]) for o in report["operators"]] == [
        ("OP-7", 1, 1),
        ("OP-8", 1, 1),
    ]


def test_summary_needs_admin(app: CentralApp) -> None:
    with app.client(app.token("device", "HH-1", "DE-FRA")) as client:
        assert client.get("/v1/reports/summary").status_code == 403
    with httpx.Client(base_url=app.url) as anonymous:
        assert anonymous.get("/v1/reports/summary").status_code == 401
