"""The store on both backends, and the PostgreSQL guarantees under concurrent writers
(two store objects stand for two server processes on one database)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from central.store import StoreError, open_store
from central.store.base import MovementRow, OpRecord, ReservationRow, Store
from central.store.migrations import MIGRATIONS
from central.store.postgres import PostgresStore, redact

AT = "2026-11-25T08:00:00+00:00"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'c.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on a fresh database."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


def op(op_id: str, seq: int = 1) -> OpRecord:
    """A recorded device op."""
    return OpRecord(op_id, "HH-1", seq, "stock.adjusted", AT, {"n": seq}, "applied", None, AT)


def move(op_id: str, delta: int, sku: str = "S1") -> MovementRow:
    """A ledger movement in bin W/L."""
    return MovementRow(op_id, "W", "L", sku, delta, "adjust", AT)


def test_migrations_run_once_and_keep_the_epoch(store_url: str) -> None:
    first = open_store(store_url)
    with first.reader() as tx:
        epoch = tx.get_meta("epoch")
    first.close()
    again = open_store(store_url)
    with again.reader() as tx:
        assert tx.get_meta("epoch") == epoch
        versions = [int(r[0]) for r in tx._all("SELECT version FROM schema_migrations")]
    again.close()
    assert epoch and versions == sorted(m.version for m in MIGRATIONS)


def test_ledger_projection_ops_feed_and_transfers(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.append_movements([move("m1", 5), move("m1", 5), move("m2", -2)]) == 2
        assert tx.append_movements([move("m1", 5)]) == 0  # already booked
        tx.record_ops([op("o1", 1), op("o2", 2)])
        tx.feed_put([("sku", "A", None, {"v": 1}), ("sku", "B", None, {"v": 1})])
        tx.feed_put([("sku", "A", None, {"v": 2})])
        first = tx.add_transfer({"order_id": "ORD-1"})
        second = tx.add_transfer({"order_id": "ORD-2", "from_warehouse": "W", "to_warehouse": "X"})
    with store.reader() as tx:
        assert tx.on_hand("W", "L", "S1") == 3
        line = tx.stock_lines(sku="S1")[0]
        assert line.ledger_seq == tx.max_ledger_seq()
        assert tx.known_ops(["o1", "o2", "o3"]) == {"o1", "o2"}
        page = tx.feed_page(0, 10, None)
        assert [(c.id, c.data) for c in page] == [("B", {"v": 1}), ("A", {"v": 2})]
        assert page[-1].seq == tx.feed_head()
        assert second == first + 1
        assert [t["order_id"] for t in tx.transfers()] == ["ORD-2", "ORD-1"]
        assert [t["order_id"] for t in tx.transfers(warehouse="X")] == ["ORD-2"]


def order_doc(ident: str, status: str = "allocated", tote: str | None = None) -> dict[str, Any]:
    """An order document with what the order row's columns are made from."""
    return {
        "id": ident,
        "warehouse": "W",
        "status": status,
        "priority": {"level": "P3", "score": 1.0},
        "deadline": AT,
        "tote": tote,
        "tracking_token": f"tok-{ident}",
        "lines": [{"sku": "S1", "qty": 2}],
    }


