"""Bin-to-bin moves, receipts and write-offs on the stock screen: scan an item, its bin,
then Move, the bin to put it in and the units (``stock.moved``, with the lot the units
carry), Receive and the units put in (``stock.adjusted``, reason ``received``), or
Damaged and the units taken out (``stock.adjusted``, reason ``damaged``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from handheld_app.session import PickerSession
from sync.client import SyncClient
from sync.store import LocalStore
from tests.handheld_app.floor import GTIN_BAG, GTIN_CUP, GTIN_PEN, Clock, gs1
from tests.sync.central_data import SITE, admin, masterdata, order_body, stock_rows

LOC = "LOC-"


def _stock(store: LocalStore, location: str, sku: str) -> tuple[int, list[tuple[str, int]]]:
    row = store.get("stock", f"{SITE}/{location}/{sku}") or {}
    lots = [(lot["lot"], lot["qty"]) for lot in row.get("lots") or [] if lot.get("lot")]
    return int(row.get("on_hand") or 0), lots


def test_move_records_stock_moved_with_the_bins_lot(store: LocalStore, clock: Clock) -> None:
    session = PickerSession(store, "77", clock)
    session.show_stock()
    assert session.scan(GTIN_PEN).code == "stock"  # a plain GTIN: no lot on the label
    assert session.scan(f"{LOC}C03-01-1").code == "count"
    started = session.start_move()
    assert (started.code, session.stock.current.moving) == ("move", True)
    # Refusals keep the move under way and record nothing.
    assert session.enter_qty(2).code == "no_target"
    assert session.scan(f"{LOC}C03-01-1").code == "same_bin"
    assert session.scan(f"{LOC}Z99-99-9").code == "unknown_location"
    assert session.scan(f"{LOC}A01-02-1").code == "move_to"
    for bad, code in ((8, "too_many"), (0, "bad_qty"), (True, "bad_qty")):
        assert session.enter_qty(bad).code == code, bad
    assert store.pending_count() == 0
    view = session.stock.current
    assert (view.counting, view.target, view.moving) == ("C03-01-1", "A01-02-1", True)

    done = session.enter_qty(5)
    assert (done.ok, done.code) == (True, "moved"), done.message
    assert done.message == "Moved 5 x SKU-PEN from C03-01-1 to A01-02-1"
    (op,) = store.pending()
    assert (op.kind, op.data) == (
        "stock.moved",
        {
            "warehouse": SITE,
            "sku": "SKU-PEN",
            "from_location": "C03-01-1",
            "to_location": "A01-02-1",
            "qty": 5,
            "operator": "77",
            "lot": "L1",  # the bin's only lot in the cache
            "expiry": "2027-03-31",
        },
    )
    # Both bins show the move at once, lots included; the screen leaves the move.
    assert _stock(store, "C03-01-1", "SKU-PEN") == (2, [("L1", 2)])
    assert _stock(store, "A01-02-1", "SKU-PEN") == (5, [("L1", 5)])
    view = session.stock.current
    assert (view.counting, view.moving, view.target) == ("", False, "")
    assert view.on_hand_in("A01-02-1") == 5


def test_reserved_units_stay_and_the_lot_moved_is_one_the_bin_holds(
    store: LocalStore, clock: Clock
) -> None:
    session = PickerSession(store, "77", clock)
    session.show_stock()
    # B02-05-2 holds 3 pen needles of lot L1, 1 of them reserved for the hot order.
    assert session.scan(gs1(GTIN_PEN, lot="L1")).ok
    session.scan(f"{LOC}B02-05-2")
    assert session.start_move().ok
    session.scan(f"{LOC}C03-01-1")
    too_many = session.enter_qty(3)
    assert too_many.code == "too_many"
    assert too_many.message == "Only 2 SKU-PEN free in B02-05-2 (1 reserved for orders)"
    assert session.typed("1").code == "moved"  # the units keyed in
    assert store.pending()[-1].data["lot"] == "L1"
    # A label naming a lot the bin does not hold is refused: the ledger's lots stay true.
    assert session.scan(gs1(GTIN_PEN, lot="L2", expiry="270630")).ok
    session.scan(f"{LOC}B02-05-2")
    session.start_move()
    session.scan(f"{LOC}C03-01-1")
    wrong = session.enter_qty(1)
    assert (wrong.code, wrong.message) == ("wrong_lot", "B02-05-2 holds no lot L2 of SKU-PEN (L1)")
    assert store.pending_count() == 1
    # A bin holding two lots (as pulled from central): the label says which one moves,
    # at most what the bin holds of it; a plain GTIN does not say.
    two_lots = {
        "warehouse": SITE,
        "location": "A01-02-1",
        "sku": "SKU-PEN",
        "on_hand": 6,
        "reserved": 0,
        "available": 6,
        "lots": [
            {"lot": "L1", "expiry": "2027-03-31", "qty": 4},
            {"lot": "L2", "expiry": "2027-06-30", "qty": 2},
        ],
        "ledger_seq": 9,
    }
    change = {"entity": "stock", "id": f"{SITE}/A01-02-1/SKU-PEN", "data": two_lots}
    store.apply_changes([change], cursor=store.cursor + 1, epoch=store.epoch)
    assert session.scan(gs1(GTIN_PEN, lot="L2", expiry="270630")).ok
    session.scan(f"{LOC}A01-02-1")
    session.start_move()
    session.scan(f"{LOC}C03-01-1")
    assert session.enter_qty(3).message == "Only 2 of lot L2 in A01-02-1"
    assert session.enter_qty(1).code == "moved"
    moved = store.pending()[-1].data
    assert (moved["lot"], moved["expiry"], moved["qty"]) == ("L2", "2027-06-30", 1)
    assert _stock(store, "A01-02-1", "SKU-PEN") == (5, [("L1", 4), ("L2", 1)])
    assert session.scan(GTIN_PEN).ok
    session.scan(f"{LOC}A01-02-1")
    session.start_move()
    session.scan(f"{LOC}A01-01-1")
    assert session.enter_qty(1).code == "which_lot"
    assert store.pending_count() == 2
    # A bin without free units of the item has nothing to move.
    assert session.scan(GTIN_BAG).ok
    session.scan(f"{LOC}A01-02-1")  # no cooler bags there
    assert session.start_move().code == "nothing_free"
    assert not session.stock.current.moving
    assert store.pending_count() == 2


def test_receive_books_the_units_put_into_the_chosen_bin_with_the_labels_lot(
    store: LocalStore, clock: Clock
) -> None:
    session = PickerSession(store, "77", clock)
    session.show_stock()
    assert session.start_receive().code == "no_bin"
    assert session.scan(gs1(GTIN_PEN, lot="L9", expiry="280131")).ok
    session.scan(f"{LOC}C03-01-1")
    started = session.start_receive()
    assert (started.code, started.message) == (
        "receive",
        "Receive SKU-PEN lot L9 into C03-01-1: set the units",
    )
    for bad in (0, -3, True):
        assert session.enter_qty(bad).code == "bad_qty", bad
    assert store.pending_count() == 0
    done = session.typed("12")
    assert (done.code, done.message) == ("received", "Received 12 x SKU-PEN into C03-01-1")
    (op,) = store.pending()
    assert (op.kind, op.data) == (
        "stock.adjusted",
        {
            "warehouse": SITE,
            "location": "C03-01-1",
            "sku": "SKU-PEN",
            "delta": 12,
            "reason": "received",
            "operator": "77",
            "lot": "L9",
            "expiry": "2028-01-31",
        },
    )
    assert _stock(store, "C03-01-1", "SKU-PEN") == (19, [("L1", 7), ("L9", 12)])
    assert not session.stock.current.receiving and session.stock.current.counting == ""


def test_damaged_units_are_written_off_in_their_lot(store: LocalStore, clock: Clock) -> None:
    session = PickerSession(store, "77", clock)
    session.show_stock()
    assert session.start_damaged().code == "no_bin"
    assert session.scan(GTIN_BAG).ok
    assert session.start_damaged().code == "no_bin"
    # A01-01-1 holds 5 cooler bags of lot L1, 2 of them reserved for the hot order:
    # damaged units are gone whether reserved or not (central re-allocates the order).
    session.scan(f"{LOC}A01-01-1")
    started = session.start_damaged()
    assert (started.code, started.message) == (
        "damaged",
        "Damaged SKU-BAG in A01-01-1: set the units to write off (up to 5)",
    )
    assert session.stock.current.mode == "damaged"
    for bad, code in ((6, "too_many"), (0, "bad_qty"), (-1, "bad_qty"), (True, "bad_qty")):
        assert session.enter_qty(bad).code == code, bad
    assert session.stock.current.mode == "damaged"  # a refusal keeps the write-off open
    assert store.pending_count() == 0
    done = session.typed("4")
    assert (done.code, done.message) == ("written_off", "Wrote off 4 damaged SKU-BAG in A01-01-1")
    (op,) = store.pending()
    assert (op.kind, op.data) == (
        "stock.adjusted",
        {
            "warehouse": SITE,
            "location": "A01-01-1",
            "sku": "SKU-BAG",
            "delta": -4,
            "reason": "damaged",
            "operator": "77",
            "lot": "L1",
            "expiry": "2027-03-31",
        },
    )
    assert _stock(store, "A01-01-1", "SKU-BAG") == (1, [("L1", 1)])
    assert session.stock.current.mode == "count" and session.stock.current.counting == ""
    # A label naming a lot the bin does not hold is refused; an empty bin has nothing.
    assert session.scan(gs1(GTIN_BAG, lot="L5", expiry="270630")).ok
    session.scan(f"{LOC}A01-01-1")
    session.start_damaged()
    assert session.enter_qty(1).code == "wrong_lot"
    session.scan(f"{LOC}C03-01-1")  # no cooler bags there
    assert session.start_damaged().code == "nothing_there"
    assert store.pending_count() == 1
    # A bin holding 4 units without a lot beside 2 of lot L1: a plain label writes off
    # units without a lot; more than those needs the label naming the lot.
    mixed = {
        "warehouse": SITE,
        "location": "B02-05-2",
        "sku": "SKU-BAG",
        "on_hand": 6,
        "reserved": 0,
        "available": 6,
        "lots": [{"lot": "L1", "expiry": "2027-03-31", "qty": 2}, {"lot": "L0", "qty": 0}],
        "ledger_seq": 9,
    }
    change = {"entity": "stock", "id": f"{SITE}/B02-05-2/SKU-BAG", "data": mixed}
    store.apply_changes([change], cursor=store.cursor + 1, epoch=store.epoch)
    assert session.scan(GTIN_BAG).ok
    session.scan(f"{LOC}B02-05-2")
    session.start_damaged()
    assert session.enter_qty(5).code == "which_lot"
    assert session.enter_qty(3).code == "written_off"
    assert "lot" not in store.pending()[-1].data
    assert _stock(store, "B02-05-2", "SKU-BAG") == (3, [("L1", 2), ("L0", 0)])


def test_a_move_reaches_central_with_its_lot(central_server, tmp_path: Path) -> None:
    md = masterdata()
    md["skus"].append({**md["skus"][0], "sku": "SKU-LOT", "gtin": GTIN_CUP, "name": "Lot item"})
    md["stock"] = [
        {
            "warehouse": SITE,
            "location": "A02",
            "sku": "SKU-LOT",
            "qty": 20,
            "lot": "L7",
            "expiry": "2027-05-31",
        }
    ]
    central_server.import_masterdata(md)
    with (
        admin(central_server) as http,
        LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
        SyncClient(store, central_server.url, central_server.device_token("hh-1", SITE)) as sync,
    ):
        assert sync.run_once().ok
        now = datetime.now(UTC)
        session = PickerSession(store, "op1", lambda: now)
        assert session.scan(GTIN_CUP).code == "stock"
        session.scan(f"{LOC}A02")
        session.start_move()
        session.scan(f"{LOC}A03")
        assert session.enter_qty(4).code == "moved"
        result = sync.run_once()
        assert result.ok and result.acked == 1 and result.rejected == 0, result.error
        bins = {
            row["location"]: (row["on_hand"], [(lot["lot"], lot["qty"]) for lot in row["lots"]])
            for row in stock_rows(http, "SKU-LOT")
        }
        assert bins == {"A02": (16, [("L7", 16)]), "A03": (4, [("L7", 4)])}
        # The device's cache, pulled back, agrees with central.
        assert _stock(store, "A02", "SKU-LOT") == (16, [("L7", 16)])
        assert _stock(store, "A03", "SKU-LOT") == (4, [("L7", 4)])
        assert store.pending_count() == 0


def test_a_receipt_reaches_central_in_its_lot_and_serves_a_waiting_order(
    central_server, tmp_path: Path
) -> None:
    md = masterdata()
    md["skus"].append({**md["skus"][0], "sku": "SKU-NEW", "gtin": GTIN_CUP, "name": "New item"})
    central_server.import_masterdata(md)
    with (
        admin(central_server) as http,
        LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
        SyncClient(store, central_server.url, central_server.device_token("hh-1", SITE)) as sync,
    ):
        body = order_body("O-NEW", qty=3, sku="SKU-NEW")
        http.post("/v1/orders", json=body).raise_for_status()
        assert http.get("/v1/orders/O-NEW").json()["status"] == "received"  # none in stock
        assert sync.run_once().ok
        now = datetime.now(UTC)
        session = PickerSession(store, "op1", lambda: now)
        assert session.scan(gs1(GTIN_CUP, lot="L3", expiry="270930")).code == "stock"
        session.scan(f"{LOC}A02")
        session.start_receive()
        assert session.enter_qty(10).code == "received"
        result = sync.run_once()
        assert result.ok and result.acked == 1 and result.rejected == 0, result.error
        (row,) = stock_rows(http, "SKU-NEW")
        assert (row["location"], row["on_hand"], row["lots"]) == (
            "A02",
            10,
            [{"lot": "L3", "expiry": "2027-09-30", "qty": 10}],
        )
        order = http.get("/v1/orders/O-NEW").json()
        assert order["status"] == "allocated"
        assert [(a["location"], a["qty"], a["lot"]) for a in order["allocations"]] == [
            ("A02", 3, "L3")
        ]


def test_a_write_off_reaches_central_in_its_lot(central_server, tmp_path: Path) -> None:
    md = masterdata()
    md["skus"].append({**md["skus"][0], "sku": "SKU-LOT", "gtin": GTIN_CUP, "name": "Lot item"})
    md["stock"] = [
        {"warehouse": SITE, "location": "A02", "sku": "SKU-LOT", "qty": 5, "lot": "L3"},
        {"warehouse": SITE, "location": "A02", "sku": "SKU-LOT", "qty": 7, "lot": "L4"},
    ]
    central_server.import_masterdata(md)
    with (
        admin(central_server) as http,
        LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
        SyncClient(store, central_server.url, central_server.device_token("hh-1", SITE)) as sync,
    ):
        assert sync.run_once().ok
        now = datetime.now(UTC)
        session = PickerSession(store, "op1", lambda: now)
        assert session.scan(gs1(GTIN_CUP, lot="L4", expiry="")).code == "stock"
        session.scan(f"{LOC}A02")
        session.start_damaged()
        assert session.enter_qty(3).code == "written_off"
        result = sync.run_once()
        assert result.ok and result.acked == 1 and result.rejected == 0, result.error
        (row,) = stock_rows(http, "SKU-LOT")
        assert row["on_hand"] == 9
        assert sorted((lot["lot"], lot["qty"]) for lot in row["lots"]) == [("L3", 5), ("L4", 4)]
        assert _stock(store, "A02", "SKU-LOT") == (9, [("L3", 5), ("L4", 4)])
