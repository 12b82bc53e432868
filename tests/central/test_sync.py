"""Sync push and pull over real HTTP (SYNC_CONTRACT.md)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.central.conftest import NOW, fault_fields, order_body
from tests.support.fixtures_central import CentralApp

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


@pytest.fixture
def device(app: CentralApp) -> Iterator[httpx.Client]:
    """Handheld HH-1 at DE-FRA."""
    with app.client(app.token("device", "HH-1", "DE-FRA")) as client:
        yield client


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


def test_pick_flow_and_idempotent_push(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("P-1", [("SKU-2001", 3)])).raise_for_status()
    pick = op(
        "pick.confirmed",
        1,
        order_id="P-1",
        sku="SKU-2001",
        location="A01-02-1",
        qty=3,
        operator="OP-7",
        tote="TOTE-1",
    )
    first = push(device, pick)
    assert first == {"acked_seq": 1, "results": [{"op_id": pick["op_id"], "status": "applied"}]}
    again = push(device, pick)
    assert again["results"][0]["status"] == "duplicate" and again["acked_seq"] == 1
    row = stock_of(http, "SKU-2001", "A01-02-1")
    assert (row["on_hand"], row["reserved"]) == (7, 0)  # picked once, reservation consumed
    doc = http.get("/v1/orders/P-1").json()
    assert doc["status"] == "picked" and doc["tote"] == "TOTE-1"
    assert doc["lines"][0]["picked"] == 3


def test_rejected_ops_have_reasons_and_show_as_alerts(
    http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("R-1", [("SKU-2001", 1)])).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("R-PL", [("SKU-3001", 1)], warehouse="PL-WAW")
    ).raise_for_status()
    ops = [
        op("teleport", 1),
        op(
            "pick.confirmed",
            2,
            order_id="R-1",
            sku="SKU-2001",
            location="A01-02-1",
            operator="OP-7",
        ),
        op("pick.confirmed", 3, order_id="NOPE", sku="SKU-2001", location="A01-02-1", qty=1),
        op("pick.confirmed", 4, order_id="R-1", sku="SKU-2001", location="Z99", qty=1),
        op("pick.confirmed", 5, order_id="R-PL", sku="SKU-3001", location="W01-01-1", qty=1),
        adjusted(6, "x", "r"),
        op("exception.raised", 7, order_id="R-1", kind="bored", detail=""),
    ]
    result = push(device, *ops)
    reasons = [r.get("reason", "") for r in result["results"]]
    assert [r["status"] for r in result["results"]] == ["rejected"] * 7
    assert "unknown kind 'teleport'" in reasons[0]
    assert "missing field 'qty'" in reasons[1]
    assert "unknown order 'NOPE'" in reasons[2]
    assert "unknown location DE-FRA/Z99" in reasons[3]
    assert "outside the device's site" in reasons[4]
    assert "'delta'" in reasons[5]
    assert "'kind'" in reasons[6]
    assert result["acked_seq"] == 7  # rejected ops are acknowledged, never retried
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 10  # nothing changed
    alerted = {a["op_id"] for a in http.get("/v1/alerts").json()["rejected_ops"]}
    assert {o["op_id"] for o in ops} <= alerted


def test_oversold_pick_is_accepted(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("OS-1", [("SKU-3001", 3)])).raise_for_status()
    result = push(
        device,
        op(
            "pick.confirmed",
            1,
            order_id="OS-1",
            sku="SKU-3001",
            location="A02-01-1",
            qty=5,
            operator="OP-1",
        ),
    )
    assert result["results"][0]["status"] == "applied"
    assert stock_of(http, "SKU-3001", "A02-01-1")["on_hand"] == -2
    assert "oversold" in http.get("/v1/orders/OS-1").json()["exceptions"]
    oversold = http.get("/v1/alerts").json()["oversold"]
    assert [(a["location"], a["on_hand"]) for a in oversold] == [("A02-01-1", -2)]


def test_count_is_booked_against_the_position_the_device_saw(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    seen = stock_of(http, "SKU-2001", "A01-02-1")
    assert seen["on_hand"] == 10
    # Someone else removes 2 after the counting device looked.
    with app.client(app.token("device", "HH-2", "DE-FRA")) as other:
        push(other, adjusted(1, -2, "damaged"), device="HH-2")
    push(
        device,
        op(
            "stock.counted",
            1,
            warehouse="DE-FRA",
            location="A01-02-1",
            sku="SKU-2001",
            counted=7,
            seen_cursor=seen["ledger_seq"],
        ),
    )
    # The count found 3 fewer than the 10 it saw; the later -2 is kept: 10 - 2 - 3.
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 5


def test_stock_moved_and_short_pick_reallocates(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("SP-1", [("SKU-1001", 2)])).raise_for_status()
    push(
        device,
        op(
            "stock.moved",
            1,
            warehouse="DE-FRA",
            sku="SKU-1001",
            from_location="A01-01-1",
            to_location="A02-05-1",
            qty=4,
        ),
    )
    assert stock_of(http, "SKU-1001", "A02-05-1")["on_hand"] == 4
    assert stock_of(http, "SKU-1001", "A01-01-1")["on_hand"] == 20
    result = push(
        device,
        op(
            "pick.short",
            2,
            order_id="SP-1",
            sku="SKU-1001",
            location="A01-01-1",
            qty_short=2,
            reason="empty",
            operator="OP-1",
        ),
    )
    assert result["results"][0]["status"] == "applied"
    doc = http.get("/v1/orders/SP-1").json()
    assert "short_pick" in doc["exceptions"]
    assert [(a["location"], a["qty"]) for a in doc["allocations"]] == [("A02-05-1", 2)]


def _held(http: httpx.Client, order_id: str) -> list[tuple[str, int]]:
    doc = http.get(f"/v1/orders/{order_id}").json()
    return sorted((a["location"], a["qty"]) for a in doc["allocations"])


def _events(http: httpx.Client, order_id: str) -> list[str]:
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


def test_a_bin_counted_short_sends_waiting_orders_elsewhere(
    http: httpx.Client, device: httpx.Client
) -> None:
    for order_id, qty in (("S-1", 8), ("S-2", 6)):
        http.post("/v1/orders", json=order_body(order_id, [("SKU-1001", qty)])).raise_for_status()
    assert _held(http, "S-1") == [("A01-01-1", 8)] and _held(http, "S-2") == [("A01-01-1", 6)]
    # 10 of the 24 go to another pick bin: 14 left for the 14 reserved, nothing moves.
    move = {"warehouse": "DE-FRA", "sku": "SKU-1001", "from_location": "A01-01-1"}
    push(device, op("stock.moved", 1, **move, to_location="A02-05-1", qty=10))
    assert _held(http, "S-2") == [("A01-01-1", 6)]
    # A count finds 9: S-2 (the later of two equally urgent orders) gives up its 6 there
    # and takes the 1 still free there and 5 from the other bin; S-1 keeps its 8.
    result = push(device, counted(2, "A01-01-1", "SKU-1001", 9, http))
    assert result["results"][0]["status"] == "applied"
    assert _held(http, "S-1") == [("A01-01-1", 8)]
    assert _held(http, "S-2") == [("A01-01-1", 1), ("A02-05-1", 5)]
    assert "reallocated" in _events(http, "S-2") and "reallocated" not in _events(http, "S-1")
    bin_now = stock_of(http, "SKU-1001", "A01-01-1")
    assert (bin_now["on_hand"], bin_now["reserved"], bin_now["available"]) == (9, 9, 0)
    assert http.get("/v1/alerts").json()["short_bins"] == []


def test_an_order_in_a_pick_task_keeps_its_bin_and_the_shortfall_is_alerted(
    http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("U-1", [("SKU-1001", 2)], urgent=True))
    http.post("/v1/orders", json=order_body("S-3", [("SKU-1001", 5)])).raise_for_status()
    assert _held(http, "U-1") == [("A01-01-1", 2)] and _held(http, "S-3") == [("A01-01-1", 5)]
    # U-1 is urgent: it has a hot pick task, a picker may be on the way to the bin.
    push(device, counted(1, "A01-01-1", "SKU-1001", 1, http))
    assert _held(http, "U-1") == [("A01-01-1", 2)]
    assert "reallocated" not in _events(http, "U-1")
    # S-3 had no task yet: it no longer counts on the bin (none free elsewhere in
    # DE-FRA's pick bins, so it is short there and a transfer is proposed).
    assert ("A01-01-1", 5) not in _held(http, "S-3")
    assert "reallocated" in _events(http, "S-3")
    (short,) = http.get("/v1/alerts").json()["short_bins"]
    assert (short["location"], short["on_hand"], short["reserved"], short["orders"]) == (
        "A01-01-1",
        1,
        2,
        ["U-1"],
    )
    assert short["message"] == "DE-FRA/A01-01-1 SKU-1001: 1 on hand, 2 reserved for U-1"


def test_stock_arriving_in_a_pick_bin_allocates_the_orders_waiting_for_it(
    http: httpx.Client, device: httpx.Client
) -> None:
    # DE-FRA's pick bins hold 10 of SKU-2001 (its 50 in reserve bin R01-01-1 are not
    # picked from): the urgent order takes them, the standard one waits, short.
    http.post("/v1/orders", json=order_body("U-2", [("SKU-2001", 10)], urgent=True))
    http.post("/v1/orders", json=order_body("W-2", [("SKU-2001", 12)])).raise_for_status()
    waiting = http.get("/v1/orders/W-2").json()
    assert (waiting["status"], waiting["allocations"]) == ("received", [])
    # 5 moved from the reserve bin into a pick bin: W-2 takes them, 7 still short.
    move = {"warehouse": "DE-FRA", "sku": "SKU-2001", "from_location": "R01-01-1", "qty": 5}
    push(device, op("stock.moved", 1, **move, to_location="A02-05-1"))
    assert _held(http, "W-2") == [("A02-05-1", 5)]
    assert http.get("/v1/orders/W-2").json()["status"] == "received"
    # A receipt of 8 into the other pick bin covers the rest: allocated, ready to batch.
    push(device, adjusted(2, 8, reason="received"))
    doc = http.get("/v1/orders/W-2").json()
    assert doc["status"] == "allocated"
    assert _held(http, "W-2") == [("A01-02-1", 7), ("A02-05-1", 5)]
    assert _events(http, "W-2").count("allocated") == 1
    assert _held(http, "U-2") == [("A01-02-1", 10)]  # the urgent order kept its units


def test_stock_imported_into_a_pick_bin_goes_to_the_orders_waiting_for_it(
    http: httpx.Client,
) -> None:
    http.post("/v1/orders", json=order_body("U-6", [("SKU-2001", 10)], urgent=True))
    http.post("/v1/orders", json=order_body("W-6", [("SKU-2001", 12)])).raise_for_status()
    assert http.get("/v1/orders/W-6").json()["status"] == "received"
    # A new pick bin and its stock in one document: the bin is known to the allocation.
    bin_ = {
        "warehouse": "DE-FRA",
        "code": "A03-01-1",
        "zone": "A",
        "aisle": 3,
        "bay": 1,
        "level": 1,
        "kind": "pick",
    }
    stock = {"warehouse": "DE-FRA", "location": "A03-01-1", "sku": "SKU-2001", "qty": 20}
    http.post("/v1/masterdata", json={"locations": [bin_], "stock": [stock]}).raise_for_status()
    assert _held(http, "W-6") == [("A03-01-1", 12)]
    assert http.get("/v1/orders/W-6").json()["status"] == "allocated"
    # The same document again adds nothing and changes nothing.
    http.post("/v1/masterdata", json={"locations": [bin_], "stock": [stock]}).raise_for_status()
    assert stock_of(http, "SKU-2001", "A03-01-1")["on_hand"] == 20


def test_a_cancelled_order_frees_stock_for_an_urgent_one_which_gets_its_task(
    http: httpx.Client,
) -> None:
    # Two equally urgent orders: the second cannot take the first one's units.
    http.post("/v1/orders", json=order_body("U-3", [("SKU-2001", 10)], urgent=True))
    http.post("/v1/orders", json=order_body("U-4", [("SKU-2001", 4)], urgent=True))
    assert http.get("/v1/orders/U-4").json()["status"] == "received"
    assert "task" not in _events(http, "U-4")
    http.post("/v1/orders/U-3/cancel").raise_for_status()
    assert _held(http, "U-4") == [("A01-02-1", 4)]
    assert http.get("/v1/orders/U-4").json()["status"] == "allocated"
    assert "task" in _events(http, "U-4")  # its hot pick task, at once


def _tasks_of(client: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    """The order's pick tasks as a device sees them in the feed."""
    changes, _ = pull_all(client)
    return [
        c["data"] for c in changes if c["entity"] == "task" and order_id in c["data"]["order_ids"]
    ]