def test_updated_orders_are_found_by_their_new_status_tote_and_shortage(store: Store) -> None:
    """An order written back with its indexed columns unchanged has its document written
    alone; one whose status, tote or shortage changed is found under the new values, also
    when it changes twice in one transaction (and back)."""
    with store.transaction() as tx:
        for ident in ("O-1", "O-2", "O-3"):
            tx.insert_order(order_doc(ident), "h")
    with store.transaction() as tx:
        docs = tx.get_orders(["O-1", "O-2", "O-3"])
        docs["O-1"]["lines"][0]["picked"] = 1  # the document only
        docs["O-1"]["priority"]["score"] = 7.5
        docs["O-2"].update(status="picking", tote="TOTE-2")
        docs["O-3"]["lines"][0]["short"] = 2
        tx.update_orders(list(docs.values()))
        docs["O-2"].update(status="allocated", tote=None)  # and back, in the same transaction
        docs["O-3"].update(status="on_hold", tote="TOTE-3")
        tx.update_orders([docs["O-2"], docs["O-3"]])
    with store.reader() as tx:
        assert tx.get_orders(["O-1"])["O-1"]["lines"][0]["picked"] == 1
        assert [d["id"] for d in tx.list_orders(status="allocated")] == ["O-1", "O-2"]
        assert tx.list_orders(status="allocated")[0]["priority"]["score"] == 7.5
        assert [d["id"] for d in tx.list_orders(status="on_hold")] == ["O-3"]
        assert tx.list_orders(status="picking") == []
        assert tx.order_by_tote("TOTE-2") is None
        assert (tx.order_by_tote("TOTE-3") or {}).get("id") == "O-3"
        waiting = tx.orders_waiting_stock("W", ["on_hold"], 10)
        assert [d["id"] for d in waiting] == ["O-3"]


def test_replaced_reservations_are_exactly_the_rows_given(store: Store) -> None:
    """Rows of an order read in the transaction are updated, added and removed one by
    one; an order not read has its rows replaced; either way the table holds exactly the
    rows given (none with no units), also after the rows were locked for picking."""

    def hold(order_id: str, location: str, qty: int, picking: bool = False) -> ReservationRow:
        return ReservationRow(order_id, "W", location, "S1", "", qty, "P3", picking)

    with store.transaction() as tx:
        tx.replace_reservations_of(
            {
                "O-1": [hold("O-1", "L1", 5), hold("O-1", "L2", 3), hold("O-1", "L3", 1)],
                "O-2": [hold("O-2", "L1", 2)],
                "O-3": [hold("O-3", "L2", 4)],
            }
        )
    with store.transaction() as tx:
        tx.reservations(order_ids=["O-1", "O-3"])
        tx.lock_reservations(["O-1"])
        tx.replace_reservations_of(
            {
                # read: one row picked down, one kept but no longer locked, one used up,
                # one new
                "O-1": [
                    hold("O-1", "L1", 4, True),
                    hold("O-1", "L2", 3),
                    hold("O-1", "L3", 0, True),
                    hold("O-1", "L4", 2, True),
                ],
                "O-2": [hold("O-2", "L5", 1)],  # not read: replaced
                "O-3": [],  # read: all released
            }
        )
        # again in the same transaction
        tx.replace_reservations_of({"O-1": [hold("O-1", "L1", 4, True), hold("O-1", "L2", 3)]})
    with store.reader() as tx:
        rows = sorted(tx.reservations(order_ids=["O-1", "O-2", "O-3"]))
    assert rows == [hold("O-1", "L1", 4, True), hold("O-1", "L2", 3), hold("O-2", "L5", 1)]


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.record_ops([op("o1")])
    with pytest.raises(Exception), store.transaction() as tx:  # noqa: B017
        tx.append_movements([move("m9", 7)])
        tx.feed_put([("sku", "X", None, {"v": 1})])
        tx.record_ops([op("o1")])  # duplicate op id: the database refuses it
    with store.reader() as tx:
        assert tx.on_hand("W", "L", "S1") == 0
        assert tx.feed_page(0, 10, None) == []


def test_an_op_recorded_by_another_process_aborts_the_transaction(pg_url: str) -> None:
    one, two = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        with one.transaction() as tx:
            tx.append_movements([move("o1", 4)])
            tx.record_ops([op("o1")])
        with pytest.raises(StoreError, match="o1"), two.transaction() as tx:
            tx.append_movements([move("o2", 9)])
            tx.record_ops([op("o2", 2), op("o1")])
        with two.reader() as tx:
            assert tx.on_hand("W", "L", "S1") == 4  # o2's movement was rolled back
            assert tx.known_ops(["o1", "o2"]) == {"o1"}
    finally:
        one.close()
        two.close()


