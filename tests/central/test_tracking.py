"""The customer's tracking view: JSON and page by unguessable token, nothing private
or internal leaks, floor events become public labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.clock import ManualClock
from central.feedback.tracking import first_name, steps
from tests.central.conftest import NOW, order_body
from tests.central.feedback_support import fast_settings, feedback_app
from tests.support.fixtures_central import CentralApp

PRIVATE = ("Długa 5", "60311", "anna.kowalska@example.com", "Kowalska", "C-77")
INTERNAL = ("A01-02-1", "OP-7", "TOTE-0042", "cost", "operator", "R01-01-1")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[CentralApp]:
    with feedback_app(tmp_path / "c.db", ManualClock(NOW), fast_settings()) as handle:
        yield handle


def anna(order_id: str = "TK-1") -> dict[str, Any]:
    return order_body(
        order_id,
        customer={
            "id": "C-77",
            "name": "Anna Kowalska",
            "email": "anna.kowalska@example.com",
            "tier": "gold",
            "flags": ["vip"],
        },
        ship_to={
            "name": "Anna Kowalska",
            "line1": "Długa 5",
            "city": "Frankfurt",
            "postcode": "60311",
            "country": "DE",
        },
    )


def pick(app: CentralApp, order_id: str) -> None:
    token = app.token("device", "hh-1", "DE-FRA")
    op = {
        "op_id": "01900000-0000-7000-8000-000000000001",
        "seq": 1,
        "kind": "pick.confirmed",
        "at": NOW.isoformat(),
        "data": {
            "order_id": order_id,
            "sku": "SKU-2001",
            "location": "A01-02-1",
            "qty": 1,
            "operator": "OP-7",
            "tote": "TOTE-0042",
        },
    }
    with app.client(token) as device:
        result = device.post("/v1/sync/push", json={"device": "hh-1", "ops": [op]}).json()
    assert result["results"][0]["status"] == "applied", result


def test_json_view_shows_progress_and_leaks_nothing(app: CentralApp) -> None:
    with app.client() as http:
        doc = http.post("/v1/orders", json=anna()).json()
        http.post("/v1/orders", json=order_body("OTHER-1")).raise_for_status()
    pick(app, "TK-1")
    token = doc["tracking_token"]
    assert len(token) >= 22  # secrets.token_urlsafe(16): 128 random bits
    response = httpx.get(f"{app.url}/v1/track/{token}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    view = response.json()
    assert view["order_id"] == "TK-1" and view["status"] == "picked"
    assert view["recipient"] == "Anna K."
    assert view["destination"] == {"city": "Frankfurt", "country": "DE"}
    assert [s["state"] for s in view["steps"]] == [
        "done",
        "done",
        "current",
        "todo",
        "todo",
        "todo",
    ]
    events = [e["event"] for e in view["timeline"]]
    assert events == ["received", "allocated", "picked"]
    assert view["timeline"][-1]["label"] == "Being picked"
    text = response.text
    for secret in (*PRIVATE, *INTERNAL, "OTHER-1", "ada@example.com", "Main St"):
        assert secret not in text, secret


def test_page_renders_for_a_phone_without_private_data(app: CentralApp) -> None:
    with app.client() as http:
        doc = http.post("/v1/orders", json=anna("TK-2")).json()
    response = httpx.get(f"{app.url}/track/{doc['tracking_token']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert 'name="viewport"' in html and "Order TK-2 for Anna K." in html
    assert "Frankfurt, DE" in html and "Promised by" in html
    for secret in (*PRIVATE, *INTERNAL):
        assert secret not in html, secret


def test_unknown_token_is_404_everywhere(app: CentralApp) -> None:
    for path in ("/v1/track/nope-not-a-token", "/track/nope-not-a-token"):
        assert httpx.get(f"{app.url}{path}").status_code == 404
    page = httpx.get(f"{app.url}/track/nope-not-a-token")
    assert "We cannot find this order" in page.text and page.headers["cache-control"] == "no-store"
    response = httpx.post(f"{app.url}/v1/track/nope/inquiries", json={"message": "hi"})
    assert response.status_code == 404


def test_delay_notice_and_resolution_for_a_short_order(app: CentralApp) -> None:
    body = anna("TK-3")
    body["lines"] = [{"sku": "SKU-3001", "qty": 5}, {"sku": "SKU-2001", "qty": 1}]
    with app.client() as http:
        doc = http.post("/v1/orders", json=body).json()
    assert "stock_shortage" in doc["exceptions"]
    view = httpx.get(f"{app.url}/v1/track/{doc['tracking_token']}").json()
    assert view["delayed"] and "short in stock" in view["delay_notice"]
    kinds = {r["kind"] for r in view["resolutions"]}
    assert {"transfer", "split_shipment"} <= kinds
    assert all("+" not in r["text"] for r in view["resolutions"])  # no internal costs
    assert view["eta"] is not None


def test_a_shortage_settled_by_stock_arriving_no_longer_delays_the_order(
    app: CentralApp,
) -> None:
    body = anna("TK-4")  # SKU-2001 is stocked in DE-FRA only: the order stays there
    body["lines"] = [{"sku": "SKU-3001", "qty": 5}, {"sku": "SKU-2001", "qty": 1}]
    with app.client() as http:
        doc = http.post("/v1/orders", json=body).json()
        assert "stock_shortage" in doc["exceptions"]
        (alert,) = [
            a for a in http.get("/v1/alerts").json()["exceptions"] if a["order_id"] == "TK-4"
        ]
        assert (alert["exceptions"], alert["settled"]) == (["stock_shortage"], [])
        track = f"{app.url}/v1/track/{doc['tracking_token']}"
        assert httpx.get(track).json()["delayed"]
        # A delivery into DE-FRA's pick bin covers the line: the order is allocated.
        stock = {"warehouse": "DE-FRA", "location": "A02-01-1", "sku": "SKU-3001", "qty": 10}
        http.post("/v1/masterdata", json={"stock": [stock]}).raise_for_status()
        doc = http.get("/v1/orders/TK-4").json()
        assert doc["status"] == "allocated" and "stock_shortage" in doc["exceptions"]
        alerts = http.get("/v1/alerts").json()["exceptions"]
        assert [a for a in alerts if a["order_id"] == "TK-4"] == []  # nothing left to act on
    view = httpx.get(track).json()
    assert not view["delayed"] and view["delay_notice"] is None


def test_standing_exceptions_by_status_and_lines() -> None:
    from central.service.docs import standing_exceptions

    kinds = ["oversold", "short_pick", "stock_shortage", "wrong_item"]

    def doc(status: str, short: int, held_from: str | None = None) -> dict[str, Any]:
        lines = [{"sku": "S", "qty": 2, "short": short}]
        return {"status": status, "held_from": held_from, "lines": lines, "exceptions": kinds}

    assert standing_exceptions(doc("picking", 1)) == kinds
    assert standing_exceptions(doc("picking", 0)) == ["oversold", "short_pick", "wrong_item"]
    assert standing_exceptions(doc("packed", 1)) == ["oversold"]
    assert standing_exceptions(doc("on_hold", 0, held_from="packed")) == ["oversold"]
    assert standing_exceptions(doc("on_hold", 1, held_from="picked")) == kinds
    assert standing_exceptions(doc("cancelled", 0)) == ["oversold", "short_pick", "wrong_item"]


def test_first_name_and_steps() -> None:
    assert first_name("Anna Maria Kowalska") == "Anna K."
    assert first_name("Cher") == "Cher" and first_name("  ") == ""
    assert [s["state"] for s in steps("delivered")][-1] == "done"
    assert {s["state"] for s in steps("cancelled")} == {"todo"}
    assert [s["state"] for s in steps("on_hold", "packed")][3] == "current"