def _pick(seq: int, order_id: str, location: str, qty: int, **extra: Any) -> dict[str, Any]:
    return op(
        "pick.confirmed",
        seq,
        order_id=order_id,
        sku="SKU-1001",
        location=location,
        qty=qty,
        **extra,
    )


def test_units_moved_after_the_tote_left_the_picker_get_a_top_up_task(
    http: httpx.Client, device: httpx.Client
) -> None:
    move = {"warehouse": "DE-FRA", "sku": "SKU-1001", "from_location": "A01-01-1"}
    push(device, op("stock.moved", 1, **move, to_location="A02-05-1", qty=4))
    http.post("/v1/orders", json=order_body("TU-1", [("SKU-1001", 6)])).raise_for_status()
    # The picker binds tote T-1, picks 2 and finds the bin short of the other 4: central
    # moves them to A02-05-1. The picker may still take them (a follow-up line on the
    # handheld), so no task is made yet.
    short = {"order_id": "TU-1", "sku": "SKU-1001", "location": "A01-01-1", "qty_short": 4}
    push(
        device,
        op("tote.assigned", 2, tote="T-1", order_id="TU-1"),
        _pick(3, "TU-1", "A01-01-1", 2, tote="T-1"),
        op("pick.short", 4, **short, reason="empty"),
    )
    assert _held(http, "TU-1") == [("A02-05-1", 4)]
    assert [t["kind"] for t in _tasks_of(device, "TU-1")] == []
    # The tote goes down the conveyor without them: a top-up task sends someone there.
    push(device, op("tote.diverted", 5, tote="T-1", lane=2, conveyor="CV-1"))
    (task,) = _tasks_of(device, "TU-1")
    assert (task["id"], task["kind"], task["status"], task["after_tote"]) == (
        "TOP-TU-1-1",
        "topup",
        "open",
        "T-1",
    )
    assert task["level"] == http.get("/v1/orders/TU-1").json()["priority"]["level"]
    assert [(li["location"], li["qty"]) for li in task["lines"]] == [("A02-05-1", 4)]
    assert "task" in _events(http, "TU-1")
    # The tote seen again (recirculated) and its first scan at packing make no second task.
    push(
        device,
        op("tote.diverted", 6, tote="T-1", lane=2, conveyor="CV-1"),
        op("pack.verified", 7, order_id="TU-1", sku="SKU-1001", qty=1),
    )
    assert [t["id"] for t in _tasks_of(device, "TU-1")] == ["TOP-TU-1-1"]
    # The top-up is picked into tote T-2 and leaves: nothing is left to top up.
    push(
        device,
        op("tote.assigned", 8, tote="T-2", order_id="TU-1", task_id="TOP-TU-1-1"),
        _pick(9, "TU-1", "A02-05-1", 4, tote="T-2", task_id="TOP-TU-1-1"),
        op("tote.diverted", 10, tote="T-2", lane=2, conveyor="CV-1"),
    )
    assert [t["id"] for t in _tasks_of(device, "TU-1")] == ["TOP-TU-1-1"]
    doc = http.get("/v1/orders/TU-1").json()
    assert (doc["status"], doc["lines"][0]["picked"]) == ("picked", 6)
    assert sum(a["qty"] for a in doc["allocations"]) == 0
    assert doc["handed_over"] == "T-2"


