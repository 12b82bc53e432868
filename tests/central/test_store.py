"""The SQLite store: migrations, the op_id constraint, the compacted feed, periodic tick."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.clock import ManualClock
from central.feedback.notify.outbox import feedback_tx
from central.settings import ServerSettings
from central.store import open_store
from central.store.base import BinRef, DuplicateOps, MovementRow, OpRecord, Store
from central.store.migrations import MIGRATIONS
from tests.central.conftest import NOW, order_body
from tests.support.central import TEST_MASTERDATA
from tests.support.fixtures_central import start_central_app, stop_central_app
from tests.support.waiting import wait_until


@contextmanager
def _store_before(version: int, path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store file made by a release without migration ``version`` and later ones;
    closed, and the full migration list back in place, when the block ends."""
    from central.store import migrations

    monkeypatch.setattr(
        migrations, "MIGRATIONS", tuple(m for m in MIGRATIONS if m.version < version)
    )
    old = open_store(f"sqlite:///{path}")
    try:
        yield old
    finally:
        old.close()
        monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    with store.reader() as tx:
        epoch = tx.get_meta("epoch")
    store.close()
    store = open_store(str(tmp_path / "c.db"))  # a bare path works too
    with store.reader() as tx:
        assert tx.get_meta("epoch") == epoch
    store.close()
    with sqlite3.connect(tmp_path / "c.db") as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert versions == [m.version for m in MIGRATIONS]
    assert mode == "wal"


def test_a_database_from_before_the_lean_ledger_keeps_its_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    rows = [
        MovementRow(f"m-{i}", "W", "L", "S", delta, "t", NOW.isoformat())
        for i, delta in enumerate([10, -3, 5])
    ]
    with _store_before(5, path, monkeypatch) as old, old.transaction() as tx:
        tx.append_movements(rows)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'ledger_bin'").fetchone()
    conn.close()
    store = open_store(f"sqlite:///{path}")
    try:
        with store.transaction() as tx:
            assert [(m.op_id, m.delta, m.seq) for m in tx.movements(["S"])] == [
                ("m-0", 10, 1),
                ("m-1", -3, 2),
                ("m-2", 5, 3),
            ]
            assert tx.append_movements([rows[0]]) == 0  # movement ids are still unique
            tx.append_movements([MovementRow("m-3", "W", "L", "S", 1, "t", NOW.isoformat())])
            assert tx.max_ledger_seq() == 4
            assert [tx.on_hand("W", "L", "S", upto_seq=n) for n in range(5)] == [0, 10, 7, 12, 13]
            assert tx.get_meta("masters_version")
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "ledger_bin" not in names and "ledger_new" not in names


def test_feed_rows_written_before_feed_refs_are_still_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with _store_before(7, path, monkeypatch) as old, old.transaction() as tx:
        tx._run(  # type: ignore[attr-defined]
            "INSERT INTO feed (entity, id, seq, site, data) VALUES (?, ?, ?, ?, ?)",
            ("order", "O-OLD", 1, "W", '{"id": "O-OLD", "status": "picked"}'),
        )
    store = open_store(f"sqlite:///{path}")
    try:
        with store.reader() as tx:
            (change,) = tx.feed_page(0, 10, "W")
        assert (change.entity, change.id) == ("order", "O-OLD")
        assert change.data == {"id": "O-OLD", "status": "picked"}
    finally:
        store.close()


def test_transfers_from_before_their_site_columns_are_listed_per_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with _store_before(8, path, monkeypatch) as old, old.transaction() as tx:
        for order_id, source, target in (("O-1", "DE", "FR"), ("O-2", "FR", "ES")):
            tx._run(  # type: ignore[attr-defined]
                "INSERT INTO transfers (order_id, doc) VALUES (?, ?)",
                (
                    order_id,
                    json.dumps(
                        {"order_id": order_id, "from_warehouse": source, "to_warehouse": target}
                    ),
                ),
            )
    store = open_store(f"sqlite:///{path}")
    try:
        with store.transaction() as tx:
            tx.add_transfer({"order_id": "O-3", "from_warehouse": "ES", "to_warehouse": "DE"})
        with store.reader() as tx:
            listed = {
                site: [t["order_id"] for t in tx.transfers(warehouse=site)]
                for site in ("DE", "FR", "ES", "IT")
            }
            assert listed == {
                "DE": ["O-3", "O-1"],
                "FR": ["O-2", "O-1"],
                "ES": ["O-3", "O-2"],
                "IT": [],
            }
            assert [t["order_id"] for t in tx.transfers(limit=1, warehouse="FR")] == ["O-2"]
            assert [t["order_id"] for t in tx.transfers()] == ["O-3", "O-2", "O-1"]
            plan = " ".join(
                str(r[-1])
                for r in tx._all(  # type: ignore[attr-defined]
                    "EXPLAIN QUERY PLAN SELECT id FROM transfers "
                    "WHERE from_warehouse = 'DE' OR to_warehouse = 'DE'"
                )
            )
        assert "transfers_from" in plan and "transfers_to" in plan, plan  # no scan of docs
    finally:
        store.close()