def test_concurrent_writers_keep_stock_exact_and_the_feed_gapless(pg_url: str) -> None:
    stores = [PostgresStore(pg_url, max_connections=4) for _ in range(2)]
    seen: dict[tuple[str, str], int] = {}
    cursor = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with stores[n % 2].transaction() as tx:
                    # Every writer books the shared movement "dup" too: counted once.
                    tx.append_movements([move(f"w{n}-{i}", 1), move("dup", 100)])
                with stores[n % 2].transaction() as tx:
                    tx.feed_put(
                        [("stock", f"W/L/{n}/{i}", "W", {}), ("sku", "all", None, {"i": i})]
                    )
                    # Hold the transaction open a moment: a feed numbered outside commit
                    # order would now let the reader pass this change before it commits.
                    time.sleep(0.002 * (n % 3))
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    def pull_once() -> None:
        nonlocal cursor
        with stores[0].reader() as tx:
            for change in tx.feed_page(cursor, 1000, None):
                seen[(change.entity, change.id)] = change.seq
                cursor = change.seq

    def reader() -> None:
        try:
            while not stop.is_set():
                pull_once()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    pulling = threading.Thread(target=reader)
    pulling.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stop.set()
    pulling.join(timeout=30)
    pull_once()  # the last changes after the writers finished
    try:
        assert not errors, errors
        with stores[1].reader() as tx:
            assert tx.on_hand("W", "L", "S1") == 6 * 15 + 100
            total = tx._one("SELECT SUM(delta) FROM ledger")[0]
            assert int(total) == 6 * 15 + 100
            final = {(c.entity, c.id): c.seq for c in tx.feed_page(0, 1000, None)}
        # Every writer step adds a key of its own: a reader that followed the cursor while
        # writers ran saw each one, so no change was committed below a cursor it had passed.
        assert seen == final
        assert len(final) == 6 * 15 + 1
    finally:
        for s in stores:
            s.close()


def test_unreachable_server_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert redact("postgresql://u:pw@h:5/d") == "postgresql://u:***@h:5/d"


def test_pg_schema_matches_what_the_portable_sql_needs(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.close()
    with psycopg.connect(pg_url) as conn:
        kind = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'ledger' AND column_name = 'seq'"
        ).fetchone()
        counter = conn.execute("SELECT seq FROM feed_counter WHERE id = 1").fetchone()
    assert kind == ("bigint",)
    assert counter == (0,)


def test_a_migration_is_written_once_and_backend_only_statements_are_skipped() -> None:
    from central.store.migrations import render
    from central.store.postgres import DIALECT as PG
    from central.store.sqlite import DIALECT as SQLITE

    portable = "CREATE TABLE t (id {autoinc_pk}, doc {json} NOT NULL)"
    assert render(portable, SQLITE) == (
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL)"
    )
    assert render(portable, PG) == (
        "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, doc TEXT NOT NULL)"
    )
    only_pg = {"postgresql": "ALTER TABLE t ALTER COLUMN n TYPE BIGINT"}
    assert render(only_pg, SQLITE) is None
    assert render(only_pg, PG) == "ALTER TABLE t ALTER COLUMN n TYPE BIGINT"


def test_sqlite_records_the_postgres_only_migration_without_its_table(store_url: str) -> None:
    store = open_store(store_url)
    try:
        with store.reader() as tx:
            versions = {int(r[0]) for r in tx._all("SELECT version FROM schema_migrations")}
            if store_url.startswith("sqlite"):
                tables = tx._all("SELECT name FROM sqlite_master WHERE name = 'feed_counter'")
            else:
                tables = tx._all(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_name = 'feed_counter'"
                )
    finally:
        store.close()
    assert next(m.version for m in MIGRATIONS if m.name == "postgres_feed_counter") in versions
    assert len(tables) == (0 if store_url.startswith("sqlite") else 1)
