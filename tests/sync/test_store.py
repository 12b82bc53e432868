"""LocalStore: migrations, atomic record, the view = base + pending ops, acks, reset."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime

import pytest

import sync.store as store_module
from sync import effects
from sync.errors import InvalidOp, SyncError
from sync.ids import uuid7, uuid7_time_ms
from sync.schema import migrations
from sync.store import LocalStore
from tests.sync.helpers import AT, change, order, pick, stock


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "dev.db", "hh-1", "DE-FRA") as s:
        yield s


def seed(store: LocalStore) -> None:
    store.apply_changes(
        [
            change("order", "O1", order()),
            change("stock", "DE-FRA/A01/SKU-1", stock()),
            change("sku", "SKU-1", {"sku": "SKU-1", "gtin": "04006381333931", "name": "Bag"}),
            change("location", "DE-FRA/A01", {"warehouse": "DE-FRA", "code": "A01"}),
        ],
        cursor=4,
        epoch="e1",
    )


def test_migrations_apply_once_and_reopen_is_idempotent(tmp_path):
    path = tmp_path / "dev.db"
    with LocalStore(path, "hh-1", "DE-FRA") as s:
        s.record("tote.assigned", {"tote": "TOTE-1", "order_id": "O1"}, AT)
    with LocalStore(path, "hh-1", "DE-FRA") as s:
        assert migrations.applied(s.db) == [name for name, _ in migrations.steps]
        assert migrations.apply(s.db) == []
        assert s.pending_count() == 1
        mode = s.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_store_refuses_another_device(tmp_path):
    with LocalStore(tmp_path / "dev.db", "hh-1", "DE-FRA"):
        pass
    with pytest.raises(SyncError, match="hh-1"):
        LocalStore(tmp_path / "dev.db", "hh-2", "DE-FRA")


def test_a_tote_set_aside_for_a_top_up_still_finds_its_order(store):
    # TOTE-8 held O0, shipped yesterday; O1 went to packing in TOTE-7, short, and its
    # top-up was picked into TOTE-8.
    shipped = order("O0", status="shipped", tote="TOTE-8", totes=["TOTE-8"])
    store.apply_changes([change("order", "O0", shipped), change("order", "O1", order())], 2, "e1")
    store.record("pick.confirmed", pick(qty=1, tote="TOTE-7"), AT)
    store.record("tote.assigned", {"tote": "TOTE-8", "order_id": "O1"}, AT)
    row = store.order("O1")
    assert (row["tote"], row["totes"]) == ("TOTE-8", ["TOTE-7", "TOTE-8"])
    assert store.order_by_tote("TOTE-7") is None  # not its current tote any more
    assert store.order_in_tote("TOTE-7")["id"] == "O1"
    assert store.order_in_tote("TOTE-8")["id"] == "O1"  # the open order wins
    assert store.order_in_tote("TOTE-9") is None
    # Once O1 is packed, its totes are free: TOTE-7 holds nothing, TOTE-8 says packed.
    store.apply_changes([change("order", "O1", {**row, "status": "packed"})], 3, "e1")
    assert store.order_in_tote("TOTE-7") is None
    assert (store.order_in_tote("TOTE-8") or {}).get("status") == "packed"


def test_order_statuses_are_read_in_one_go_with_own_picks_included(store):
    many = [change("order", f"O{i:04d}", order(f"O{i:04d}")) for i in range(600)]
    shipped = change("order", "OS", order("OS", status="shipped"))
    store.apply_changes([*many, shipped], 601, "e1")
    store.record("pick.confirmed", pick(order_id="O0001", qty=1), AT)  # 1 of 2: picking
    wanted = ["O0001", "OS", "NOPE", *(f"O{i:04d}" for i in range(600))]
    statuses = store.order_statuses(wanted)
    assert len(statuses) == 601 and "NOPE" not in statuses  # past the 500-id chunk
    assert (statuses["O0001"], statuses["OS"], statuses["O0599"]) == (
        "picking",
        "shipped",
        "allocated",
    )


def test_look_ups_by_tote_gtin_and_status_search_the_views_indexes(store):
    seed(store)
    reader = store._reader()
    statements: list[str] = []
    reader.set_trace_callback(statements.append)
    try:
        store.order_by_tote("TOTE-7")
        store.sku_by_gtin("04006381333931")
        store.order_in_tote("TOTE-7")
    finally:
        reader.set_trace_callback(None)
    plans = [
        " ".join(str(r[3]) for r in reader.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in statements
        if sql.lstrip().upper().startswith("SELECT")
    ]
    assert len(plans) >= 3
    assert all("USING INDEX view_lookup" in p or "USING INDEX view_status" in p for p in plans)


def test_pending_pick_is_visible_over_pulled_base(store):
    seed(store)
    op = store.record("pick.confirmed", pick(qty=1, tote="TOTE-7"), AT)
    assert op.seq == 1 and uuid7_time_ms(op.op_id) > 0
    assert store.order("O1")["status"] == "picking"
    assert store.order("O1")["lines"][0]["picked"] == 1
    assert store.order_by_tote("TOTE-7")["id"] == "O1"
    [row] = store.stock("SKU-1")
    assert (row["on_hand"], row["reserved"], row["available"]) == (9, 1, 8)
    assert store.base("stock", "DE-FRA/A01/SKU-1")["on_hand"] == 10
    # A newer base from the server keeps the pending pick on top.
    store.apply_changes([change("stock", "DE-FRA/A01/SKU-1", stock(on_hand=20))], 5, "e1")
    assert store.stock("SKU-1")[0]["on_hand"] == 19
    store.record("pick.confirmed", pick(qty=1), AT)
    assert store.order("O1")["status"] == "picked"


def test_no_double_count_after_ack_and_pull(store):
    seed(store)
    op = store.record("pick.confirmed", pick(qty=3), AT)
    assert store.mark_acked([{"op_id": op.op_id, "status": "applied"}], op.seq) == 1
    # Acked but not yet pulled: the user still sees the pick.
    assert store.stock("SKU-1")[0]["on_hand"] == 7
    # The server's version now contains the pick; the next pull must not subtract again.
    store.apply_changes(
        [change("stock", "DE-FRA/A01/SKU-1", stock(on_hand=7, reserved=0))], 6, "e1"
    )
    assert store.stock("SKU-1")[0]["on_hand"] == 7
    assert store.pending_count() == 0
    [hist] = store.outbox_history()
    assert (hist.state, hist.result) == ("acked", "applied")


def test_recent_ops_are_the_last_of_a_kind_oldest_first_without_rejected_ones(store):
    diverts = [
        store.record("tote.diverted", {"tote": f"TOTE-{i}", "lane": 2, "conveyor": "C1"}, AT)
        for i in range(4)
    ]
    store.record("tote.assigned", {"tote": "TOTE-9", "order_id": "O1"}, AT)
    store.mark_acked([{"op_id": diverts[3].op_id, "status": "rejected", "reason": "x"}], 5)
    recent = store.recent_ops("tote.diverted", 2)
    assert [op.data["tote"] for op in recent] == ["TOTE-1", "TOTE-2"]
    assert store.recent_ops("pick.short", 5) == []


def test_rejected_op_leaves_the_view_at_once(store):
    seed(store)
    op = store.record(
        "stock.adjusted",
        {
            "warehouse": "DE-FRA",
            "location": "A01",
            "sku": "SKU-1",
            "delta": -4,
            "reason": "damaged",
        },
        AT,
    )
    assert store.stock("SKU-1")[0]["on_hand"] == 6
    store.mark_acked([{"op_id": op.op_id, "status": "rejected", "reason": "nope"}], op.seq)
    assert store.stock("SKU-1")[0]["on_hand"] == 10
    assert store.outbox_history()[0].reason == "nope"


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("pick.teleported", {}, "kind"),
        ("pick.confirmed", {**pick(), "qty": 0}, "qty"),
        ("pick.confirmed", {k: v for k, v in pick().items() if k != "operator"}, "operator"),
        ("exception.raised", {"order_id": "O1", "kind": "gremlins", "detail": ""}, "kind"),
        (
            "stock.moved",
            {"warehouse": "W", "sku": "S", "from_location": "A", "to_location": "A", "qty": 1},
            "to_location",
        ),
        ("tote.assigned", {"tote": "T", "order_id": "O1", "elsewhere": "HH-2"}, "elsewhere"),
        (
            "tote.assigned",
            {
                "tote": "T",
                "order_id": "O1",
                "elsewhere": [{"device": "HH-2", "sku": "SKU-1", "location": "A01", "qty": -1}],
            },
            "elsewhere[0].qty",
        ),
    ],
)
def test_invalid_op_changes_nothing(store, kind, data, field):
    seed(store)
    before = (store.order("O1"), store.stock("SKU-1"), store.outbox_history())
    with pytest.raises(InvalidOp) as info:
        store.record(kind, data, AT)
    assert info.value.field == field
    assert (store.order("O1"), store.stock("SKU-1"), store.outbox_history()) == before


def test_naive_time_is_refused(store):
    with pytest.raises(InvalidOp, match="at"):
        store.record("tote.assigned", {"tote": "T", "order_id": "O1"}, datetime(2026, 1, 1))


def test_exception_mid_record_leaves_nothing(store, monkeypatch):
    seed(store)
    real_apply = effects.apply
    calls = []

    def failing_apply(kind, data, key, row):
        calls.append(key)
        if key[0] == "stock":  # the order row was already written in this transaction
            raise RuntimeError("power cut")
        return real_apply(kind, data, key, row)

    monkeypatch.setattr(effects, "apply", failing_apply)
    with pytest.raises(RuntimeError):
        store.record("pick.confirmed", pick(), AT)
    assert [k[0] for k in calls] == ["order", "stock"]
    assert store.order("O1")["lines"][0]["picked"] == 0
    assert store.pending_count() == 0 and store.outbox_history() == []


def test_same_op_id_records_once(store):
    seed(store)
    first = store.record("pick.confirmed", pick(), AT, op_id="op-1")
    again = store.record("pick.confirmed", pick(), AT, op_id="op-1")
    assert again.seq == first.seq and store.pending_count() == 1
    assert store.stock("SKU-1")[0]["on_hand"] == 9
    with pytest.raises(InvalidOp, match="op_id"):
        store.record("tote.assigned", {"tote": "T", "order_id": "O1"}, AT, op_id="op-1")


def test_reset_replica_keeps_outbox_and_own_work(store):
    seed(store)
    store.record(
        "stock.adjusted",
        {"warehouse": "DE-FRA", "location": "B02", "sku": "SKU-1", "delta": 5, "reason": "found"},
        AT,
    )
    store.reset_replica()
    assert store.cursor == 0 and store.epoch is None
    assert store.order("O1") is None
    assert store.get("stock", "DE-FRA/B02/SKU-1")["on_hand"] == 5
    store.apply_changes([change("stock", "DE-FRA/B02/SKU-1", stock("B02", 1, 0))], 2, "e2")
    assert store.get("stock", "DE-FRA/B02/SKU-1")["on_hand"] == 6
    assert (store.cursor, store.epoch, store.pending_count()) == (2, "e2", 1)


def test_lookups(store):
    seed(store)
    assert store.sku_by_gtin("4006381333931")["sku"] == "SKU-1"
    assert store.sku_by_gtin("0000") is None
    assert store.location("A01")["code"] == "A01"
    store.apply_changes(
        [change("order", "O2", order("O2", priority={"level": "P1", "score": 1}))], 7, "e1"
    )
    assert [o["id"] for o in store.orders()] == ["O2", "O1"]
    assert [o["id"] for o in store.orders(status=["allocated"], warehouse="DE-FRA")] == ["O2", "O1"]
    assert store.orders(status="shipped") == []
    store.apply_changes([change("order", "O2", None)], 8, "e1")
    assert store.order("O2") is None


def test_on_change_reports_committed_rows(store):
    seen = []
    unsubscribe = store.on_change(lambda entity, ids: seen.append((entity, ids)))
    seed(store)
    store.record("tote.assigned", {"tote": "T9", "order_id": "O1"}, AT)
    unsubscribe()
    store.record("tote.assigned", {"tote": "T8", "order_id": "O1"}, AT)
    assert ("order", ["O1"]) in seen and seen[-1][0] == "outbox"
    assert sum(1 for entity, _ in seen if entity == "outbox") == 1  # none after unsubscribe


def test_closed_store_raises(tmp_path):
    s = LocalStore(tmp_path / "x.db", "d", "S")
    s.close()
    with pytest.raises(SyncError):
        s.order("O1")


def test_uuid7_layout_and_order():
    future_ms = int(time.time() * 1000) + 10**9  # later than any id made so far
    ids = [uuid7(future_ms) for _ in range(50)]
    assert all(u.version == 7 and u.variant == "specified in RFC 4122" for u in ids)
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert uuid7_time_ms(ids[0]) == future_ms


def test_readers_see_committed_writes_from_other_threads(store):
    import threading

    seed(store)
    result = {}

    def read():
        result["order"] = store.order("O1")

    store.record("tote.assigned", {"tote": "T1", "order_id": "O1"}, AT)
    t = threading.Thread(target=read)
    t.start()
    t.join(5)
    assert result["order"]["tote"] == "T1"
    assert isinstance(store._reader(), sqlite3.Connection)


def test_record_many_is_all_or_nothing(store):
    seed(store)
    packed = {
        "order_id": "O1",
        "carton": "S",
        "weight_g": 500,
        "carrier_service": "dhl",
        "tracking": "T1",
    }
    with pytest.raises(InvalidOp, match="tracking"):
        store.record_many(
            [
                ("pack.verified", {"order_id": "O1", "sku": "SKU-1", "qty": 2}),
                ("order.packed", {**packed, "tracking": ""}),
            ],
            AT,
        )
    assert store.pending_count() == 0 and store.order("O1")["lines"][0]["packed"] == 0
    ops = store.record_many(
        [("pack.verified", {"order_id": "O1", "sku": "SKU-1", "qty": 2}), ("order.packed", packed)],
        AT,
    )
    assert [op.seq for op in ops] == [1, 2]
    order = store.order("O1")
    assert (order["status"], order["tracking"], order["lines"][0]["packed"]) == ("packed", "T1", 2)


@pytest.mark.parametrize("encoder", ["pydantic-core", "standard library"])
def test_rows_read_back_the_same_with_either_json_encoder(tmp_path, monkeypatch, encoder):
    # A handheld build without pydantic writes its rows with the standard library.
    if encoder == "standard library":
        monkeypatch.setattr(store_module, "_fast_json", None)
    written: list[str] = []
    real = store_module._dumps

    def spy(value):
        written.append(real(value))
        return written[-1]

    monkeypatch.setattr(store_module, "_dumps", spy)
    bag = {
        "sku": "SKU-1",
        "gtin": "04006381333931",
        "name": "Tasche für Übergrößen 1e16",
        "n": 1e16,
    }
    with LocalStore(tmp_path / "dev.db", "hh-1", "DE-FRA") as s:
        s.apply_changes(
            [change("sku", "SKU-1", bag), change("stock", "DE-FRA/A01/SKU-1", stock())], 2, "e1"
        )
        s.record("pick.confirmed", pick(qty=2), AT)  # the view row is written again
        assert s.get("sku", "SKU-1") == bag
        assert s.stock("SKU-1")[0]["on_hand"] == stock()["on_hand"] - 2
    assert written and all("," in text and ", " not in text for text in written)