def test_orders_short_before_the_waiting_flag_are_found_when_stock_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with _store_before(9, path, monkeypatch) as old, old.transaction() as tx:
        for order_id, short in (("O-1", 2), ("O-2", 0)):
            doc = {
                "id": order_id,
                "warehouse": "DE",
                "status": "received",
                "deadline": NOW.isoformat(),
                "tracking_token": f"t-{order_id}",
                "priority": {"level": "P3", "score": 1.0},
                "lines": [{"sku": "S", "qty": 3, "short": short}],
            }
            tx._run(  # type: ignore[attr-defined]
                "INSERT INTO orders (id, warehouse, status, level, score, deadline, "
                "tracking_token, body_hash, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id,
                    "DE",
                    "received",
                    "P3",
                    1.0,
                    NOW.isoformat(),
                    f"t-{order_id}",
                    "h",
                    json.dumps(doc),
                ),
            )
    store = open_store(f"sqlite:///{path}")
    try:
        with store.transaction() as tx:
            assert [d["id"] for d in tx.orders_waiting_stock("DE", ["received"], 10)] == ["O-1"]
            # The flag follows the order's lines on every write.
            (one, two) = (tx.get_order("O-1"), tx.get_order("O-2"))
            assert one is not None and two is not None
            one.doc["lines"][0]["short"] = 0
            two.doc["lines"][0]["short"] = 1
            tx.update_orders([one.doc, two.doc])
            assert [d["id"] for d in tx.orders_waiting_stock("DE", ["received"], 10)] == ["O-2"]
            assert tx.orders_waiting_stock("DE", ["picking"], 10) == []
            assert tx.orders_waiting_stock("FR", ["received"], 10) == []
            plan = " ".join(
                str(r[-1])
                for r in tx._all(  # type: ignore[attr-defined]
                    "EXPLAIN QUERY PLAN SELECT id FROM orders "
                    "WHERE warehouse = 'DE' AND waiting_stock = 1"
                )
            )
        assert "orders_waiting_stock" in plan, plan  # not a scan of every order
    finally:
        store.close()


