"""Floor events are timed by the device (when they happened), not by when the server
heard of them: an outage must not stretch the stage durations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.central.conftest import NOW, order_body
from tests.support.fixtures_central import CentralApp


def op(kind: str, seq: int, at: Any, **data: Any) -> dict[str, Any]:
    return {"op_id": f"t-{seq}", "seq": seq, "kind": kind, "at": at, "data": data}


def stage(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in summary["stages"] if s["stage"] == name)


def test_ops_pushed_after_an_outage_keep_their_device_times(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("T-1", [("SKU-2001", 2)])).raise_for_status()
    picked, packed, shipped = (NOW + timedelta(minutes=m) for m in (2, 5, 9))
    # The device was cut off for three hours; everything reaches the server afterwards.
    app.clock.set(NOW + timedelta(hours=3))
    ops = [
        op(
            "pick.confirmed",
            1,
            picked.isoformat(),
            order_id="T-1",
            sku="SKU-2001",
            location="A01-02-1",
            qty=2,
            operator="OP-1",
        ),
        op(
            "label.printed",
            2,
            (packed - timedelta(minutes=1)).isoformat(),
            order_id="T-1",
            printer="PR-1",
            job_id="J-1",
        ),
        op(
            "order.packed",
            3,
            packed.isoformat(),
            order_id="T-1",
            carton="S",
            carrier_service="DHL-EXP",
            tracking="TRK-1",
        ),
        op(
            "order.shipped",
            4,
            shipped.isoformat(),
            order_id="T-1",
            carrier_service="DHL-EXP",
            tracking="TRK-1",
        ),
    ]
    result = device.post("/v1/sync/push", json={"device": "HH-1", "ops": ops}).json()
    assert [r["status"] for r in result["results"]] == ["applied"] * 4

    timeline = {e["event"]: e for e in http.get("/v1/orders/T-1").json()["timeline"]}
    for event, when in (("picked", picked), ("packed", packed), ("shipped", shipped)):
        assert timeline[event]["at"] == when.isoformat(timespec="microseconds")
        # The receive time is kept: the entry says the event arrived late.
        assert "received 2026-11-25T11:00:00" in timeline[event]["detail"]
    assert timeline["label_printed"]["at"] < timeline["packed"]["at"]

    summary = http.get("/v1/reports/summary").json()
    assert stage(summary, "pick")["overall"]["max_s"] == 120.0
    assert stage(summary, "pack")["overall"]["max_s"] == 180.0
    assert stage(summary, "ship")["overall"]["max_s"] == 240.0


def test_event_before_the_order_was_received_is_clamped_to_its_receipt(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    app.clock.set(NOW + timedelta(minutes=10))
    http.post("/v1/orders", json=order_body("T-2")).raise_for_status()
    early = (NOW + timedelta(minutes=9)).isoformat()  # the device clock is a minute behind
    push = {"device": "HH-1", "ops": [op("tote.assigned", 1, early, order_id="T-2", tote="X1")]}
    assert device.post("/v1/sync/push", json=push).json()["results"][0]["status"] == "applied"
    tote = next(e for e in http.get("/v1/orders/T-2").json()["timeline"] if e["event"] == "tote")
    assert tote["at"] == (NOW + timedelta(minutes=10)).isoformat()
    assert "received" not in tote["detail"]


def test_event_from_a_fast_device_clock_is_kept_at_the_server_time(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    app.clock.set(NOW)
    http.post("/v1/orders", json=order_body("T-4")).raise_for_status()
    ahead = (NOW + timedelta(hours=2)).isoformat()
    push = {"device": "HH-1", "ops": [op("tote.assigned", 1, ahead, order_id="T-4", tote="X4")]}
    assert device.post("/v1/sync/push", json=push).json()["results"][0]["status"] == "applied"
    tote = next(e for e in http.get("/v1/orders/T-4").json()["timeline"] if e["event"] == "tote")
    assert tote["at"] == NOW.isoformat(timespec="microseconds")


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("yesterday at noon", "is not an ISO 8601 time"),
        ("2026-11-25T08:00:00", "has no time zone"),
        (12345, "is not an ISO 8601 time"),
    ],
)
def test_nonsense_device_time_is_rejected_with_a_reason(
    http: httpx.Client, device: httpx.Client, at: Any, reason: str
) -> None:
    http.post("/v1/orders", json=order_body("T-3")).raise_for_status()
    bad = op("label.printed", 1, at, order_id="T-3", printer="PR-1", job_id="J-9")
    r = device.post("/v1/sync/push", json={"device": "HH-1", "ops": [bad]})
    if r.status_code == 422:  # a non-text `at` is refused at the HTTP edge
        assert isinstance(at, int)
        return
    result = r.json()["results"][0]
    assert result["status"] == "rejected" and reason in result["reason"]
    assert result["reason"].startswith("invalid field 'at'")
    events = [e["event"] for e in http.get("/v1/orders/T-3").json()["timeline"]]
    assert "label_printed" not in events
