"""The pick flow through ``PickerSession``: every step and every refusal, no Kivy."""

from __future__ import annotations

from handheld_app.presenters import PickView, SilentFeedback, Step, TaskListView
from handheld_app.session import PickerSession
from sync.store import LocalStore
from tests.handheld_app.floor import GTIN_BAG, GTIN_CUP, GTIN_PEN, GTIN_STRANGER, Clock, gs1


def _session(store: LocalStore, clock: Clock) -> tuple[PickerSession, SilentFeedback]:
    port = SilentFeedback()
    return PickerSession(store, "op7", clock, feedback=port), port


def _pick_view(session: PickerSession) -> PickView:
    view = session.current_view()
    assert isinstance(view, PickView), view
    return view


def _ops(store: LocalStore) -> list[tuple[str, dict]]:
    return [(op.kind, op.data) for op in store.outbox_history()]


def test_hot_pick_end_to_end_records_picks_and_tote(store: LocalStore, clock: Clock) -> None:
    session, port = _session(store, clock)
    assert session.start().ok  # the most urgent task: the P1 hot pick
    view = _pick_view(session)
    assert (view.task_id, view.step, view.location, view.left) == (
        "HOT-O-HOT",
        Step.LOCATION,
        "A01-01-1",
        2,
    )
    assert "customer flag: medical" in view.reasons
    assert view.countdown == "45m00s"

    assert session.scan("LOC-A01-01-1").code == "at_location"
    assert session.scan(gs1(GTIN_BAG, lot="LOT9", expiry="270430")).code == "item_ok"
    view = _pick_view(session)
    assert (view.step, view.lot, view.expiry) == (Step.QTY, "LOT9", "2027-04-30")
    assert session.enter_qty(2).code == "picked"
    # Next line in route order, another bin: the location must be scanned again.
    view = _pick_view(session)
    assert (view.step, view.location, view.sku) == (Step.LOCATION, "B02-05-2", "SKU-PEN")
    assert session.scan("LOC-B02-05-2").ok
    # A single unit: the item scan confirms it without the keypad.
    assert session.scan(GTIN_PEN).code == "picked"
    view = _pick_view(session)
    assert (view.step, view.order_id) == (Step.TOTE, "O-HOT")
    done = session.scan("TOTE-0042")
    assert (done.ok, done.code) == (True, "task_done")
    assert "TOTE-0042" in done.message
    assert isinstance(session.current_view(), TaskListView)  # back to the list

    ops = _ops(store)
    assert [k for k, _ in ops] == ["pick.confirmed", "pick.confirmed", "tote.assigned"]
    first = ops[0][1]
    assert first["qty"] == 2 and first["lot"] == "LOT9" and first["expiry"] == "2027-04-30"
    assert first["operator"] == "op7" and first["task_id"] == "HOT-O-HOT"
    assert ops[2][1] == {"tote": "TOTE-0042", "order_id": "O-HOT", "task_id": "HOT-O-HOT"}
    order = store.order("O-HOT")
    assert order is not None
    assert order["status"] == "picked" and order["tote"] == "TOTE-0042"
    stock = store.get("stock", "DE-FRA/A01-01-1/SKU-BAG")
    assert stock is not None and stock["on_hand"] == 3
    assert port.errors == 0 and port.oks >= 6
    # The finished task leaves the list; the batch task remains.
    tasks = session.current_view()
    assert isinstance(tasks, TaskListView)
    assert [r.task_id for r in tasks.rows] == ["BATCH-1"]