def test_stock_for_a_short_picked_order_comes_as_a_top_up_after_its_tote_left(
    http: httpx.Client, device: httpx.Client
) -> None:
    # DE-FRA's pick bins hold 10 of SKU-2001 (50 more in reserve bin R01-01-1).
    http.post("/v1/orders", json=order_body("TU-2", [("SKU-2001", 10)])).raise_for_status()
    pick = {"order_id": "TU-2", "sku": "SKU-2001", "location": "A01-02-1"}
    push(
        device,
        op("tote.assigned", 1, tote="T-3", order_id="TU-2"),
        op("pick.confirmed", 2, **pick, qty=6, tote="T-3"),
        op("pick.short", 3, **pick, qty_short=4, reason="empty"),
        counted(4, "A01-02-1", "SKU-2001", 0, http),
        op("tote.diverted", 5, tote="T-3", lane=1),
    )
    doc = http.get("/v1/orders/TU-2").json()
    assert (doc["lines"][0]["short"], doc["allocations"]) == (4, [])
    assert _tasks_of(device, "TU-2") == []  # nothing to send anyone for
    # A replenisher moves 5 from the reserve bin into a pick bin: the 4 missing units
    # are allocated to TU-2 and a top-up task brings them to packing.
    move = {"warehouse": "DE-FRA", "sku": "SKU-2001", "from_location": "R01-01-1", "qty": 5}
    push(device, op("stock.moved", 6, **move, to_location="A02-05-1"))
    assert _held(http, "TU-2") == [("A02-05-1", 4)]
    (task,) = _tasks_of(device, "TU-2")
    assert (task["kind"], task["after_tote"]) == ("topup", "T-3")
    assert [(li["location"], li["qty"]) for li in task["lines"]] == [("A02-05-1", 4)]
    # Its units are locked for the task: an urgent order now takes the one free unit only.
    http.post("/v1/orders", json=order_body("U-9", [("SKU-2001", 3)], urgent=True))
    assert _held(http, "TU-2") == [("A02-05-1", 4)]
    assert _held(http, "U-9") == [("A02-05-1", 1)]


