"""Bin counts on the stock screen: scan an item, scan a bin, key the units; the count
goes to central as ``stock.counted`` against the ledger position the device had seen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.barcodes import decode
from handheld_app.presenters.stock import MAX_COUNT, StockPresenter
from handheld_app.session import PickerSession
from sync.client import SyncClient
from sync.store import LocalStore
from tests.handheld_app.floor import GTIN_PEN, Clock, gs1
from tests.sync.central_data import INITIAL_QTY, SITE, admin, masterdata, on_hand, order_body

LOC = "LOC-"


def test_count_records_stock_counted_against_the_seen_ledger_position(
    store: LocalStore, clock: Clock
) -> None:
    stock = StockPresenter(store, clock, operator="77")
    assert stock.lookup(decode(gs1(GTIN_PEN))).ok
    chosen = stock.lookup(decode(f"{LOC}C03-01-1"))
    assert (chosen.ok, chosen.code, stock.current.counting) == (True, "count", "C03-01-1")
    assert "key the units" in stock.current.message
    before = store.pending_count()
    done = stock.count(4)
    assert (done.ok, done.code) == (True, "counted")
    assert done.message == "Counted 4 x SKU-PEN in C03-01-1 (the cache had 7)"
    op = store.pending()[-1]
    assert store.pending_count() == before + 1
    assert (op.kind, op.data) == (
        "stock.counted",
        {
            "warehouse": "DE-FRA",
            "location": "C03-01-1",
            "sku": "SKU-PEN",
            "counted": 4,
            "seen_cursor": 1,  # the bin's ledger position in the pulled replica
            "operator": "77",
        },
    )
    # The screen shows the count at once (own unsynced work) and leaves counting.
    view = stock.current
    assert [(line.location, line.on_hand) for line in view.lines] == [
        ("B02-05-2", 3),
        ("C03-01-1", 4),
    ]
    assert view.counting == "" and view.ok
    assert stock.count(4).code == "no_bin"  # the next count needs its bin scanned again


def test_count_refusals_change_nothing(store: LocalStore, clock: Clock) -> None:
    stock = StockPresenter(store, clock)
    before = store.pending_count()
    assert stock.count(3).code == "no_bin"
    assert stock.lookup(decode(f"{LOC}C03-01-1")).code == "not_an_item"  # no item shown
    assert stock.lookup(decode(gs1(GTIN_PEN))).ok
    unknown = stock.lookup(decode(f"{LOC}Z99-99-9"))
    assert (unknown.code, unknown.message) == (
        "unknown_location",
        "Bin Z99-99-9 is not a bin of DE-FRA",
    )
    assert stock.current.sku == "SKU-PEN" and not stock.current.ok  # the item stays shown
    assert stock.count(1).code == "no_bin"
    assert stock.lookup(decode(f"{LOC}B02-05-2")).ok
    for bad in (-1, MAX_COUNT + 1, True):
        refused = stock.count(bad)
        assert refused.code == "bad_qty", bad
        assert stock.current.counting == "B02-05-2"  # still counting that bin
    assert store.pending_count() == before
    # An empty bin is a count too.
    assert stock.count(0).ok
    assert store.get("stock", "DE-FRA/B02-05-2/SKU-PEN")["on_hand"] == 0


def test_a_bin_with_own_unsynced_moves_is_counted_after_the_next_sync(
    store: LocalStore, clock: Clock
) -> None:
    at = clock()
    pick = {
        "order_id": "O-HOT",
        "sku": "SKU-PEN",
        "location": "B02-05-2",
        "qty": 1,
        "operator": "77",
    }
    store.record("pick.confirmed", pick, at)
    session = PickerSession(store, "77", clock)
    assert session.scan(gs1(GTIN_PEN)).code == "stock"
    assert session.scan(f"{LOC}B02-05-2").code == "count"
    waiting = session.enter_qty(2)
    assert (waiting.ok, waiting.code) == (False, "not_synced")
    assert "B02-05-2 has moves not synced yet" in waiting.message
    assert [op.kind for op in store.pending()] == ["pick.confirmed"]
    # Another bin of the same item has no unsynced moves: it can be counted now.
    assert session.scan(f"{LOC}C03-01-1").code == "count"
    assert session.enter_qty(7).ok
    assert store.unsettled("stock", "DE-FRA/C03-01-1/SKU-PEN") == 1
    assert store.unsettled("stock", "DE-FRA/A01-01-1/SKU-BAG") == 0


@pytest.fixture
def central_md() -> dict:
    md = masterdata()
    md["skus"][0]["gtin"] = "4006381333931"  # SKU-1 with a valid check digit to scan
    return md


def test_count_reaches_central_and_later_moves_are_kept(central_server, central_md, tmp_path: Path):
    central_server.import_masterdata(central_md)
    with admin(central_server) as http:
        http.post("/v1/orders", json=order_body("O-1", qty=2)).raise_for_status()
        with (
            LocalStore(tmp_path / "hh-1.db", "hh-1", SITE) as store,
            SyncClient(store, central_server.url, central_server.device_token("hh-1", SITE)) as c,
            LocalStore(tmp_path / "hh-2.db", "hh-2", SITE) as other,
            SyncClient(other, central_server.url, central_server.device_token("hh-2", SITE)) as c2,
        ):
            assert c.run_once().ok
            now = datetime.now(UTC)
            session = PickerSession(store, "op1", lambda: now)
            pick = {"order_id": "O-1", "sku": "SKU-1", "location": "A01", "qty": 1}
            store.record("pick.confirmed", {**pick, "operator": "op1"}, now)
            assert session.scan(gs1("4006381333931")).code == "stock"
            assert session.scan(f"{LOC}A01").code == "count"
            assert session.enter_qty(40).code == "not_synced"
            first = c.run_once()  # the pick goes up, the bin comes back with it
            assert first.ok and first.acked == 1, first.error
            assert store.unsettled("stock", f"{SITE}/A01/SKU-1") == 0
            assert session.scan(f"{LOC}A01").code == "count"
            # The picker finds 40 where the cache says INITIAL_QTY - 1 ...
            counted = session.enter_qty(40)
            assert counted.ok, counted.message
            assert f"(the cache had {INITIAL_QTY - 1})" in counted.message
            # ... while another device books a receipt into that bin before the count
            # reaches central: a movement after the position the counter saw is kept.
            assert c2.run_once().ok
            other.record(
                "stock.adjusted",
                {
                    "warehouse": SITE,
                    "location": "A01",
                    "sku": "SKU-1",
                    "delta": 5,
                    "reason": "found",
                },
                now,
            )
            assert c2.run_once().ok
            assert on_hand(http)[("A01", "SKU-1")] == INITIAL_QTY - 1 + 5
            second = c.run_once()
            assert second.ok and second.acked == 1 and second.rejected == 0, second.error
            assert on_hand(http)[("A01", "SKU-1")] == 40 + 5
            assert store.get("stock", f"{SITE}/A01/SKU-1")["on_hand"] == 40 + 5
            assert [op.kind for op in store.outbox_history()] == [
                "pick.confirmed",
                "stock.counted",
            ]


def test_typed_units_count_the_chosen_bin_and_an_item_number_is_looked_up(
    store: LocalStore, clock: Clock
) -> None:
    session = PickerSession(store, "77", clock)
    session.show_stock()
    assert session.typed("4").code != "counted"  # no bin chosen: not a count
    assert session.typed(GTIN_PEN).ok and session.stock.current.sku == "SKU-PEN"
    assert session.scan(f"{LOC}C03-01-1").code == "count"
    # An item number typed while counting is a new lookup, not 5,901,234,123,457 units.
    other = session.typed("4006381333931")
    assert session.stock.current.sku == "SKU-BAG" and other.code != "counted"
    assert store.pending_count() == 0
    assert session.typed(GTIN_PEN).ok
    session.scan(f"{LOC}C03-01-1")
    assert session.typed("00012").code == "counted"
    assert [op.data["counted"] for op in store.pending()] == [12]
