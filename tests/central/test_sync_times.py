"""Floor events are timed by the device (when they happened), not by when the server
heard of them: an outage must not stretch the stage durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.service.apply_ops import Rejected, check_at
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


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2030, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5, minutes=30))]
        ),
    ),
    form=st.sampled_from(["canonical", "plain", "space", "z", "minus", "comma", "week"]),
)
def test_an_op_time_in_any_iso_form_is_kept_as_utc_to_the_microsecond(
    moment: datetime, form: str
) -> None:
    """Whatever ISO form a device writes its time in, central keeps the same UTC text
    (the form it takes as it comes is checked first and must agree)."""
    utc = moment.astimezone(UTC)
    text = {
        "canonical": utc.isoformat(timespec="microseconds"),
        "plain": moment.isoformat(),
        "space": moment.isoformat(sep=" ", timespec="microseconds"),
        "z": utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z",
        "minus": utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "-00:00",
        "comma": moment.isoformat(timespec="microseconds").replace(".", ","),
        "week": "{}-W{:02d}-{}T{}".format(
            *utc.isocalendar(), utc.isoformat(timespec="microseconds")[11:]
        ),
    }[form]
    now = datetime(2030, 6, 1, tzinfo=UTC)
    assert check_at(text, now, {}) == utc.isoformat(timespec="microseconds")


def test_an_op_time_that_is_not_a_zoned_iso_time_is_rejected() -> None:
    now = datetime(2030, 6, 1, tzinfo=UTC)
    for bad in (
        "2026-11-25T09:00:00.000000",
        "yesterday",
        "2026-11-25T09:00:00.\u0661\u0662\u0663\u0664\u0665\u0666+00:00",
        7,
    ):
        with pytest.raises(Rejected, match="invalid field 'at'"):
            check_at(bad, now, {})