def test_tote_scanned_first_goes_with_each_pick(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    assert session.scan("TOTE-0007").code == "tote_bound"
    session.scan("LOC-A01-01-1")
    session.scan(GTIN_BAG)
    session.enter_qty(2)
    session.scan("LOC-B02-05-2")
    finished = session.scan(GTIN_PEN)
    assert finished.ok and "task done" in finished.message
    picks = [d for k, d in _ops(store) if k == "pick.confirmed"]
    assert [p.get("tote") for p in picks] == ["TOTE-0007", "TOTE-0007"]
    assert isinstance(session.current_view(), TaskListView)


def test_wrong_location_is_refused_and_changes_nothing(store: LocalStore, clock: Clock) -> None:
    session, port = _session(store, clock)
    session.start("HOT-O-HOT")
    refused = session.scan("LOC-C03-01-1")
    assert (refused.ok, refused.code) == (False, "wrong_location")
    assert "C03-01-1" in refused.message and "A01-01-1" in refused.message
    assert _pick_view(session).step is Step.LOCATION
    assert _pick_view(session).message == refused.message
    assert port.errors == 1
    assert store.pending_count() == 0


def test_item_before_location_is_refused(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    refused = session.scan(GTIN_BAG)
    assert (refused.ok, refused.code) == (False, "scan_location_first")
    assert store.pending_count() == 0


def test_wrong_item_is_refused(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    refused = session.scan(GTIN_PEN)
    assert (refused.ok, refused.code) == (False, "wrong_item")
    assert "SKU-PEN" in refused.message and "SKU-BAG" in refused.message
    assert _pick_view(session).step is Step.ITEM
    assert store.pending_count() == 0


def test_item_not_in_catalogue_is_refused(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    refused = session.scan(GTIN_STRANGER)
    assert (refused.ok, refused.code) == (False, "unknown_item")
    assert store.pending_count() == 0


def test_unknown_barcode_is_refused_with_the_reason(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    refused = session.scan("4006381333932")  # check digit wrong
    assert (refused.ok, refused.code) == (False, "unknown_barcode")
    assert "check digit" in refused.message
    assert session.scan("HELLO").code == "unknown_barcode"
    assert store.pending_count() == 0


def test_too_many_and_bad_quantities_are_refused(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    assert session.enter_qty(1).code == "scan_item_first"
    session.scan("LOC-A01-01-1")
    session.scan(GTIN_BAG)
    too_many = session.enter_qty(3)
    assert (too_many.ok, too_many.code) == (False, "too_many")
    assert "only 2 left" in too_many.message
    assert session.enter_qty(0).code == "bad_qty"
    assert store.pending_count() == 0
    # A partial quantity leaves the rest of the line at the same bin.
    assert session.enter_qty(1).ok
    view = _pick_view(session)
    assert (view.step, view.left, view.location) == (Step.ITEM, 1, "A01-01-1")
    assert session.scan(GTIN_BAG).code == "picked"


def test_short_pick_records_reason_and_shows_other_bins(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    session.scan(GTIN_BAG)
    session.enter_qty(2)
    session.scan("LOC-B02-05-2")
    assert session.short("exploded").code == "bad_reason"
    short = session.short("bin_empty")
    assert short.ok and short.code == "short"
    assert "C03-01-1 (7)" in short.message  # the other bin of SKU-PEN, from the cache
    view = _pick_view(session)
    assert view.step is Step.TOTE and view.alternatives == ("C03-01-1 (7)",)
    kinds = _ops(store)
    assert kinds[-1] == (
        "pick.short",
        {
            "order_id": "O-HOT",
            "sku": "SKU-PEN",
            "location": "B02-05-2",
            "qty_short": 1,
            "reason": "bin_empty",
            "operator": "op7",
            "task_id": "HOT-O-HOT",
        },
    )
    order = store.order("O-HOT")
    assert order is not None and "short_pick" in order["exceptions"]


def test_tote_holding_another_open_order_is_refused(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("BATCH-1")
    assert session.scan("TOTE-0001").ok
    session.back_to_tasks()
    session.start("HOT-O-HOT")
    refused = session.scan("TOTE-0001")
    assert (refused.ok, refused.code) == (False, "tote_in_use")
    assert "O-SLOW" in refused.message
    assert [k for k, _ in _ops(store)] == ["tote.assigned"]


def test_a_bound_tote_is_announced_once_and_a_refused_one_not_at_all(
    store: LocalStore, clock: Clock
) -> None:
    told: list[tuple[str, str]] = []
    session = PickerSession(store, "op7", clock, on_tote=lambda o, t: told.append((o, t)))
    session.start("BATCH-1")
    assert session.scan("TOTE-0001").ok
    session.back_to_tasks()
    session.start("HOT-O-HOT")
    assert not session.scan("TOTE-0001").ok  # holds O-SLOW
    assert told == [("O-SLOW", "TOTE-0001")]


def test_a_failing_announcement_does_not_undo_the_binding(store: LocalStore, clock: Clock) -> None:
    def broken(order_id: str, tote: str) -> None:
        raise OSError("bus down")

    session = PickerSession(store, "op7", clock, on_tote=broken)
    session.start("BATCH-1")
    assert session.scan("TOTE-0001").ok
    assert [k for k, _ in _ops(store)] == ["tote.assigned"]


def test_tote_set_aside_for_another_orders_top_up_is_refused(
    store: LocalStore, clock: Clock
) -> None:
    session, _ = _session(store, clock)
    session.start("BATCH-1")
    assert session.scan("TOTE-0001").ok
    session.back_to_tasks()
    # O-SLOW went to packing in TOTE-0001 with what was picked; its top-up was picked
    # into TOTE-0002, and TOTE-0001 waits at packing with its units.
    pick = {"order_id": "O-SLOW", "sku": "SKU-CUP", "location": "A01-02-1", "qty": 1}
    store.record("pick.confirmed", {**pick, "operator": "op7", "tote": "TOTE-0001"}, clock())
    store.record("tote.assigned", {"tote": "TOTE-0002", "order_id": "O-SLOW"}, clock())
    session.start("HOT-O-HOT")
    refused = session.scan("TOTE-0001")
    assert (refused.ok, refused.code) == (False, "tote_in_use")
    assert "O-SLOW" in refused.message


def test_progress_survives_a_restart(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    session.scan(GTIN_BAG)
    session.enter_qty(2)
    again = PickerSession(store, "op7", clock)
    again.start("HOT-O-HOT")
    view = _pick_view(again)
    assert (view.sku, view.line_no, view.step) == ("SKU-PEN", 2, Step.LOCATION)


def test_scans_without_a_task(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    assert session.scan("LOC-A01-01-1").code == "no_task"
    assert session.enter_qty(1).code == "no_task"
    assert session.short("damaged").code == "no_task"
    assert session.start("NOPE").code == "no_task"
    # An item scanned on the list opens the stock lookup.
    assert session.scan(GTIN_PEN).code == "stock"
    assert session.mode == "stock"


def test_task_cancelled_by_central_mid_pick(store: LocalStore, clock: Clock) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    task = store.get("task", "HOT-O-HOT")
    assert task is not None
    store.apply_changes(
        [{"entity": "task", "id": "HOT-O-HOT", "data": {**task, "status": "cancelled"}}],
        cursor=100,
        epoch="e1",
    )
    refused = session.scan(GTIN_BAG)
    assert (refused.ok, refused.code) == (False, "task_cancelled")
    assert isinstance(session.current_view(), TaskListView)
    assert session.enter_qty(1).code == "no_task"
    assert store.pending_count() == 0


def test_a_simulated_picker_follows_expected_scans(store: LocalStore, clock: Clock) -> None:
    session, port = _session(store, clock)
    assert session.expected_scan() is None  # on the list
    session.start()
    for _ in range(10):
        code = session.expected_scan()
        if code is None:
            view = _pick_view(session)
            if view.step is Step.QTY:
                assert session.enter_qty(view.left).ok
                continue
            break
        assert session.scan(code).ok, code
    assert _pick_view(session).step is Step.TOTE
    assert session.scan("TOTE-0100").code == "task_done"
    assert port.errors == 0
    order = store.order("O-HOT")
    assert order is not None and order["status"] == "picked"


def test_batch_task_asks_a_tote_per_order(store: LocalStore, clock: Clock) -> None:
    slow = store.order("O-SLOW")
    assert slow is not None
    second = {**slow, "id": "O-SLOW2", "lines": [{"sku": "SKU-PEN", "qty": 1, "picked": 0}]}
    batch = {
        "id": "BATCH-2",
        "kind": "batch",
        "level": "P3",
        "warehouse": "DE-FRA",
        "order_ids": ["O-SLOW", "O-SLOW2"],
        "lines": [
            {"order_id": "O-SLOW", "sku": "SKU-CUP", "location": "A01-02-1", "qty": 1},
            {"order_id": "O-SLOW2", "sku": "SKU-PEN", "location": "C03-01-1", "qty": 1},
        ],
        "deadline": slow["deadline"],
        "status": "open",
    }
    store.apply_changes(
        [
            {"entity": "order", "id": "O-SLOW2", "data": second},
            {"entity": "task", "id": "BATCH-2", "data": batch},
        ],
        cursor=50,
        epoch="e1",
    )
    session, _ = _session(store, clock)
    session.start("BATCH-2")
    for code in ("LOC-A01-02-1", GTIN_CUP, "LOC-C03-01-1", GTIN_PEN):
        assert session.scan(code).ok, code
    assert _pick_view(session).order_id == "O-SLOW"
    assert session.scan("TOTE-0011").code == "tote_bound"
    assert _pick_view(session).prompt == "Scan a tote for order O-SLOW2"
    assert session.scan("TOTE-0011").code == "tote_in_use"  # one tote, one order
    assert session.scan("TOTE-0012").code == "task_done"
    totes = {d["order_id"]: d["tote"] for k, d in _ops(store) if k == "tote.assigned"}
    assert totes == {"O-SLOW": "TOTE-0011", "O-SLOW2": "TOTE-0012"}


def test_typed_entries_a_short_number_is_the_quantity_a_long_one_an_item(
    store: LocalStore, clock: Clock
) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    # An item number keyed from a label that will not scan is the item, not 4e12 units.
    assert session.typed(f" {GTIN_BAG} ").code == "item_ok"
    assert _pick_view(session).step is Step.QTY
    assert session.typed("3").code == "too_many"  # up to five digits: the quantity
    # A superscript two is a digit but no number: read as a code and refused, no crash.
    assert session.typed("²").code == "unknown_barcode"
    assert store.pending_count() == 0
    assert session.typed("٢").code == "picked"  # decimal digits of any script are a number
    assert [op.data["qty"] for op in store.pending()] == [2]


def _central_moves_the_bag_line(store: LocalStore, to: str, short: int = 0) -> None:
    """What the next sync brings: the short acknowledged and O-HOT's bags allocated at
    ``to`` (or, with ``short``, still short: nowhere else had them)."""
    ops = store.pending()
    store.mark_acked([{"op_id": op.op_id, "status": "applied"} for op in ops], ops[-1].seq)
    order = dict(store.order("O-HOT") or {})
    order["lines"] = [
        {**line, "short": short if line["sku"] == "SKU-BAG" else 0} for line in order["lines"]
    ]
    order["allocations"] = [
        {"sku": "SKU-PEN", "location": "B02-05-2", "qty": 1},
        *([] if short else [{"sku": "SKU-BAG", "location": to, "qty": 2}]),
    ]
    change = {"entity": "order", "id": "O-HOT", "data": order}
    store.apply_changes([change], cursor=store.cursor + 1, epoch=store.epoch)


def test_a_short_line_moved_by_central_becomes_a_follow_up_line(
    store: LocalStore, clock: Clock
) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    assert session.short("bin_empty").ok
    assert _pick_view(session).location == "B02-05-2"  # on with the route meanwhile
    _central_moves_the_bag_line(store, "C03-01-1")
    session.scan("LOC-B02-05-2")
    assert session.scan(GTIN_PEN).code == "picked"
    view = _pick_view(session)
    assert (view.step, view.location, view.sku, view.left) == (
        Step.LOCATION,
        "C03-01-1",
        "SKU-BAG",
        2,
    )
    session.scan("LOC-C03-01-1")
    session.scan(GTIN_BAG)
    assert session.enter_qty(2).code == "picked"
    assert session.scan("TOTE-0042").code == "task_done"
    picks = [
        (op.data["location"], op.data["qty"])
        for op in store.pending()
        if op.kind == "pick.confirmed"
    ]
    assert picks == [("B02-05-2", 1), ("C03-01-1", 2)]


def test_no_follow_up_while_still_short_nor_once_the_order_is_in_its_tote(
    store: LocalStore, clock: Clock
) -> None:
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    session.short("bin_empty")
    _central_moves_the_bag_line(store, "", short=2)  # no other bin had bags
    session.scan("LOC-B02-05-2")
    session.scan(GTIN_PEN)
    assert _pick_view(session).step is Step.TOTE
    assert session.scan("TOTE-0042").code == "task_done"
    # Bags turn up elsewhere later: the order left in its tote, the task stays done.
    _central_moves_the_bag_line(store, "C03-01-1")
    assert session.progress.finished(store.get("task", "HOT-O-HOT"))
    assert "HOT-O-HOT" not in [r.task_id for r in session.tasks.view().rows]


def test_a_follow_up_at_a_bin_the_task_already_visits_adds_what_it_now_holds(
    store: LocalStore, clock: Clock
) -> None:
    # The bags are split over two bins of the task: 1 at A01-01-1, 1 at C03-01-1.
    task = dict(store.get("task", "HOT-O-HOT") or {})
    task["lines"] = [
        {"order_id": "O-HOT", "sku": "SKU-BAG", "location": "A01-01-1", "qty": 1},
        {"order_id": "O-HOT", "sku": "SKU-PEN", "location": "B02-05-2", "qty": 1},
        {"order_id": "O-HOT", "sku": "SKU-BAG", "location": "C03-01-1", "qty": 1},
    ]
    change = {"entity": "task", "id": "HOT-O-HOT", "data": task}
    store.apply_changes([change], cursor=store.cursor + 1, epoch=store.epoch)
    session, _ = _session(store, clock)
    session.start("HOT-O-HOT")
    session.scan("LOC-A01-01-1")
    session.short("bin_empty")
    _central_moves_the_bag_line(store, "C03-01-1")  # both bags now reserved there
    lines = [(ls.location, ls.sku, ls.left) for ls in session.progress.lines(task) if ls.left]
    assert lines == [
        ("B02-05-2", "SKU-PEN", 1),
        ("C03-01-1", "SKU-BAG", 1),
        ("C03-01-1", "SKU-BAG", 1),
    ]
    for code, gtin in (("B02-05-2", GTIN_PEN), ("C03-01-1", GTIN_BAG), ("C03-01-1", GTIN_BAG)):
        if _pick_view(session).step is Step.LOCATION:
            session.scan(f"LOC-{code}")
        assert session.scan(gtin).code == "picked", code
    assert session.scan("TOTE-0042").code == "task_done"
    bags = [op.data["location"] for op in store.pending() if op.data.get("sku") == "SKU-BAG"]
    assert bags == ["C03-01-1", "C03-01-1"]