def test_the_bins_to_count_are_read_by_index_not_from_every_op(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    at = NOW.isoformat()
    ops = [
        OpRecord(f"op-{i}", "HH-1", i, kind, at, {"i": i}, "applied", None, at)
        for i, kind in enumerate(["pick.confirmed", "pick.short", "stock.counted"] * 50, 1)
    ]
    try:
        with store.transaction() as tx:
            tx.record_ops(ops)
        with store.reader() as tx:
            conn = tx._conn  # type: ignore[attr-defined]
            statements: list[str] = []
            conn.set_trace_callback(statements.append)
            found = tx.bin_checks(NOW.isoformat())
            conn.set_trace_callback(None)
            assert [o.kind for o in found[:3]] == ["pick.short", "stock.counted", "pick.short"]
            assert len(found) == 100
            plan = " ".join(
                str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {statements[-1]}")
            )
        assert "ops_bin_checks" in plan, plan
    finally:
        store.close()


def test_open_orders_and_an_orders_questions_are_read_by_index(tmp_path: Path) -> None:
    # Shipped orders pile up for years; the periodic re-ranking, the risk monitor and the
    # alerts read the open ones only, and a tracking page its own order's questions.
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with store.reader() as tx:
            conn = tx._conn  # type: ignore[attr-defined]
            statements: list[str] = []
            conn.set_trace_callback(statements.append)
            tx.open_orders()
            feedback_tx(tx).inquiries(order_id="O-1")
            tx.order_by_tote("TOTE-1")
            conn.set_trace_callback(None)
            plans = [
                " ".join(str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
                for sql in statements
                if sql.lstrip().startswith("SELECT")
            ]
    finally:
        store.close()
    assert len(plans) == 3, statements
    assert "INDEX orders_status" in plans[0], plans[0]
    assert "INDEX inquiries_order" in plans[1], plans[1]
    assert "INDEX orders_tote" in plans[2], plans[2]


def test_op_ids_are_unique_in_the_database(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    record = OpRecord(
        "op-1", "HH-1", 1, "stock.adjusted", NOW.isoformat(), {}, "applied", None, NOW.isoformat()
    )
    with store.transaction() as tx:
        tx.record_ops([record])
    with pytest.raises(DuplicateOps, match="op-1"), store.transaction() as tx:
        tx.record_ops([record])
    row = MovementRow("m-1", "W", "L", "S", 5, "import", NOW.isoformat())
    with store.transaction() as tx:
        assert tx.append_movements([row, row]) == 1  # a repeated movement is not booked twice
        assert tx.on_hand("W", "L", "S") == 5
    store.close()


def test_a_stock_feed_row_holds_the_bin_key_not_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = open_store(f"sqlite:///{path}")
    try:
        with store.transaction() as tx:
            tx.feed_put([("stock", "W/A-1/S", "W", BinRef("W", "A-1", "S"))])
        with store.reader() as tx:
            (change,) = tx.feed_page(0, 10, "W")
        assert (change.entity, change.id, change.data) == (
            "stock",
            "W/A-1/S",
            BinRef("W", "A-1", "S"),
        )
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT data, ref FROM feed").fetchall() == [
            ('["W","A-1","S"]', "stock_bins")
        ]


def test_feed_keeps_one_row_per_entity(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    with store.transaction() as tx:
        tx.feed_put([("sku", "A", None, {"v": 1}), ("sku", "B", None, {"v": 1})])
        tx.feed_put([("sku", "A", None, {"v": 2})])
        tx.feed_put([("task", "T", "DE-FRA", None)])
    with store.reader() as tx:
        page = tx.feed_page(0, 10, None)
        assert [(c.entity, c.id, c.data) for c in page] == [
            ("sku", "B", {"v": 1}),
            ("sku", "A", {"v": 2}),
            ("task", "T", None),
        ]
        assert [c.id for c in tx.feed_page(0, 10, "PL-WAW")] == ["B", "A"]
    store.close()


def test_periodic_tick_raises_priority_as_time_passes(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    handle, server, thread = start_central_app(
        tmp_path / "c.db",
        clock=clock,
        settings=ServerSettings(reprioritise_seconds=0.05, batch_size=8),
    )
    try:
        with handle.client() as http:
            http.post("/v1/masterdata", json=TEST_MASTERDATA).raise_for_status()
            doc = http.post("/v1/orders", json=order_body("TICK-1", hours=40)).json()
            assert doc["priority"]["level"] == "P4"
            # The tick batches the waiting standard order into a task.
            wait_until(
                lambda: (
                    "task" in [e["event"] for e in http.get("/v1/orders/TICK-1").json()["timeline"]]
                ),
                timeout=10,
            )
            clock.advance(
                timedelta(hours=39)
            )  # one hour left: overdue after processing and transit
            wait_until(
                lambda: http.get("/v1/orders/TICK-1").json()["priority"]["level"] == "P1",
                timeout=10,
            )
            events = http.get("/v1/orders/TICK-1").json()["timeline"]
            assert any(e["event"] == "priority" and "-> P1" in e["detail"] for e in events)
    finally:
        stop_central_app(handle, server, thread)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["m1", "m2", "m3", "m4", "m5", "m6"]),
            st.sampled_from(["A", "B"]),
            st.sampled_from(["", "L1"]),
            st.integers(-5, 9),
            st.sampled_from([None, "2027-01-31", "2026-12-31"]),
        ),
        max_size=30,
    )
)
def test_bin_totals_equal_the_ledger_sum(
    tmp_path_factory: pytest.TempPathFactory,
    moves: list[tuple[str, str, str, int, str | None]],
) -> None:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('bins') / 'c.db'}")
    try:
        rows = [
            MovementRow(op, "W", loc, "S", delta, "t", NOW.isoformat(), lot, expiry)
            for op, loc, lot, delta, expiry in moves
        ]
        half = len(rows) // 2
        with store.transaction() as tx:
            tx.append_movements(rows[:half])
        with store.transaction() as tx:
            tx.append_movements(rows)  # the first half again: not booked twice
        first: dict[str, MovementRow] = {}
        for row in rows:
            first.setdefault(row.op_id, row)
        with store.reader() as tx:
            lines = tx.stock_lines(sku="S")
            for loc in ("A", "B"):
                expected = sum(r.delta for r in first.values() if r.location == loc)
                assert tx.on_hand("W", loc, "S") == expected
                assert sum(li.on_hand for li in lines if li.location == loc) == expected
                assert tx.on_hand("W", loc, "S", upto_seq=tx.max_ledger_seq()) == expected
            # On hand as of every earlier ledger position (what a count is measured
            # against), from the booked movements themselves.
            booked = tx.movements(["S"])
            for upto in range(tx.max_ledger_seq() + 1):
                for loc in ("A", "B"):
                    assert tx.on_hand("W", loc, "S", upto_seq=upto) == sum(
                        m.delta for m in booked if m.location == loc and m.seq <= upto
                    )
            for li in lines:
                dated = [
                    r.expiry
                    for r in first.values()
                    if (r.location, r.lot) == (li.location, li.lot) and r.expiry
                ]
                assert li.expiry == (min(dated) if dated else None)
    finally:
        store.close()


def test_one_process_per_database_takes_the_periodic_tick(tmp_path: Path) -> None:
    from central.service.reprioritise import take_turn

    url = f"sqlite:///{tmp_path / 'c.db'}"
    first, second = open_store(url), open_store(url)  # two server processes' stores
    try:
        assert take_turn(first, 60, now=1000.0)
        assert not take_turn(second, 60, now=1001.0)  # the other worker just ticked
        assert not take_turn(first, 60, now=1053.0)
        assert take_turn(second, 60, now=1055.0)  # 90% of the interval has passed
        assert not take_turn(first, 60, now=1056.0)
        assert take_turn(first, 60, now=500.0)  # a clock set back does not stop the tick
    finally:
        first.close()
        second.close()
