"""Carrier events in (JSON, CSV, multipart), bad rows refused whole, on-time rates into
the change feed and from there into the pack station's carrier choice."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.carriers import choose_service
from domain.models import ShipTo
from edge.station.shipment import carrier_from_row, rates_from_stats
from sync.client import SyncClient
from sync.store import LocalStore
from tests.central.conftest import NOW, fault_fields, order_body
from tests.support.fixtures_central import CentralApp

_seq = itertools.count(1)
CHEAP = {
    "id": "post-economy",
    "carrier": "Post",
    "service": "Economy",
    "transit_hours": 24,
    "cutoff": "18:00",
    "cost": 4.5,
    "countries": ["DE"],
    "max_weight_g": 31500,
    "local_postcode_prefixes": [],
}


@pytest.fixture
def device(app: CentralApp) -> Iterator[httpx.Client]:
    """Pack station PACK-1 at DE-FRA."""
    with app.client(app.token("device", "PACK-1", "DE-FRA")) as client:
        yield client


def packed_order(
    http: httpx.Client,
    device: httpx.Client,
    order_id: str,
    tracking: str,
    service: str = "dhl-express",
    urgent: bool = False,
) -> None:
    """An order taken in and packed with a tracking number."""
    http.post("/v1/orders", json=order_body(order_id, urgent=urgent)).raise_for_status()
    seq = next(_seq)
    body = {
        "device": "PACK-1",
        "ops": [
            {
                "op_id": f"pack-{order_id}",
                "seq": seq,
                "kind": "order.packed",
                "at": NOW.isoformat(),
                "data": {
                    "order_id": order_id,
                    "carton": "S",
                    "weight_g": 300,
                    "carrier_service": service,
                    "tracking": tracking,
                },
            }
        ],
    }
    result = device.post("/v1/sync/push", json=body).json()
    assert result["results"][0]["status"] == "applied", result


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def feed_stats(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """The ``carrier_stats`` entities a device pulls, by id."""
    cursor, stats = 0, {}
    for _ in range(100):
        page = client.get("/v1/sync/pull", params={"cursor": cursor, "limit": 500}).json()
        for change in page["changes"]:
            if change["entity"] == "carrier_stats":
                stats[change["id"]] = change["data"]
        cursor = page["cursor"]
        if not page["more"]:
            return stats
    raise AssertionError("feed never ended")


def test_json_events_deliver_orders_and_count_on_time(
    http: httpx.Client, device: httpx.Client
) -> None:
    packed_order(http, device, "CE-1", "TRK-1")  # deadline NOW + 120 h
    packed_order(http, device, "CE-2", "TRK-2", urgent=True)  # deadline NOW + 3 h
    events = [
        {"tracking": "TRK-1", "event": "picked_up", "at": at(1)},
        {"tracking": "TRK-1", "event": "delivered", "at": at(20)},  # on time
        {"tracking": "TRK-2", "event": "delivered", "at": at(5), "carrier_service": "dhl-express"},
    ]
    r = http.post("/v1/carrier-events", json={"events": events})
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["applied"], result["duplicates"], result["delivered"]) == (3, 0, 2)
    assert result["carrier_stats"] == [
        {"service": "dhl-express", "country": "*", "on_time": 1, "total": 2},
        {"service": "dhl-express", "country": "DE", "on_time": 1, "total": 2},
    ]
    order = http.get("/v1/orders/CE-1").json()
    assert order["status"] == "delivered"
    events_seen = [(e["event"], e["at"]) for e in order["timeline"]]
    assert ("picked_up", at(1)) in events_seen and ("delivered", at(20)) in events_seen
    # The same file again changes nothing.
    again = http.post("/v1/carrier-events", json={"events": events}).json()
    assert (again["applied"], again["duplicates"], again["delivered"]) == (0, 3, 0)
    assert again["carrier_stats"] == []
    assert feed_stats(device)["dhl-express/DE"] == {
        "service": "dhl-express",
        "country": "DE",
        "on_time": 1,
        "total": 2,
    }


def test_csv_body_and_multipart_file(http: httpx.Client, device: httpx.Client) -> None:
    packed_order(http, device, "CE-3", "TRK-3")
    packed_order(http, device, "CE-4", "TRK-4")
    text = f"tracking,event,at\nTRK-3,delivered,{at(30)}\n\nTRK-4,delayed,{at(30)}\n"
    r = http.post("/v1/carrier-events", content=text, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["applied"], r.json()["delivered"]) == (2, 1)
    upload = f"tracking,event,at,carrier_service\nTRK-4,delivered,{at(200)},dhl-express\n"
    r = http.post("/v1/carrier-events", files={"file": ("events.csv", upload, "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["carrier_stats"][-1] == {
        "service": "dhl-express",
        "country": "DE",
        "on_time": 1,
        "total": 2,  # CE-4 delivered after its deadline (NOW + 120 h)
    }
    timeline = [e["event"] for e in http.get("/v1/orders/CE-4").json()["timeline"]]
    assert "delivery_delayed" in timeline and "delivered" in timeline


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            "tracking,event,at\nTRK-5,delivered,{ok}\nTRK-5,delivered,yesterday\n",
            "csv.2.at",
            "row 2",
        ),
        ("tracking,event,at\nTRK-5,lost,{ok}\n", "csv.1.event", "must be one of"),
        (
            "tracking,event,at\nTRK-5,delivered,{ok}\nTRK-404,delivered,{ok}\n",
            "csv.2.tracking",
            "unknown tracking",
        ),
        ("tracking,event,at\nTRK-5,delivered,2026-11-25T10:00:00\n", "csv.1.at", "with a zone"),
        ("tracking,status,at\nTRK-5,delivered,{ok}\n", "csv.header", "header must be"),
        ("tracking,event,at\nTRK-5,delivered\n", "csv.1", "2 columns"),
    ],
)
def test_bad_csv_rows_apply_nothing(
    http: httpx.Client, device: httpx.Client, text: str, where: str, words: str
) -> None:
    packed_order(http, device, "CE-5", "TRK-5")
    body = text.format(ok=at(2))
    r = http.post("/v1/carrier-events", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert fault_fields(r) == [where]
    assert words in r.json()["detail"][0]["msg"]
    assert http.get("/v1/orders/CE-5").json()["status"] == "packed"
    assert http.get("/v1/reports/summary").json()["on_time"]["by_carrier"] == []


def test_bad_json_events_name_the_field(http: httpx.Client, device: httpx.Client) -> None:
    packed_order(http, device, "CE-6", "TRK-6")
    bad = {
        "events": [
            {"tracking": "TRK-6", "event": "delivered", "at": at(1)},
            {"tracking": "TRK-6", "event": "x", "at": at(1)},
        ]
    }
    r = http.post("/v1/carrier-events", json=bad)
    assert r.status_code == 422 and fault_fields(r) == ["body.events.1.event"]
    r = http.post(
        "/v1/carrier-events",
        json={"events": [{"tracking": "TRK-6", "event": "delivered", "at": at(1), "gps": 1}]},
    )
    assert r.status_code == 422 and fault_fields(r) == ["body.events.0.gps"]
    r = http.post(
        "/v1/carrier-events", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and "invalid JSON" in r.json()["detail"][0]["msg"]
    r = http.post("/v1/carrier-events", content=b"x", headers={"Content-Type": "image/png"})
    assert r.status_code == 415
    assert http.get("/v1/orders/CE-6").json()["status"] == "packed"


def test_device_token_may_not_post_events(device: httpx.Client) -> None:
    r = device.post("/v1/carrier-events", json={"events": []})
    assert r.status_code == 403


def test_poor_measured_record_stops_a_service_being_chosen(
    app: CentralApp, http: httpx.Client, device: httpx.Client, tmp_path: Path
) -> None:
    # The pack station's own path: its device store pulls the feed, then carriers and
    # measured rates come from that store, as the pack agent reads them.
    http.post("/v1/masterdata", json={"carriers": [CHEAP]}).raise_for_status()
    ship_to = ShipTo("Ada", "Main St 1", "Berlin", "10115", "DE")
    deadline = NOW + timedelta(hours=72)
    token = app.token("device", "PACK-1", "DE-FRA")
    with (
        LocalStore(tmp_path / "pack.db", "PACK-1", "DE-FRA") as store,
        SyncClient(store, app.url, token) as client,
    ):

        def chosen() -> str:
            client.run_once()
            services = [carrier_from_row(row) for row in store.carriers()]
            rates = rates_from_stats(store.carrier_stats())
            choice = choose_service(ship_to, 300, deadline, NOW, services, rates)
            assert choice is not None
            return choice.service.id

        assert chosen() == "post-economy"  # cheapest, no measurements yet: prior 90%
        for i in range(10):
            packed_order(http, device, f"LATE-{i}", f"PE-{i}", service="post-economy")
        # Deadlines are NOW + 120 h: every one of these is late.
        late = "".join(f"PE-{i},delivered,{at(130)}\n" for i in range(10))
        r = http.post(
            "/v1/carrier-events",
            content="tracking,event,at\n" + late,
            headers={"Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        assert chosen() == "dhl-express"
        stats = {(row["service"], row["country"]): row for row in store.carrier_stats()}
        assert (
            stats[("post-economy", "DE")]["on_time"],
            stats[("post-economy", "DE")]["total"],
        ) == (0, 10)
        assert stats[("post-economy", "*")]["total"] == 10
