"""Order intake, priority, allocation, transfers, alerts, cancel and disruptions over
real HTTP (uvicorn on a loopback port, SQLite file)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.central.conftest import NOW, fault_fields, order_body
from tests.support.fixtures_central import CentralApp


def test_intake_returns_priority_allocation_and_token(http: httpx.Client) -> None:
    r = http.post("/v1/orders", json=order_body("O-1", [("SKU-1001", 2)], urgent=True))
    assert r.status_code == 201
    doc = r.json()
    assert doc["status"] == "allocated"
    assert doc["priority"]["level"] == "P1"
    assert doc["priority"]["reasons"], "every decision carries reasons"
    assert doc["allocations"] == [
        {
            "sku": "SKU-1001",
            "location": "A01-01-1",
            "qty": 2,
            "lot": "L2311",
            "expiry": "2027-03-31",
        }
    ]
    assert len(doc["tracking_token"]) >= 16
    events = [e["event"] for e in doc["timeline"]]
    assert events[:3] == ["received", "priority", "allocated"]
    assert "task" in events  # an urgent order gets its hot pick task at once


def test_intake_is_idempotent_by_id(http: httpx.Client) -> None:
    body = order_body("O-2")
    first = http.post("/v1/orders", json=body)
    again = http.post("/v1/orders", json=dict(reversed(list(body.items()))))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["tracking_token"] == first.json()["tracking_token"]
    changed = http.post("/v1/orders", json={**body, "lines": [{"sku": "SKU-2001", "qty": 2}]})
    assert changed.status_code == 409
    assert "different body" in changed.json()["detail"]
    stock = http.get("/v1/stock", params={"sku": "SKU-2001", "warehouse": "DE-FRA"}).json()
    assert sum(s["reserved"] for s in stock) == 1  # reserved once, not three times


def test_bad_bodies_name_the_field(http: httpx.Client) -> None:
    body = order_body()
    del body["ship_to"]["postcode"]
    assert "body.ship_to.postcode" in fault_fields(http.post("/v1/orders", json=body))
    r = http.post("/v1/orders", json=order_body(lines=[("SKU-2001", 0)]))
    assert r.status_code == 422 and "body.lines.0.qty" in fault_fields(r)
    r = http.post("/v1/orders", json=order_body(deadline="2026-11-26T10:00:00"))
    assert r.status_code == 422 and "body.deadline" in fault_fields(r)
    r = http.post("/v1/orders", json=order_body(lines=[("SKU-2001", 1), ("NOPE", 1)]))
    assert r.status_code == 422 and fault_fields(r) == ["body.lines.1.sku"]
    r = http.post("/v1/orders", json=order_body(warehouse="XX-NONE"))
    assert r.status_code == 422 and fault_fields(r) == ["body.warehouse"]
    assert http.get("/v1/orders").json() == []  # nothing was stored


def test_unknown_ids_and_tokens(app: CentralApp, http: httpx.Client) -> None:
    assert http.get("/v1/orders/NOPE").status_code == 404
    assert http.post("/v1/orders/NOPE/cancel").status_code == 404
    assert httpx.get(f"{app.url}/v1/track/not-a-token").status_code == 404
    anonymous = httpx.post(f"{app.url}/v1/orders", json=order_body())
    assert anonymous.status_code == 401 and "Bearer" in anonymous.json()["detail"]
    wrong = httpx.get(f"{app.url}/v1/orders", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "unknown" in wrong.json()["detail"]
    with app.client(app.token("device", "HH-1", "DE-FRA")) as device:
        r = device.post("/v1/orders", json=order_body())
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        assert device.get("/v1/alerts").status_code == 403
        assert device.post("/v1/masterdata", json={}).status_code == 403
    assert httpx.get(f"{app.url}/healthz").json()["ok"] is True


def test_orders_in_a_pick_task_keep_their_units_from_an_urgent_order(
    http: httpx.Client,
) -> None:
    # Eight standard orders make a full batch: a pick task goes to the floor at once.
    batch = [f"B-{i}" for i in range(8)]
    for order_id in batch:
        http.post("/v1/orders", json=order_body(order_id, [("SKU-2001", 1)])).raise_for_status()
    docs = [http.get(f"/v1/orders/{o}").json() for o in batch]
    assert all("task" in [e["event"] for e in d["timeline"]] for d in docs)
    # The urgent order gets the 2 units nobody holds and is short of the rest: a picker
    # may be on the way to the batch's 8.
    urgent = http.post("/v1/orders", json=order_body("URG-2", [("SKU-2001", 10)], urgent=True))
    doc = urgent.json()
    assert sum(a["qty"] for a in doc["allocations"]) == 2
    assert "stock_shortage" in doc["exceptions"]
    for order_id in batch:
        after = http.get(f"/v1/orders/{order_id}").json()
        assert [(a["location"], a["qty"]) for a in after["allocations"]] == [("A01-02-1", 1)]
        assert "preempted" not in [e["event"] for e in after["timeline"]]


def test_list_is_most_urgent_first_and_filters(http: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("L-std")).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("L-urg", [("SKU-1001", 1)], urgent=True)
    ).raise_for_status()
    listed = http.get("/v1/orders").json()
    assert [o["id"] for o in listed] == ["L-urg", "L-std"]
    assert [o["id"] for o in http.get("/v1/orders", params={"priority": "P4"}).json()] == ["L-std"]
    assert http.get("/v1/orders", params={"status": "shipped"}).json() == []
    assert http.get("/v1/orders", params={"limit": 1}).json()[0]["id"] == "L-urg"
    assert "query.priority" in fault_fields(http.get("/v1/orders", params={"priority": "P9"}))


def test_urgent_order_preempts_a_standard_one(http: httpx.Client) -> None:
    # The only pick bin of SKU-2001 holds 10; a standard order takes all of them.
    standard = http.post("/v1/orders", json=order_body("STD", [("SKU-2001", 10)])).json()
    assert standard["priority"]["level"] == "P4" and standard["status"] == "allocated"
    urgent = http.post("/v1/orders", json=order_body("URG", [("SKU-2001", 4)], urgent=True)).json()
    assert urgent["status"] == "allocated"
    assert sum(a["qty"] for a in urgent["allocations"]) == 4
    after = http.get("/v1/orders/STD").json()
    assert sum(a["qty"] for a in after["allocations"]) == 6
    assert "stock_shortage" in after["exceptions"]
    assert "preempted" in [e["event"] for e in after["timeline"]]


def test_shortage_proposes_a_transfer_and_low_stock_alerts(
    app: CentralApp, http: httpx.Client
) -> None:
    # DE-FRA holds 3 of SKU-3001, PL-WAW 40 but no SKU-2001: the rest comes from Warsaw.
    doc = http.post(
        "/v1/orders", json=order_body("SHORT", [("SKU-3001", 10), ("SKU-2001", 1)])
    ).json()
    assert doc["warehouse"] == "DE-FRA"
    assert "stock_shortage" in doc["exceptions"]
    transfers = http.get("/v1/transfers").json()
    assert [(t["order_id"], t["from_warehouse"], t["to_warehouse"]) for t in transfers] == [
        ("SHORT", "PL-WAW", "DE-FRA")
    ]
    assert transfers[0]["lines"] == [{"sku": "SKU-3001", "qty": 7}]
    # A device sees the transfers from or to its site only.
    with app.client(app.token("device", "HH-1", "DE-FRA")) as device:
        assert device.get("/v1/transfers").json() == transfers
    with app.client(app.token("device", "HH-9", "GB-LHR")) as elsewhere:
        assert elsewhere.get("/v1/transfers").json() == []
    alerts = http.get("/v1/alerts").json()
    low = [a for a in alerts["low_stock"] if a["sku"] == "SKU-3001" and a["warehouse"] == "DE-FRA"]
    assert low and low[0]["available"] < low[0]["reorder_point"]
    assert any(a["order_id"] == "SHORT" for a in alerts["exceptions"])


def test_fulfilment_moves_when_another_warehouse_holds_everything(
    app: CentralApp, http: httpx.Client
) -> None:
    doc = http.post("/v1/orders", json=order_body("MOVE", [("SKU-3001", 10)])).json()
    assert doc["warehouse"] == "PL-WAW" and doc["status"] == "allocated"
    assert doc["allocations"][0]["location"] == "W01-01-1"
    assert "fulfilment_moved" in [e["event"] for e in doc["timeline"]]
    assert http.get("/v1/transfers").json()[0]["move_fulfilment"] is True
    de = http.get("/v1/stock", params={"sku": "SKU-3001", "warehouse": "DE-FRA"}).json()
    assert sum(r["reserved"] for r in de) == 0  # nothing left held in Frankfurt
    with app.client(app.token("device", "HH-1", "DE-FRA")) as device:
        # The site the order left still reads it (as its feed shows it leave).
        assert device.get("/v1/orders/MOVE").json()["warehouse"] == "PL-WAW"
        changes = device.get("/v1/sync/pull", params={"limit": 1000}).json()["changes"]
    moved = next(c["data"] for c in changes if c["entity"] == "order" and c["id"] == "MOVE")
    assert moved["warehouse"] == "PL-WAW"  # the site it left sees it leave


def test_cancel_releases_stock(http: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("C-1", [("SKU-2001", 3)])).raise_for_status()
    doc = http.post("/v1/orders/C-1/cancel").json()
    assert doc["status"] == "cancelled" and doc["allocations"] == []
    stock = http.get("/v1/stock", params={"sku": "SKU-2001", "warehouse": "DE-FRA"}).json()
    assert sum(s["reserved"] for s in stock) == 0
    assert http.post("/v1/orders/C-1/cancel").json()["status"] == "cancelled"  # idempotent


def test_disruption_reprioritises_affected_orders(http: httpx.Client) -> None:
    for i in range(3):
        http.post(
            "/v1/orders", json=order_body(f"AT-{i}", country="DE", postcode="80331")
        ).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("FAR", country="PL", postcode="00-001")
    ).raise_for_status()
    storm = {
        "id": "storm-1",
        "kind": "weather",
        "region": {"country": "DE", "postcode_prefix": "8"},
        "starts_at": (NOW - timedelta(hours=1)).isoformat(),
        "ends_at": (NOW + timedelta(days=2)).isoformat(),
        "escalate_by": 1,
    }
    r = http.post("/v1/disruptions", json=storm)
    assert r.status_code == 200
    assert r.json()["changed"] == 3 and sorted(r.json()["orders"]) == ["AT-0", "AT-1", "AT-2"]
    assert http.get("/v1/orders/AT-0").json()["priority"]["level"] == "P3"
    assert http.get("/v1/orders/FAR").json()["priority"]["level"] == "P4"
    assert http.post("/v1/disruptions", json=storm).json()["changed"] == 0  # same storm again
    bad = http.post("/v1/disruptions", json={**storm, "ends_at": storm["starts_at"]})
    assert bad.status_code == 422 and "body.ends_at" in fault_fields(bad)


def test_tracking_shows_status_without_address(app: CentralApp, http: httpx.Client) -> None:
    doc = http.post("/v1/orders", json=order_body("TR-1")).json()
    view = httpx.get(f"{app.url}/v1/track/{doc['tracking_token']}").json()
    assert view["status"] == "allocated"
    assert [e["event"] for e in view["timeline"]] == ["received", "allocated"]
    assert "Main St" not in str(view) and "ada@" not in str(view)


def test_stock_endpoint_per_location(http: httpx.Client) -> None:
    rows = http.get("/v1/stock", params={"sku": "SKU-2001"}).json()
    by_bin = {(r["warehouse"], r["location"]): r for r in rows}
    assert by_bin[("DE-FRA", "A01-02-1")]["on_hand"] == 10
    assert by_bin[("DE-FRA", "R01-01-1")]["available"] == 50


def test_masterdata_reimport_does_not_double_stock(http: httpx.Client) -> None:
    from tests.support.central import TEST_MASTERDATA

    r = http.post("/v1/masterdata", json=TEST_MASTERDATA)
    assert r.json()["imported"]["stock"] == 0
    rows = http.get("/v1/stock", params={"sku": "SKU-1001", "warehouse": "DE-FRA"}).json()
    assert rows[0]["on_hand"] == 24
    bad = http.post(
        "/v1/masterdata",
        json={"stock": [{"warehouse": "DE-FRA", "location": "A01-01-1", "sku": "X", "qty": 1}]},
    )
    assert bad.status_code == 422 and fault_fields(bad) == ["body.stock.0.sku"]
    bad = http.post("/v1/masterdata", json={"skus": [{"sku": "S", "reorder_point": -1}]})
    assert bad.status_code == 422 and "body.skus.0.reorder_point" in fault_fields(bad)


def test_standard_orders_are_batched_urgent_ones_get_hot_tasks(http: httpx.Client) -> None:
    for i in range(8):
        http.post("/v1/orders", json=order_body(f"BT-{i}", [("SKU-2001", 1)])).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("HOT-1", [("SKU-1001", 1)], urgent=True)
    ).raise_for_status()
    changes = http.get("/v1/sync/pull", params={"limit": 1000}).json()["changes"]
    tasks = {c["id"]: c["data"] for c in changes if c["entity"] == "task"}
    hot = tasks["HOT-HOT-1"]
    assert (hot["kind"], hot["order_ids"], hot["status"]) == ("hot", ["HOT-1"], "open")
    assert hot["lines"] == [
        {"order_id": "HOT-1", "sku": "SKU-1001", "location": "A01-01-1", "qty": 1}
    ]
    batches = [t for t in tasks.values() if t["kind"] == "batch"]
    assert len(batches) == 1 and sorted(batches[0]["order_ids"]) == [f"BT-{i}" for i in range(8)]
    assert batches[0]["warehouse"] == "DE-FRA" and len(batches[0]["lines"]) == 8
    cancelled = http.post("/v1/orders/HOT-1/cancel").json()
    assert cancelled["status"] == "cancelled"
    changes = http.get("/v1/sync/pull", params={"limit": 1000}).json()["changes"]
    assert next(c["data"] for c in changes if c["id"] == "HOT-HOT-1")["status"] == "cancelled"


def test_a_device_reads_only_its_own_site(app: CentralApp, http: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("FRA-1", [("SKU-2001", 1)])).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("WAW-1", [("SKU-3001", 1)], warehouse="PL-WAW")
    ).raise_for_status()
    assert {o["id"] for o in http.get("/v1/orders").json()} >= {"FRA-1", "WAW-1"}
    with app.client(app.token("device", "HH-1", "DE-FRA")) as device:
        assert device.get("/v1/orders/FRA-1").status_code == 200
        other = device.get("/v1/orders/WAW-1")
        assert other.status_code == 403 and "'DE-FRA'" in other.json()["detail"]
        assert "PL-WAW" not in other.text  # says nothing of where the order is
        assert device.get("/v1/orders/NOPE").status_code == 404
        assert [o["id"] for o in device.get("/v1/orders").json()] == ["FRA-1"]
        stock = device.get("/v1/stock").json()
        assert stock and {r["warehouse"] for r in stock} == {"DE-FRA"}
        assert device.get("/v1/stock", params={"warehouse": "DE-FRA"}).json() == stock
        assert device.get("/v1/stock", params={"warehouse": "PL-WAW"}).status_code == 403
    everywhere = {r["warehouse"] for r in http.get("/v1/stock").json()}
    assert {"DE-FRA", "PL-WAW"} <= everywhere


def test_devices_read_orders_without_the_customers_email(
    app: CentralApp, http: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("PII-1")).raise_for_status()
    assert http.get("/v1/orders/PII-1").json()["customer"]["email"] == "ada@example.com"
    assert "ada@example.com" in http.get("/v1/orders").text
    with app.client(app.token("device", "HH-1", "DE-FRA")) as device:
        one = device.get("/v1/orders/PII-1")
        listed = device.get("/v1/orders")
    assert one.status_code == listed.status_code == 200
    assert one.json()["customer"] == {"id": "C-1", "name": "Ada", "tier": "standard", "flags": []}
    assert one.json()["lines"][0]["sku"] == "SKU-2001" and one.json()["timeline"]
    assert [o["id"] for o in listed.json()] == ["PII-1"]
    assert "ada@example.com" not in one.text + listed.text