def test_a_bin_reported_short_is_listed_for_a_count_until_one_is_recorded(
    http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("CB-1", [("SKU-2001", 3)])).raise_for_status()
    pick = {"order_id": "CB-1", "sku": "SKU-2001", "location": "A01-02-1"}
    assert http.get("/v1/alerts").json()["count_bins"] == []
    push(
        device,
        op("pick.confirmed", 1, **pick, qty=1),
        op("pick.short", 2, **pick, qty_short=2, reason="bin_empty"),
    )
    (alert,) = http.get("/v1/alerts").json()["count_bins"]
    assert (alert["warehouse"], alert["location"], alert["sku"]) == (
        "DE-FRA",
        "A01-02-1",
        "SKU-2001",
    )
    assert (alert["on_hand"], alert["reason"], alert["order_id"]) == (9, "bin_empty", "CB-1")
    assert alert["message"] == (
        f"DE-FRA/A01-02-1 SKU-2001: short-picked (bin_empty) at {AT}, 9 on hand in the "
        "system: count it"
    )
    # A count of another bin changes nothing; a count of this one settles it.
    push(device, counted(3, "R01-01-1", "SKU-2001", 50, http))
    assert len(http.get("/v1/alerts").json()["count_bins"]) == 1
    push(device, counted(4, "A01-02-1", "SKU-2001", 0, http))
    assert http.get("/v1/alerts").json()["count_bins"] == []
    # Reported short again after the count: listed again.
    http.post("/v1/orders", json=order_body("CB-2", [("SKU-1001", 1)])).raise_for_status()
    again = {"order_id": "CB-2", "sku": "SKU-1001", "location": "A01-01-1"}
    push(device, op("pick.short", 5, **again, qty_short=1, reason="not_found"))
    assert [a["location"] for a in http.get("/v1/alerts").json()["count_bins"]] == ["A01-01-1"]


