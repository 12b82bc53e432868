"""SLA risk monitor: open orders assessed against their deadlines on an injected clock;
at-risk orders show in /v1/alerts with proposed resolutions and notify once."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from central.clock import ManualClock
from central.feedback.risk_monitor import evaluate
from tests.central.conftest import NOW, order_body
from tests.central.feedback_support import fast_settings, feedback_app, hook, webhook_receiver
from tests.support.central import TEST_MASTERDATA
from tests.support.fixtures_central import CentralApp
from tests.support.waiting import wait_until

COURIER = {
    "id": "city-courier",
    "carrier": "CityCourier",
    "service": "Same day",
    "transit_hours": 2,
    "cutoff": "18:00",
    "cost": 29.0,
    "countries": ["DE"],
    "max_weight_g": 20000,
    "local_postcode_prefixes": [],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def app(tmp_path: Path, clock: ManualClock) -> Iterator[CentralApp]:
    settings = fast_settings(status_events=frozenset(), exception_events=frozenset())
    with feedback_app(tmp_path / "c.db", clock, settings) as handle:
        data = copy.deepcopy(TEST_MASTERDATA)
        data["carriers"] = [*data["carriers"], COURIER]
        with handle.client() as http:
            http.post("/v1/masterdata", json=data).raise_for_status()
        yield handle


def run(app: CentralApp, clock: ManualClock) -> Any:
    return evaluate(app.store, clock.now(), app.settings, app.feedback.settings)  # type: ignore[attr-defined]


def pack(app: CentralApp, order_id: str, service: str) -> None:
    token = app.token("device", "pack-1", "DE-FRA")
    op = {
        "op_id": f"01900000-0000-7000-8000-{abs(hash(order_id)) % 10**12:012d}",
        "seq": 1,
        "kind": "order.packed",
        "at": NOW.isoformat(),
        "data": {
            "order_id": order_id,
            "carton": "S",
            "weight_g": 100,
            "carrier_service": service,
            "tracking": "TRK-1",
        },
    }
    with app.client(token) as device:
        result = device.post("/v1/sync/push", json={"device": "pack-1", "ops": [op]}).json()
    assert result["results"][0]["status"] == "applied", result


def test_slow_service_proposes_an_upgrade(app: CentralApp, clock: ManualClock) -> None:
    with app.client() as http:
        http.post("/v1/orders", json=order_body("RK-1", hours=30)).raise_for_status()
        http.post("/v1/orders", json=order_body("RK-SAFE", hours=120)).raise_for_status()
    pack(app, "RK-1", "dhl-express")
    report = run(app, clock)
    assert report.evaluated == 2 and report.at_risk == ("RK-1",)
    with app.client() as http:
        alerts = http.get("/v1/alerts").json()["at_risk"]
    entry = next(a for a in alerts if a["order_id"] == "RK-1")
    assert [r["kind"] for r in entry["resolutions"]] == ["upgrade_service"]
    assert "CityCourier" in entry["resolutions"][0]["detail"]
    assert any("after the deadline" in reason for reason in entry["reasons"])
    assert all(a["order_id"] != "RK-SAFE" for a in alerts)


def test_shortage_proposes_transfer_and_split(app: CentralApp, clock: ManualClock) -> None:
    body = order_body("RK-2", lines=[("SKU-3001", 5), ("SKU-2001", 1)], hours=24)
    with app.client() as http:
        doc = http.post("/v1/orders", json=body).json()
    assert "stock_shortage" in doc["exceptions"]
    run(app, clock)
    with app.client() as http:
        entry = next(a for a in http.get("/v1/alerts").json()["at_risk"] if a["order_id"] == "RK-2")
    kinds = [r["kind"] for r in entry["resolutions"]]
    assert "transfer" in kinds and "split_shipment" in kinds
    assert any("stock short: SKU-3001 x2" in reason for reason in entry["reasons"])


def test_time_passing_turns_an_order_at_risk_and_notifies_once(
    app: CentralApp, clock: ManualClock
) -> None:
    with app.client() as http:
        http.post("/v1/orders", json=order_body("RK-3", hours=60)).raise_for_status()
    assert run(app, clock).at_risk == ()
    clock.advance(timedelta(hours=58))  # the clock is injected: no waiting
    first = run(app, clock)
    assert first.newly_at_risk == ("RK-3",) and len(first.notifications) == 1
    second = run(app, clock)
    assert second.at_risk == ("RK-3",) and second.newly_at_risk == ()
    assert second.notifications == ()
    with app.client() as http:
        notes = http.get("/v1/notifications", params={"order_id": "RK-3"}).json()
        http.post("/v1/orders/RK-3/cancel").raise_for_status()
    assert [n["event"] for n in notes] == ["at_risk"]
    assert notes[0]["payload"]["resolutions"][0]["kind"] == "expedite"
    assert run(app, clock).evaluated == 0
    with app.client() as http:
        assert http.get("/v1/alerts").json()["at_risk"] == []


def test_worker_runs_the_monitor_on_its_interval(tmp_path: Path, clock: ManualClock) -> None:
    with webhook_receiver() as receiver:
        settings = replace(
            fast_settings(status_events=frozenset()),
            risk_interval_seconds=0.2,
            webhooks=(hook(receiver.url, frozenset({"at_risk"})),),
        )
        with feedback_app(tmp_path / "w.db", clock, settings) as app, app.client() as http:
            http.post("/v1/orders", json=order_body("RK-4", hours=2)).raise_for_status()
            wait_until(lambda: receiver.answered(200), timeout=15, what="at-risk webhook")
    assert receiver.requests[0].headers["x-rushline-event"] == "at_risk"


def test_alerts_assess_orders_the_monitor_has_not_seen(app: CentralApp) -> None:
    with app.client() as http:
        soon = (NOW + timedelta(minutes=30)).isoformat()
        body = order_body("RK-5", urgent=True, deadline=soon)
        http.post("/v1/orders", json=body).raise_for_status()
        # No monitor round has run: the alert is assessed on the request's clock.
        alerts = http.get("/v1/alerts").json()["at_risk"]
    entry = next(a for a in alerts if a["order_id"] == "RK-5")
    assert entry["resolutions"] and entry["reasons"]
    assert entry["expected_at"] > entry["deadline"]
