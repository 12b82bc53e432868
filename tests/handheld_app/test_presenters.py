"""Sign-in, task list, stock lookup and status bar presenters, no Kivy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.barcodes import decode
from handheld_app.presenters import (
    SignInPresenter,
    StatusPresenter,
    StockPresenter,
    TaskListPresenter,
    TaskProgress,
)
from handheld_app.presenters.timefmt import age, countdown
from sync.store import LocalStore
from tests.handheld_app.floor import GTIN_CUP, GTIN_STRANGER, NOW, Clock


def test_badge_scan_signs_in() -> None:
    signin = SignInPresenter()
    result = signin.scanned(decode("OP-1234"))
    assert result.feedback.ok and result.operator == "1234" and signin.operator == "1234"


def test_non_badge_scan_is_refused() -> None:
    signin = SignInPresenter()
    result = signin.scanned(decode("LOC-A01-01-1"))
    assert (result.feedback.ok, result.feedback.code, result.operator) == (
        False,
        "not_a_badge",
        None,
    )
    assert "location" in result.feedback.message and "OP-" in result.feedback.message
    assert signin.scanned(decode("TOTE-12")).feedback.code == "not_a_badge"
    assert signin.scanned(decode("garbage!")).feedback.code == "unknown_barcode"
    assert signin.operator is None


def test_typed_operator_id() -> None:
    signin = SignInPresenter()
    assert signin.typed(" op-77 ").operator == "77"
    assert signin.typed("jane.doe").operator == "jane.doe"
    for bad in ("", "   ", "a b", "x" * 40, "OP-"):
        result = signin.typed(bad)
        assert (result.feedback.ok, result.operator) == (False, None), bad
        assert result.feedback.code == "bad_operator_id"


def test_task_list_most_urgent_first_with_countdown(store: LocalStore, clock: Clock) -> None:
    tasks = TaskListPresenter(store, TaskProgress(), clock)
    view = tasks.view()
    assert [(r.task_id, r.level) for r in view.rows] == [("HOT-O-HOT", "P1"), ("BATCH-1", "P3")]
    hot = view.rows[0]
    assert (hot.title, hot.countdown, hot.late, hot.lines_left, hot.units_left) == (
        "O-HOT",
        "45m00s",
        False,
        2,
        3,
    )
    assert hot.first_location == "A01-01-1"
    assert hot.reasons == ("deadline in 45m", "customer flag: medical")
    clock.advance(46 * 60)
    late = tasks.view().rows[0]
    assert (late.countdown, late.late) == ("LATE 1m00s", True)


def test_a_top_up_task_names_the_tote_it_completes(store: LocalStore, clock: Clock) -> None:
    top_up = {
        "id": "TOP-O-SLOW-1",
        "kind": "topup",
        "level": "P3",
        "warehouse": store.site,
        "status": "open",
        "after_tote": "TOTE-7",
        "order_ids": ["O-SLOW"],
        "lines": [{"order_id": "O-SLOW", "sku": "SKU-CUP", "location": "A01-02-1", "qty": 1}],
        "deadline": (NOW + timedelta(hours=5)).isoformat(),
        "length_m": 4.0,
    }
    store.apply_changes(
        [{"entity": "task", "id": top_up["id"], "data": top_up}], cursor=99, epoch="e1"
    )
    rows = {r.task_id: r for r in TaskListPresenter(store, TaskProgress(), clock).view().rows}
    assert rows["TOP-O-SLOW-1"].title == "O-SLOW top-up for tote TOTE-7"
    assert rows["BATCH-1"].title == "O-SLOW"


def test_a_top_up_sends_no_one_for_units_the_order_no_longer_holds(store: LocalStore) -> None:
    order = {
        "id": "O-TOP",
        "warehouse": store.site,
        "status": "picked",
        "tote": "TOTE-7",
        "lines": [{"sku": "SKU-CUP", "qty": 3, "picked": 1}],
        "allocations": [{"sku": "SKU-CUP", "location": "A01-02-1", "qty": 2}],
    }
    task = {
        "id": "TOP-O-TOP-1",
        "kind": "topup",
        "level": "P3",
        "warehouse": store.site,
        "status": "open",
        "after_tote": "TOTE-7",
        "order_ids": ["O-TOP"],
        "lines": [{"order_id": "O-TOP", "sku": "SKU-CUP", "location": "A01-02-1", "qty": 2}],
    }

    def pulled(allocated: int) -> None:
        doc = {**order, "allocations": [{**order["allocations"][0], "qty": allocated}]}
        change = {"entity": "order", "id": "O-TOP", "data": doc}
        store.apply_changes([change], cursor=store.cursor + 1, epoch=store.epoch)

    progress = TaskProgress(orders=store.order)
    pulled(2)
    assert [line.left for line in progress.lines(task)] == [2]
    assert progress.unbound(task) == ["O-TOP"]
    # The first picker's own late picks reach central: the order holds 1 there now.
    pulled(1)
    assert [line.left for line in progress.lines(task)] == [1]
    progress.note(
        "pick.confirmed",
        {"task_id": task["id"], "order_id": "O-TOP", "sku": "SKU-CUP", "location": "A01-02-1",
         "qty": 1},
    )  # fmt: skip
    assert [line.left for line in progress.lines(task)] == [1]  # not synced: still 1
    pulled(0)  # synced: the top-up's pick took the last unit held there
    assert [line.left for line in progress.lines(task)] == [0]
    assert progress.unbound(task) == ["O-TOP"] and not progress.finished(task)  # 1 in hand
    # Another top-up whose units were all picked before anyone started it: nothing to
    # pick and no tote to scan.
    other = {**task, "id": "TOP-O-TOP-2"}
    assert progress.unbound(other) == [] and progress.finished(other)
    # A task that is not a top-up is not capped.
    batch = {**task, "id": "BATCH-9", "kind": "batch"}
    assert [line.left for line in progress.lines(batch)] == [2]


def test_pushed_urgent_task_raises_banner_once(store: LocalStore, clock: Clock) -> None:
    tasks = TaskListPresenter(store, TaskProgress(), clock)
    assert tasks.pushed({"id": "T9", "level": "P4", "order_ids": ["O9"]}) is False
    assert tasks.view().banner == ""
    assert tasks.pushed({"id": "T1", "level": "P1", "order_ids": ["O1"]}) is True
    assert tasks.view().banner == "NEW P1 HOT PICK O1"
    assert tasks.view().banner_level == "P1"
    assert tasks.pushed({"id": "T1", "level": "P1", "order_ids": ["O1"]}) is False
    tasks.dismiss_banner()
    assert tasks.view().banner == ""
    top_up = {"id": "TOP-O2-1", "kind": "topup", "level": "P2", "order_ids": ["O2"]}
    assert tasks.pushed({**top_up, "after_tote": "TOTE-5"}) is True
    assert tasks.view().banner == "NEW P2 TOP-UP PICK O2 (rest of tote TOTE-5)"


def test_stock_lookup_from_cache(store: LocalStore, clock: Clock) -> None:
    synced = NOW - timedelta(seconds=90)
    stock = StockPresenter(store, clock, lambda: synced)
    feedback = stock.lookup(decode("(01)05901234123457(10)X"))
    assert feedback.ok
    view = stock.current
    assert view.sku == "SKU-PEN" and view.name == "Pen needles"
    assert [(line.location, line.on_hand, line.available) for line in view.lines] == [
        ("B02-05-2", 3, 2),
        ("C03-01-1", 7, 7),
    ]
    assert view.total_available == 9 and view.as_of == "1m ago"
    assert "synced 1m ago" in feedback.message


def test_stock_lookup_refusals(store: LocalStore, clock: Clock) -> None:
    stock = StockPresenter(store, clock)
    assert stock.lookup(decode(GTIN_STRANGER)).code == "unknown_item"
    assert stock.lookup(decode("LOC-A01-01-1")).code == "not_an_item"
    assert stock.lookup(decode("12345")).code == "unknown_barcode"
    assert stock.current.ok is False and stock.current.as_of == "never"
    assert stock.lookup(decode(GTIN_CUP)).ok


@dataclass
class _Round:
    error_kind: str | None


@dataclass
class _State:
    online: bool
    pending: int
    last_success_at: datetime | None
    last_error: str | None = None
    last_round: _Round | None = None


def test_status_bar(store: LocalStore, clock: Clock) -> None:
    state: list[_State | None] = [None]
    status = StatusPresenter(lambda: state[0], store.pending_count, clock)
    view = status.view()
    assert (view.online, view.pending, view.last_sync) == (False, 0, "never")
    assert view.text.startswith("OFFLINE")
    state[0] = _State(True, 0, NOW - timedelta(seconds=20))
    view = status.view("op7")
    assert (view.online, view.last_sync, view.operator) == (True, "20s ago", "op7")
    assert view.text == "ONLINE  |  0 to send  |  sync 20s ago"
    state[0] = _State(True, 0, NOW, last_round=_Round("unauthorized"))
    refused = status.view()
    assert refused.online is False and refused.text.startswith("TOKEN REFUSED  |  0 to send")


def test_time_formats() -> None:
    assert countdown(None, NOW) == "--"
    assert countdown(NOW + timedelta(hours=2, minutes=5), NOW) == "2h05m"
    assert countdown(NOW + timedelta(days=2, hours=3), NOW) == "2d03h"
    assert age(NOW - timedelta(seconds=2), NOW) == "just now"
    assert age(NOW - timedelta(hours=1, minutes=3), NOW) == "1h03m ago"