def test_a_short_that_arrives_after_a_count_of_its_bin_may_be_allocated_there_again(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    # SKU-2001: 10 in pick bin A01-02-1 (50 more in reserve). A picker takes 1 of 3 and
    # finds the bin empty, but is offline; meanwhile the bin is counted (5 found, after
    # a delivery) from another handheld. When the short reaches central, the count is
    # newer: the bin is not ruled out and the 2 missing units are allocated there.
    http.post("/v1/orders", json=order_body("CS-9", [("SKU-2001", 3)])).raise_for_status()
    pick = {"order_id": "CS-9", "sku": "SKU-2001", "location": "A01-02-1"}

    def at(minutes: int) -> str:
        return (NOW + timedelta(minutes=minutes)).isoformat()

    with app.client(app.token("device", "HH-2", "DE-FRA")) as counter:
        count = counted(1, "A01-02-1", "SKU-2001", 5, http)
        push(counter, {**count, "at": at(1)}, device="HH-2")
    push(
        device,
        {**op("pick.confirmed", 1, **pick, qty=1), "at": at(-3)},
        {**op("pick.short", 2, **pick, qty_short=2, reason="bin_empty"), "at": at(-2)},
    )
    assert _held(http, "CS-9") == [("A01-02-1", 2)]
    assert "stock_shortage" not in http.get("/v1/orders/CS-9").json()["exceptions"]


def test_a_move_or_receipt_with_a_lot_that_is_not_text_is_rejected(
    http: httpx.Client, device: httpx.Client
) -> None:
    before = stock_of(http, "SKU-1001", "A01-01-1")["on_hand"]
    receipt = {"warehouse": "DE-FRA", "location": "A01-01-1", "sku": "SKU-1001"}
    refused = push(device, op("stock.adjusted", 1, **receipt, delta=5, reason="received", lot=3))
    assert refused["results"][0]["reason"] == "invalid field 'lot': must be text, got 3"
    move = {
        "warehouse": "DE-FRA",
        "sku": "SKU-1001",
        "from_location": "A01-01-1",
        "to_location": "A02-05-1",
        "qty": 1,
    }
    result = push(
        device, op("stock.moved", 2, **move, lot=7), op("stock.moved", 3, **move, expiry=[1])
    )
    assert [(r["status"], r.get("reason")) for r in result["results"]] == [
        ("rejected", "invalid field 'lot': must be text, got 7"),
        ("rejected", "invalid field 'expiry': must be text, got [1]"),
    ]
    assert stock_of(http, "SKU-1001", "A01-01-1")["on_hand"] == before


def test_status_never_moves_backwards(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("SH-1", [("SKU-2001", 1)])).raise_for_status()
    shipped = op(
        "order.shipped", 5, order_id="SH-1", carrier_service="dhl-express", tracking="JD01"
    )
    late_pick = op("pick.confirmed", 3, order_id="SH-1", sku="SKU-2001", location="A01-02-1", qty=1)
    late_pack = op(
        "order.packed",
        4,
        order_id="SH-1",
        carton="S",
        weight_g=200,
        carrier_service="dhl-express",
        tracking="JD01",
    )
    push(device, shipped)
    result = push(device, late_pick, late_pack)
    assert [r["status"] for r in result["results"]] == ["applied", "applied"]
    assert result["acked_seq"] == 5
    doc = http.get("/v1/orders/SH-1").json()
    assert doc["status"] == "shipped" and doc["tracking"] == "JD01"
    cancelled = http.post("/v1/orders/SH-1/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "shipped"
    assert "cancel_after_ship" in cancelled.json()["exceptions"]


def test_ship_after_cancel_becomes_an_exception(http: httpx.Client, device: httpx.Client) -> None:
    http.post("/v1/orders", json=order_body("CS-1", [("SKU-2001", 1)])).raise_for_status()
    http.post("/v1/orders/CS-1/cancel").raise_for_status()
    push(
        device,
        op("order.shipped", 1, order_id="CS-1", carrier_service="dhl-express", tracking="T1"),
    )
    doc = http.get("/v1/orders/CS-1").json()
    assert doc["status"] == "shipped" and "cancel_after_ship" in doc["exceptions"]
    assert any(a["order_id"] == "CS-1" for a in http.get("/v1/alerts").json()["exceptions"])


def test_push_auth_and_limits(app: CentralApp, http: httpx.Client, device: httpx.Client) -> None:
    body = {
        "device": "HH-1",
        "ops": [op("label.printed", 1, order_id="x", printer="p", job_id="j")],
    }
    assert httpx.post(f"{app.url}/v1/sync/push", json=body).status_code == 401
    assert http.post("/v1/sync/push", json=body).status_code == 403  # admin is not a device
    r = device.post("/v1/sync/push", json={**body, "device": "HH-9"})
    assert r.status_code == 403 and "HH-1" in r.json()["detail"]
    many = {"device": "HH-1", "ops": [op("label.printed", i + 1) for i in range(1001)]}
    r = device.post("/v1/sync/push", json=many)
    assert r.status_code == 413 and "1000" in r.json()["detail"]
    huge = {"device": "HH-1", "ops": [op("label.printed", 1, order_id="x" * (3 * 1024 * 1024))]}
    assert device.post("/v1/sync/push", json=huge).status_code == 413
    r = device.post(
        "/v1/sync/push",
        json={"device": "HH-1", "ops": [{"op_id": "a", "kind": "x", "at": AT, "data": {}}]},
    )
    assert r.status_code == 422 and fault_fields(r) == ["body.ops.0.seq"]
    r = device.post(
        "/v1/sync/push", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422


def test_pull_pages_compacts_and_filters_by_site(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("F-1", [("SKU-2001", 1)])).raise_for_status()
    http.post(
        "/v1/orders", json=order_body("F-PL", [("SKU-3001", 1)], warehouse="PL-WAW")
    ).raise_for_status()
    http.post("/v1/orders/F-1/cancel").raise_for_status()  # a second change to F-1
    everything, head = pull_all(http, limit=3)
    keys = [(c["entity"], c["id"]) for c in everything]
    assert len(keys) == len(set(keys)), "one row per entity and id"
    assert ("order", "F-1") in keys and ("order", "F-PL") in keys
    f1 = next(c["data"] for c in everything if c["id"] == "F-1")
    assert f1["status"] == "cancelled" and "email" not in f1["customer"]
    mine, _ = pull_all(device, limit=4)
    ids = {(c["entity"], c["id"]) for c in mine}
    assert ("order", "F-1") in ids and ("order", "F-PL") not in ids
    assert ("sku", "SKU-3001") in ids  # SKUs go to every site
    assert not any(c["entity"] == "stock" and c["data"]["warehouse"] == "PL-WAW" for c in mine)
    assert all(
        c["data"]["warehouse"] == "DE-FRA"
        for c in mine
        if c["entity"] in ("order", "stock", "location", "task")
    )
    tail, _ = pull_all(http, cursor=head)
    assert tail == []
    http.post("/v1/orders", json=order_body("F-2", [("SKU-2001", 1)])).raise_for_status()
    tail, _ = pull_all(http, cursor=head)
    assert ("order", "F-2") in {(c["entity"], c["id"]) for c in tail}


def test_a_pulled_bin_is_the_bin_as_of_the_pull(http: httpx.Client, device: httpx.Client) -> None:
    _, head = pull_all(device)
    push(device, adjusted(1, -2, "damaged"))
    http.post("/v1/orders", json=order_body("B-1", [("SKU-2001", 3)])).raise_for_status()
    changes, _ = pull_all(device, cursor=head)
    bins = [c["data"] for c in changes if c["id"] == "DE-FRA/A01-02-1/SKU-2001"]
    assert len(bins) == 1, "one row per bin"
    shown = stock_of(http, "SKU-2001", "A01-02-1")
    assert bins[0] == shown
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (8, 3, 5)
    assert bins[0]["ledger_seq"] > 0


def test_pull_answers_409_for_another_epoch(http: httpx.Client, device: httpx.Client) -> None:
    page = device.get("/v1/sync/pull", params={"cursor": 0, "limit": 1}).json()
    ok = device.get(
        "/v1/sync/pull",
        params={"cursor": page["cursor"]},
        headers={"X-Rushline-Epoch": page["epoch"]},
    )
    assert ok.status_code == 200
    r = device.get("/v1/sync/pull", params={"cursor": 5}, headers={"X-Rushline-Epoch": "not-it"})
    assert r.status_code == 409 and "re-pull" in r.json()["detail"]
    assert device.get("/v1/sync/pull", params={"cursor": 10**9}).status_code == 409
    assert "query.cursor" in fault_fields(device.get("/v1/sync/pull", params={"cursor": -1}))


def test_a_recorded_op_sent_again_with_a_new_seq_is_a_duplicate(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    adjust = adjusted(1, 4)
    assert push(device, adjust)["results"][0]["status"] == "applied"
    # A device that renumbered its outbox: the same op past its acknowledged seq, with a
    # new one. The recorded op is not applied twice; the new one is applied.
    fresh = adjusted(6, 1)
    result = push(device, {**adjust, "seq": 5}, fresh)
    assert [(r["op_id"], r["status"]) for r in result["results"]] == [
        (adjust["op_id"], "duplicate"),
        (fresh["op_id"], "applied"),
    ]
    assert result["acked_seq"] == 6
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 15  # 10 + 4 + 1
    # Sent by another device of the site: also a duplicate.
    with app.client(app.token("device", "HH-2", "DE-FRA")) as other:
        again = push(other, {**fresh, "seq": 1}, device="HH-2")
    assert again["results"] == [{"op_id": fresh["op_id"], "status": "duplicate"}]
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 15


def test_results_follow_the_sent_order_and_a_repeated_op_in_one_push_is_a_duplicate(
    http: httpx.Client, device: httpx.Client
) -> None:
    adjust = adjusted(2, 4)
    bogus = op("no.such.kind", 1)
    result = push(device, adjust, bogus, adjust)
    assert [(r["op_id"], r["status"]) for r in result["results"]] == [
        (adjust["op_id"], "applied"),
        (bogus["op_id"], "rejected"),
        (adjust["op_id"], "duplicate"),
    ]
    assert "unknown kind" in result["results"][1]["reason"] and result["acked_seq"] == 2
    assert stock_of(http, "SKU-2001", "A01-02-1")["on_hand"] == 14  # booked once
