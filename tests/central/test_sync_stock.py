"""Stock following the floor over real HTTP: reservations that follow counts and moves,
stock arriving for waiting orders, top-up tasks once a tote has left, bins to count
after a short pick (contracts §4.2, "Reservations follow the stock" and "Top-up tasks")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from central.service.reprioritise import tick
from tests.central.conftest import NOW, order_body
from tests.central.sync_support import (
    AT,
    adjusted,
    counted,
    events,
    held,
    op,
    pull_all,
    push,
    stock_of,
)
from tests.support.fixtures_central import CentralApp


def test_a_bin_counted_short_sends_waiting_orders_elsewhere(
    http: httpx.Client, device: httpx.Client
) -> None:
    for order_id, qty in (("S-1", 8), ("S-2", 6)):
        http.post("/v1/orders", json=order_body(order_id, [("SKU-1001", qty)])).raise_for_status()
    assert held(http, "S-1") == [("A01-01-1", 8)] and held(http, "S-2") == [("A01-01-1", 6)]
    # 10 of the 24 go to another pick bin: 14 left for the 14 reserved, nothing moves.
    move = {"warehouse": "DE-FRA", "sku": "SKU-1001", "from_location": "A01-01-1"}
    push(device, op("stock.moved", 1, **move, to_location="A02-05-1", qty=10))
    assert held(http, "S-2") == [("A01-01-1", 6)]
    # A count finds 9: S-2 (the later of two equally urgent orders) gives up its 6 there
    # and takes the 1 still free there and 5 from the other bin; S-1 keeps its 8.
    result = push(device, counted(2, "A01-01-1", "SKU-1001", 9, http))
    assert result["results"][0]["status"] == "applied"
    assert held(http, "S-1") == [("A01-01-1", 8)]
    assert held(http, "S-2") == [("A01-01-1", 1), ("A02-05-1", 5)]
    assert "reallocated" in events(http, "S-2") and "reallocated" not in events(http, "S-1")
    bin_now = stock_of(http, "SKU-1001", "A01-01-1")
    assert (bin_now["on_hand"], bin_now["reserved"], bin_now["available"]) == (9, 9, 0)
    assert http.get("/v1/alerts").json()["short_bins"] == []


def test_an_order_in_a_pick_task_keeps_its_bin_and_the_shortfall_is_alerted(
    http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("U-1", [("SKU-1001", 2)], urgent=True))
    http.post("/v1/orders", json=order_body("S-3", [("SKU-1001", 5)])).raise_for_status()
    assert held(http, "U-1") == [("A01-01-1", 2)] and held(http, "S-3") == [("A01-01-1", 5)]
    # U-1 is urgent: it has a hot pick task, a picker may be on the way to the bin.
    push(device, counted(1, "A01-01-1", "SKU-1001", 1, http))
    assert held(http, "U-1") == [("A01-01-1", 2)]
    assert "reallocated" not in events(http, "U-1")
    # S-3 had no task yet: it no longer counts on the bin (none free elsewhere in
    # DE-FRA's pick bins, so it is short there and a transfer is proposed).
    assert ("A01-01-1", 5) not in held(http, "S-3")
    assert "reallocated" in events(http, "S-3")
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
    assert held(http, "W-2") == [("A02-05-1", 5)]
    assert http.get("/v1/orders/W-2").json()["status"] == "received"
    # A receipt of 8 into the other pick bin covers the rest: allocated, ready to batch.
    push(device, adjusted(2, 8, reason="received"))
    doc = http.get("/v1/orders/W-2").json()
    assert doc["status"] == "allocated"
    assert held(http, "W-2") == [("A01-02-1", 7), ("A02-05-1", 5)]
    assert events(http, "W-2").count("allocated") == 1
    assert held(http, "U-2") == [("A01-02-1", 10)]  # the urgent order kept its units


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
    assert held(http, "W-6") == [("A03-01-1", 12)]
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
    assert "task" not in events(http, "U-4")
    http.post("/v1/orders/U-3/cancel").raise_for_status()
    assert held(http, "U-4") == [("A01-02-1", 4)]
    assert http.get("/v1/orders/U-4").json()["status"] == "allocated"
    assert "task" in events(http, "U-4")  # its hot pick task, at once


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


def _picked_short(
    http: httpx.Client, device: httpx.Client, order_id: str, qty: int, picked: int, tote: str
) -> None:
    """4 units of SKU-1001 moved to A02-05-1 first; then ``order_id`` for ``qty`` of it,
    ``picked`` at A01-01-1 into ``tote`` and the rest reported short there (seqs 1-4)."""
    move = {"warehouse": "DE-FRA", "sku": "SKU-1001", "from_location": "A01-01-1"}
    push(device, op("stock.moved", 1, **move, to_location="A02-05-1", qty=4))
    http.post("/v1/orders", json=order_body(order_id, [("SKU-1001", qty)])).raise_for_status()
    short = {"order_id": order_id, "sku": "SKU-1001", "location": "A01-01-1"}
    push(
        device,
        op("tote.assigned", 2, tote=tote, order_id=order_id),
        _pick(3, order_id, "A01-01-1", picked, tote=tote),
        op("pick.short", 4, **short, qty_short=qty - picked, reason="empty"),
    )


def _taken_over(
    device: httpx.Client, seq: int, order_id: str, tote: str, task_id: str, away: dict[str, Any]
) -> None:
    """The picker who took ``task_id`` over binds ``tote`` saying ``away`` is with another
    handheld, picks 1 unit at A01-01-1 into it and sends it on (seqs ``seq``..+2)."""
    push(
        device,
        op("tote.assigned", seq, tote=tote, order_id=order_id, task_id=task_id, elsewhere=[away]),
        _pick(seq + 1, order_id, "A01-01-1", 1, tote=tote, task_id=task_id),
        op("tote.diverted", seq + 2, tote=tote, lane=2),
    )


def test_units_moved_after_the_tote_left_the_picker_get_a_top_up_task(
    http: httpx.Client, device: httpx.Client
) -> None:
    # The picker binds tote T-1, picks 2 and finds the bin short of the other 4: central
    # moves them to A02-05-1. The picker may still take them (a follow-up line on the
    # handheld), so no task is made yet.
    _picked_short(http, device, "TU-1", 6, 2, "T-1")
    assert held(http, "TU-1") == [("A02-05-1", 4)]
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
    assert "task" in events(http, "TU-1")
    # The tote seen again (recirculated) and its first scan at packing make no second task.
    push(
        device,
        op("tote.diverted", 6, tote="T-1", lane=2, conveyor="CV-1"),
        op("pack.verified", 7, order_id="TU-1", sku="SKU-1001", qty=1),
    )
    assert [t["id"] for t in _tasks_of(device, "TU-1")] == ["TOP-TU-1-1"]
    # The top-up is picked into tote T-2 and leaves: nothing is left to top up, and the
    # top-up task is done.
    push(
        device,
        op("tote.assigned", 8, tote="T-2", order_id="TU-1", task_id="TOP-TU-1-1"),
        _pick(9, "TU-1", "A02-05-1", 4, tote="T-2", task_id="TOP-TU-1-1"),
        op("tote.diverted", 10, tote="T-2", lane=2, conveyor="CV-1"),
    )
    assert [(t["id"], t["status"]) for t in _tasks_of(device, "TU-1")] == [("TOP-TU-1-1", "done")]
    doc = http.get("/v1/orders/TU-1").json()
    assert (doc["status"], doc["lines"][0]["picked"]) == ("picked", 6)
    assert sum(a["qty"] for a in doc["allocations"]) == 0
    assert doc["handed_over"] == "T-2"
    # Both totes are listed: T-1 waits at packing, set aside, for T-2.
    assert (doc["tote"], doc["totes"]) == ("T-2", ["T-1", "T-2"])


def test_a_top_up_made_before_the_pickers_late_picks_arrived_is_cancelled(
    http: httpx.Client, device: httpx.Client
) -> None:
    # The picker's first pick reached central; then the handheld went offline, and the
    # sorter's divert of tote T-7 reached central before the other picks: central sees
    # 2 units still to pick and makes a top-up for them.
    http.post("/v1/orders", json=order_body("TU-7", [("SKU-1001", 3)])).raise_for_status()
    push(
        device,
        op("tote.assigned", 1, tote="T-7", order_id="TU-7"),
        _pick(2, "TU-7", "A01-01-1", 1, tote="T-7"),
        op("tote.diverted", 3, tote="T-7", lane=2, order_id="TU-7"),
    )
    (task,) = _tasks_of(device, "TU-7")
    assert (task["kind"], task["status"], task["lines"][0]["qty"]) == ("topup", "open", 2)
    # The handheld comes back: the 2 units were in T-7 after all.
    push(device, _pick(4, "TU-7", "A01-01-1", 2, tote="T-7"))
    (task,) = _tasks_of(device, "TU-7")
    assert task["status"] == "cancelled"
    doc = http.get("/v1/orders/TU-7").json()
    assert doc["status"] == "picked"
    notes = [e["detail"] for e in doc["timeline"] if e["event"] == "task"]
    assert f"top-up {task['id']} cancelled: nothing left to pick" in notes


def test_a_second_tote_leaving_replaces_the_open_top_up_instead_of_adding_one(
    http: httpx.Client, device: httpx.Client
) -> None:
    _picked_short(http, device, "TU-12", 2, 1, "T-20")
    push(device, op("tote.diverted", 5, tote="T-20", lane=2))
    (first,) = _tasks_of(device, "TU-12")
    assert (first["after_tote"], first["lines"][0]["qty"]) == ("T-20", 1)
    # A second tote of the order leaves (a hand-over) before anyone took the top-up:
    # one top-up still sends one picker for the one unit, naming the newer tote.
    push(
        device,
        op("tote.assigned", 6, tote="T-21", order_id="TU-12"),
        op("tote.diverted", 7, tote="T-21", lane=2),
    )
    tasks = {t["id"]: t for t in _tasks_of(device, "TU-12")}
    assert tasks[first["id"]]["status"] == "cancelled"
    (open_one,) = [t for t in tasks.values() if t["status"] == "open"]
    assert (open_one["after_tote"], sum(li["qty"] for li in open_one["lines"])) == ("T-21", 1)
    notes = [e["detail"] for e in http.get("/v1/orders/TU-12").json()["timeline"]]
    assert f"top-up {first['id']} cancelled: replaced: tote T-21 has left too" in notes
    # A top-up someone is picking stays; a third tote leaving then adds none for its unit.
    push(device, _pick(8, "TU-12", "A02-05-1", 1, tote="T-22", task_id=open_one["id"]))
    push(
        device,
        op("tote.assigned", 9, tote="T-23", order_id="TU-12"),
        op("tote.diverted", 10, tote="T-23", lane=2),
    )
    assert [t["status"] for t in _tasks_of(device, "TU-12") if t["id"] != first["id"]] == ["done"]


def test_units_another_picker_has_in_hand_get_no_top_up_until_their_picks_arrive(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    # HH-2 picked 2 of TU-8's 3 units on task B-8, then went off the air (central down
    # too: its picks wait in its outbox). HH-1 took the task over; the claim on the floor
    # bus told it of HH-2's 2 units, so it picks 1 and binds its tote, saying so.
    http.post("/v1/orders", json=order_body("TU-8", [("SKU-1001", 3)])).raise_for_status()
    push(device, _pick(1, "TU-8", "A01-01-1", 1, task_id="B-8"))
    # The sorter's divert of the tote reaches central before the tote's op: a top-up
    # for the 2 units central knows nothing of.
    push(device, op("tote.diverted", 2, tote="T-8", lane=2, order_id="TU-8"))
    (first,) = _tasks_of(device, "TU-8")
    assert (first["status"], first["lines"][0]["qty"]) == ("open", 2)
    away = {"device": "HH-2", "sku": "SKU-1001", "location": "A01-01-1", "qty": 2}
    result = push(
        device,
        op("tote.assigned", 3, tote="T-8", order_id="TU-8", task_id="B-8", elsewhere=[away]),
    )
    assert [r["status"] for r in result["results"]] == ["applied"]
    # The top-up would send someone for units in HH-2's tote: cancelled, none made anew.
    assert [(t["id"], t["status"]) for t in _tasks_of(device, "TU-8")] == [
        (first["id"], "cancelled")
    ]
    doc = http.get("/v1/orders/TU-8").json()
    assert held(http, "TU-8") == [("A01-01-1", 2)]  # still reserved: the picks are not here
    notes = [e["detail"] for e in doc["timeline"]]
    assert (
        "task B-8 taken over: 2 x SKU-1001 at A01-01-1 by HH-2 picked or short elsewhere" in notes
    )
    # HH-2 is back on the air: its picks arrive, the order is picked, never more than 3.
    with app.client(app.token("device", "HH-2", "DE-FRA")) as hh2:
        push(hh2, _pick(1, "TU-8", "A01-01-1", 2, tote="T-9", task_id="B-8"), device="HH-2")
    doc = http.get("/v1/orders/TU-8").json()
    assert (doc["status"], doc["lines"][0]["picked"]) == ("picked", 3)
    assert [t["status"] for t in _tasks_of(device, "TU-8")] == ["cancelled"]


def test_units_of_a_handheld_that_never_comes_back_get_a_top_up_after_the_wait(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("TU-11", [("SKU-1001", 4)])).raise_for_status()
    away = {"device": "HH-2", "sku": "SKU-1001", "location": "A01-01-1", "qty": 2}
    _taken_over(device, 1, "TU-11", "T-16", "B-11", away)
    (first,) = _tasks_of(device, "TU-11")  # for the 1 unit nobody has; HH-2's 2 are on the way
    assert [(li["location"], li["qty"]) for li in first["lines"]] == [("A01-01-1", 1)]
    wait = timedelta(seconds=app.settings.handover_wait_s)
    app.clock.advance(wait - timedelta(minutes=1))
    tick(app.store, app.clock, app.settings)
    assert [t["status"] for t in _tasks_of(device, "TU-11")] == ["open"]
    # HH-2 never comes back (lost with its outbox): central stops waiting for its units,
    # and the top-up nobody has started is made anew with them.
    app.clock.advance(timedelta(minutes=2))
    tick(app.store, app.clock, app.settings)
    tasks = {t["id"]: t for t in _tasks_of(device, "TU-11")}
    assert tasks.pop(first["id"])["status"] == "cancelled"
    (task,) = tasks.values()
    assert (task["kind"], task["status"], task["after_tote"]) == ("topup", "open", "T-16")
    assert [(li["location"], li["qty"]) for li in task["lines"]] == [("A01-01-1", 3)]
    doc = http.get("/v1/orders/TU-11").json()
    assert "elsewhere" not in doc
    minutes = round(wait.total_seconds() / 60)
    notes = [e["detail"] for e in doc["timeline"]]
    assert (
        f"2 x SKU-1001 at A01-01-1 from another handheld not here after {minutes} min:"
        " no longer waited for"
    ) in notes
    tick(app.store, app.clock, app.settings)  # said once, one top-up
    assert [t["status"] for t in _tasks_of(device, "TU-11")] == ["cancelled", "open"]
    doc = http.get("/v1/orders/TU-11").json()
    assert sum("no longer waited for" in e["detail"] for e in doc["timeline"]) == 1


def test_units_of_a_second_task_taken_over_are_waited_for_their_own_full_time(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("TU-13", [("SKU-1001", 5)])).raise_for_status()
    hh2 = {"device": "HH-2", "sku": "SKU-1001", "location": "A01-01-1", "qty": 2}
    _taken_over(device, 1, "TU-13", "T-30", "B-13", hh2)
    (top_up,) = _tasks_of(device, "TU-13")  # for the 2 units nobody has
    # 20 minutes on, HH-3 drops off the air with 1 unit of the top-up; HH-1 takes it over.
    wait = timedelta(seconds=app.settings.handover_wait_s)
    app.clock.advance(wait - timedelta(minutes=10))
    _taken_over(device, 4, "TU-13", "T-31", top_up["id"], {**hh2, "device": "HH-3", "qty": 1})
    # Past HH-2's wait, not HH-3's: a top-up for HH-2's 2 units, HH-3's still waited for.
    app.clock.advance(timedelta(minutes=11))
    tick(app.store, app.clock, app.settings)

    def newest() -> tuple[str, list[int]]:
        task = [t for t in _tasks_of(device, "TU-13") if t["id"] != top_up["id"]][-1]
        return task["status"], [li["qty"] for li in task["lines"]]

    def notes() -> list[str]:
        doc = http.get("/v1/orders/TU-13").json()
        return [e["detail"] for e in doc["timeline"] if "no longer waited for" in e["detail"]]

    assert newest() == ("open", [2])
    assert [n.split(" from ")[0] for n in notes()] == ["2 x SKU-1001 at A01-01-1"]
    assert list(http.get("/v1/orders/TU-13").json()["elsewhere"]) == [top_up["id"]]
    # HH-3's full wait later, its unit too.
    app.clock.advance(wait - timedelta(minutes=10))
    tick(app.store, app.clock, app.settings)
    assert newest() == ("open", [3])
    assert [n.split(" from ")[0] for n in notes()] == [
        "2 x SKU-1001 at A01-01-1",
        "1 x SKU-1001 at A01-01-1",
    ]
    assert "elsewhere" not in http.get("/v1/orders/TU-13").json()


def test_units_of_another_picker_that_arrived_already_do_not_hold_back_a_top_up(
    app: CentralApp, http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("TU-9", [("SKU-1001", 4)])).raise_for_status()
    with app.client(app.token("device", "HH-2", "DE-FRA")) as hh2:
        push(hh2, _pick(1, "TU-9", "A01-01-1", 2, tote="T-10", task_id="B-9"), device="HH-2")
    # HH-1 took the task over, picked 1 and sent its tote on: the last unit needs a
    # top-up, whatever HH-2's claim said (its 2 units reached central already).
    away = {"device": "HH-2", "sku": "SKU-1001", "location": "A01-01-1", "qty": 2}
    _taken_over(device, 1, "TU-9", "T-11", "B-9", away)
    (task,) = _tasks_of(device, "TU-9")
    assert (task["kind"], task["status"], task["after_tote"]) == ("topup", "open", "T-11")
    assert [(li["location"], li["qty"]) for li in task["lines"]] == [("A01-01-1", 1)]


def test_a_tote_with_bad_units_elsewhere_is_rejected_and_changes_nothing(
    http: httpx.Client, device: httpx.Client
) -> None:
    http.post("/v1/orders", json=order_body("TU-10", [("SKU-1001", 1)])).raise_for_status()
    bad = {"device": "HH-2", "sku": "SKU-1001", "location": "A01-01-1", "qty": 0}
    result = push(
        device,
        op("tote.assigned", 1, tote="T-12", order_id="TU-10", task_id="B-10", elsewhere=[bad]),
        op("tote.assigned", 2, tote="T-13", order_id="TU-10", elsewhere=[]),
        op("tote.assigned", 3, tote="T-14", order_id="TU-10", elsewhere=[{"qty": 1}]),
        op("tote.assigned", 4, tote="T-15", order_id="TU-10", elsewhere=[dict(bad, qty=1)]),
    )
    reasons = [r.get("reason", "") for r in result["results"]]
    assert [r["status"] for r in result["results"]] == ["rejected", "applied", "rejected"] * 1 + [
        "rejected"
    ]
    assert reasons[0] == "elsewhere[0]: invalid field 'qty': must be positive, got 0"
    assert reasons[2] == "elsewhere[0]: missing field 'device': text expected"
    assert reasons[3] == "missing field 'task_id': text expected"  # whose units, then?
    doc = http.get("/v1/orders/TU-10").json()
    assert doc["totes"] == ["T-13"] and "elsewhere" not in doc


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
    assert held(http, "TU-2") == [("A02-05-1", 4)]
    (task,) = _tasks_of(device, "TU-2")
    assert (task["kind"], task["after_tote"]) == ("topup", "T-3")
    assert [(li["location"], li["qty"]) for li in task["lines"]] == [("A02-05-1", 4)]
    # Its units are locked for the task: an urgent order now takes the one free unit only.
    http.post("/v1/orders", json=order_body("U-9", [("SKU-2001", 3)], urgent=True))
    assert held(http, "TU-2") == [("A02-05-1", 4)]
    assert held(http, "U-9") == [("A02-05-1", 1)]


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
    assert held(http, "CS-9") == [("A01-02-1", 2)]
    assert "stock_shortage" not in http.get("/v1/orders/CS-9").json()["exceptions"]
