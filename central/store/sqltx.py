"""``Tx`` in portable SQL over any DB-API connection (sqlite3, psycopg).

Statements are written with ``?`` and rewritten to the dialect's placeholder once;
lists go through ``IN (...)`` in chunks; upserts use ``ON CONFLICT``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from central.store.base import (
    BIN_REF,
    MASTERS_VERSION,
    BinRef,
    Dialect,
    DuplicateOps,
    FeedChange,
    FeedData,
    JsonDoc,
    OpRecord,
    OrderRow,
    TokenRecord,
)
from central.store.sql_stock import StockSql
from central.store.sqlbase import LEVEL_ORDER, dumps, feed_columns, line_short, loads
from domain.models import OrderStatus

# The statuses of orders still open, as an IN list the ``orders_status`` index serves
# (``NOT IN`` the closed ones would read every order ever shipped).
_OPEN = ",".join(
    f"'{s.value}'"
    for s in OrderStatus
    if s not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)
)

# Backends built on SqlTx import these names from here.
_dumps = dumps
_loads = loads


# The order row's columns that indexes are built on, in ``update_orders``' order.
_INDEXED_COLUMNS = "warehouse, status, level, tote, waiting_stock"


class SqlTx(StockSql):
    """One transaction's typed operations (see ``central.store.base.Tx``)."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        super().__init__(connection, dialect)
        # Indexed columns of the orders read in this transaction, by order id.
        self._indexed_as_read: dict[str, tuple[Any, ...]] = {}

    # --- meta and tokens ----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def add_token(self, record: TokenRecord, created_at: str) -> None:
        self._run(
            "INSERT INTO tokens (token_hash, role, device, site, created_at) VALUES (?, ?, ?, ?, ?)",
            (record.token_hash, record.role, record.device, record.site, created_at),
        )

    def find_token(self, token_hash: str) -> TokenRecord | None:
        row = self._one(
            "SELECT token_hash, role, device, site FROM tokens WHERE token_hash = ?",
            (token_hash,),
        )
        return None if row is None else TokenRecord(str(row[0]), str(row[1]), row[2], row[3])

    def list_tokens(self) -> list[tuple[TokenRecord, str]]:
        rows = self._all(
            "SELECT token_hash, role, device, site, created_at FROM tokens "
            "ORDER BY created_at, token_hash"
        )
        return [(TokenRecord(str(r[0]), str(r[1]), r[2], r[3]), str(r[4])) for r in rows]

    def delete_tokens(self, token_hashes: Iterable[str]) -> None:
        self._many("DELETE FROM tokens WHERE token_hash = ?", [(h,) for h in token_hashes])

    # --- master data --------------------------------------------------------------------

    _masters_changed = False

    def upsert_master(self, entity: str, key: str, doc: JsonDoc) -> None:
        self._run(
            "INSERT INTO masters (entity, key, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (entity, key) DO UPDATE SET doc = excluded.doc",
            (entity, key, dumps(doc)),
        )
        if not self._masters_changed:
            # A new version (once per transaction) tells every process that its parsed
            # copy of the master data is stale.
            self.set_meta(MASTERS_VERSION, secrets.token_hex(8))
            self._masters_changed = True

    def masters(self, entity: str) -> dict[str, JsonDoc]:
        rows = self._all("SELECT key, doc FROM masters WHERE entity = ? ORDER BY key", (entity,))
        return {str(key): loads(doc) for key, doc in rows}

    # --- orders and timeline ------------------------------------------------------------

    def get_order(self, order_id: str) -> OrderRow | None:
        row = self._one("SELECT doc, body_hash FROM orders WHERE id = ?", (order_id,))
        return None if row is None else OrderRow(loads(row[0]), str(row[1]))

    def get_orders(self, order_ids: Iterable[str]) -> dict[str, JsonDoc]:
        rows = self._in(
            f"SELECT id, doc, {_INDEXED_COLUMNS} FROM orders WHERE id IN ({{in}})", order_ids
        )
        indexed = self._indexed_as_read
        for r in rows:
            indexed[r[0]] = r[2:]
        return {str(r[0]): loads(r[1]) for r in rows}

    def insert_order(self, doc: JsonDoc, body_hash: str) -> None:
        priority = doc["priority"]
        self._run(
            "INSERT INTO orders (id, warehouse, status, level, score, deadline, tote, "
            "tracking_token, body_hash, waiting_stock, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc["id"],
                doc["warehouse"],
                doc["status"],
                priority["level"],
                priority["score"],
                doc["deadline"],
                doc.get("tote"),
                doc["tracking_token"],
                body_hash,
                line_short(doc),
                dumps(doc),
            ),
        )

    def update_orders(self, docs: Sequence[JsonDoc]) -> None:
        # An order whose indexed columns are as this transaction read them (the usual
        # case: a pick or a scan changes the document only) gets its document and score
        # written alone: SQLite rewrites the entries of every index on a column an UPDATE
        # sets, changed or not (40 orders among 100,000: 0.18 ms instead of 0.33 ms).
        indexed = self._indexed_as_read
        whole: list[tuple[Any, ...]] = []
        doc_only: list[tuple[Any, ...]] = []
        for d in docs:
            ident = d["id"]
            priority = d["priority"]
            columns = (d["warehouse"], d["status"], priority["level"], d.get("tote"), line_short(d))
            if indexed.get(ident) == columns:
                doc_only.append((priority["score"], dumps(d), ident))
            else:
                whole.append((*columns, priority["score"], dumps(d), ident))
                indexed[ident] = columns
        self._many("UPDATE orders SET score = ?, doc = ? WHERE id = ?", doc_only)
        self._many(
            "UPDATE orders SET warehouse = ?, status = ?, level = ?, tote = ?, waiting_stock = ?, "
            "score = ?, doc = ? WHERE id = ?",
            whole,
        )

    def list_orders(
        self,
        status: str | None = None,
        level: str | None = None,
        limit: int = 100,
        warehouse: str | None = None,
    ) -> list[JsonDoc]:
        where: list[str] = []
        params: list[Any] = []
        if warehouse is not None:
            where.append("warehouse = ?")
            params.append(warehouse)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if level is not None:
            where.append("level = ?")
            params.append(level)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self._all(
            f"SELECT doc FROM orders{clause} ORDER BY {LEVEL_ORDER}, score DESC, deadline, id "
            "LIMIT ?",
            (*params, limit),
        )
        return [loads(r[0]) for r in rows]

    def orders_waiting_stock(
        self, warehouse: str, statuses: Sequence[str], limit: int
    ) -> list[JsonDoc]:
        marks = ",".join("?" * len(statuses))
        rows = self._all(
            f"SELECT doc FROM orders WHERE warehouse = ? AND waiting_stock = 1 "
            f"AND status IN ({marks}) ORDER BY {LEVEL_ORDER}, score DESC, deadline, id LIMIT ?",
            (warehouse, *statuses, limit),
        )
        return [loads(r[0]) for r in rows]

    def open_orders(self) -> list[JsonDoc]:
        # Sorted here: an ORDER BY would make the database sort the documents themselves.
        rows = self._all(f"SELECT id, doc FROM orders WHERE status IN ({_OPEN})")
        rows.sort(key=lambda r: r[0])
        return [loads(r[1]) for r in rows]

    def order_by_token(self, token: str) -> JsonDoc | None:
        row = self._one("SELECT doc FROM orders WHERE tracking_token = ?", (token,))
        return None if row is None else loads(row[0])

    def order_by_tote(self, tote: str) -> JsonDoc | None:
        row = self._one(
            f"SELECT doc FROM orders WHERE tote = ? AND status IN ({_OPEN}) ORDER BY id",
            (tote,),
        )
        return None if row is None else loads(row[0])

    def add_timeline(self, entries: Sequence[tuple[str, str, str, str]]) -> None:
        self._insert("INSERT INTO timeline (order_id, at, event, detail)", entries)

    def timeline(self, order_id: str) -> list[JsonDoc]:
        rows = self._all(
            "SELECT at, event, detail FROM timeline WHERE order_id = ? ORDER BY id", (order_id,)
        )
        return [{"at": r[0], "event": r[1], "detail": r[2]} for r in rows]

    # --- device operations --------------------------------------------------------------

    def known_ops(self, op_ids: Sequence[str]) -> set[str]:
        return {str(r[0]) for r in self._in("SELECT op_id FROM ops WHERE op_id IN ({in})", op_ids)}

    def record_ops(self, ops: Sequence[OpRecord]) -> None:
        try:
            self._record_ops(ops)
        except self._conn.IntegrityError as exc:
            # The statement failed as a whole; the transaction is still usable.
            seen = self.known_ops([o.op_id for o in ops])
            if seen:
                raise DuplicateOps(f"ops recorded before: {', '.join(sorted(seen)[:5])}") from exc
            raise

    def _record_ops(self, ops: Sequence[OpRecord]) -> None:
        self._insert(
            "INSERT INTO ops (op_id, device, seq, kind, at, data, status, reason, received_at)",
            # Unpacked, not read by field name: 500 rows a push.
            [
                (op_id, device, seq, kind, at, dumps(data), status, reason, received_at)
                for op_id, device, seq, kind, at, data, status, reason, received_at in ops
            ],
        )

    def device_acked(self, device: str) -> int:
        row = self._one("SELECT acked_seq FROM devices WHERE device = ?", (device,))
        return 0 if row is None else int(row[0])

    def set_device_acked(self, device: str, seq: int) -> None:
        self._run(
            "INSERT INTO devices (device, acked_seq) VALUES (?, ?) "
            "ON CONFLICT (device) DO UPDATE SET acked_seq = excluded.acked_seq",
            (device, seq),
        )

    def rejected_ops(self, limit: int = 100) -> list[OpRecord]:
        rows = self._all(
            "SELECT op_id, device, seq, kind, at, data, status, reason, received_at FROM ops "
            "WHERE status = 'rejected' ORDER BY received_at DESC, seq DESC LIMIT ?",
            (limit,),
        )
        return [
            OpRecord(r[0], r[1], int(r[2]), r[3], r[4], loads(r[5]), r[6], r[7], r[8]) for r in rows
        ]

    def bin_checks(self, since: str, limit: int = 5000) -> list[OpRecord]:
        # The kinds are written out as the partial index ``ops_bin_checks`` has them, so
        # the database reads that index instead of every op.
        rows = self._all(
            "SELECT op_id, device, seq, kind, at, data, status, reason, received_at FROM ops "
            "WHERE kind IN ('pick.short', 'stock.counted') AND received_at >= ? "
            "AND status = 'applied' ORDER BY received_at LIMIT ?",
            (since, limit),
        )
        return [
            OpRecord(r[0], r[1], int(r[2]), r[3], r[4], loads(r[5]), r[6], r[7], r[8]) for r in rows
        ]

    # --- change feed --------------------------------------------------------------------

    def feed_put(self, changes: Sequence[tuple[str, str, str | None, FeedData]]) -> None:
        if not changes:
            return
        # Compacted feed: one row per (entity, id), moved to the head on every change.
        latest = {(entity, ident): (site, data) for entity, ident, site, data in changes}
        head = self.feed_head()
        rows = [
            (entity, ident, head + offset, site, *feed_columns(data))
            for offset, ((entity, ident), (site, data)) in enumerate(latest.items(), start=1)
        ]
        self._insert(
            "INSERT INTO feed (entity, id, seq, site, data, ref)",
            rows,
            " ON CONFLICT (entity, id) DO UPDATE SET seq = excluded.seq, site = excluded.site, "
            "data = excluded.data, ref = excluded.ref",
        )

    def feed_page(self, cursor: int, limit: int, site: str | None) -> list[FeedChange]:
        # An order kept by reference (``FeedRef``) is read from its row in the same
        # snapshot; a stock bin's row holds its key (``BinRef``).
        select = (
            "SELECT f.seq, f.entity, f.id, "
            "CASE WHEN f.ref = 'orders' THEN o.doc ELSE f.data END, f.ref "
            "FROM feed f LEFT JOIN orders o ON f.ref = 'orders' AND o.id = f.id "
            "WHERE f.seq > ?"
        )
        if site is None:
            rows = self._all(select + " ORDER BY f.seq LIMIT ?", (cursor, limit))
        else:
            rows = self._all(
                select + " AND (f.site IS NULL OR f.site = ?) ORDER BY f.seq LIMIT ?",
                (cursor, site, limit),
            )
        return [
            FeedChange(
                int(r[0]), r[1], r[2], BinRef(*loads(r[3])) if r[4] == BIN_REF else loads(r[3])
            )
            for r in rows
        ]

    def feed_head(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(seq), 0) FROM feed")[0])

    # --- transfers, disruptions, pick tasks ---------------------------------------------

    def add_transfer(self, doc: JsonDoc) -> int:
        self._run(
            "INSERT INTO transfers (order_id, from_warehouse, to_warehouse, doc) "
            "VALUES (?, ?, ?, ?)",
            (doc["order_id"], doc.get("from_warehouse"), doc.get("to_warehouse"), dumps(doc)),
        )
        return int(self._one("SELECT MAX(id) FROM transfers")[0])

    def transfers_of(self, order_id: str) -> list[JsonDoc]:
        rows = self._all(
            "SELECT id, doc FROM transfers WHERE order_id = ? ORDER BY id", (order_id,)
        )
        return [{"id": int(r[0]), **loads(r[1])} for r in rows]

    def transfers(self, limit: int = 200, warehouse: str | None = None) -> list[JsonDoc]:
        if warehouse is None:
            rows = self._all("SELECT id, doc FROM transfers ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._all(
                "SELECT id, doc FROM transfers WHERE from_warehouse = ? OR to_warehouse = ? "
                "ORDER BY id DESC LIMIT ?",
                (warehouse, warehouse, limit),
            )
        return [{"id": int(r[0]), **loads(r[1])} for r in rows]

    def upsert_disruption(self, doc: JsonDoc) -> None:
        self._run(
            "INSERT INTO disruptions (id, doc) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            (doc["id"], dumps(doc)),
        )

    def disruptions(self) -> list[JsonDoc]:
        return [loads(r[0]) for r in self._all("SELECT doc FROM disruptions ORDER BY id")]

    def upsert_tasks(self, docs: Sequence[JsonDoc]) -> None:
        self._many(
            "INSERT INTO tasks (id, warehouse, status, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
            [(d["id"], d["warehouse"], d["status"], dumps(d)) for d in docs],
        )
        self._many(
            "INSERT INTO task_orders (task_id, order_id) VALUES (?, ?) "
            "ON CONFLICT (task_id, order_id) DO NOTHING",
            [(d["id"], o) for d in docs for o in d["order_ids"]],
        )

    def tasks(self, status: str | None = None) -> list[JsonDoc]:
        if status is None:
            rows = self._all("SELECT doc FROM tasks ORDER BY id")
        else:
            rows = self._all("SELECT doc FROM tasks WHERE status = ? ORDER BY id", (status,))
        return [loads(r[0]) for r in rows]

    def tasks_of(self, order_id: str) -> list[JsonDoc]:
        rows = self._all(
            "SELECT t.doc FROM tasks t JOIN task_orders o ON o.task_id = t.id "
            "WHERE o.order_id = ? ORDER BY t.id",
            (order_id,),
        )
        return [loads(r[0]) for r in rows]

    def waiting_orders(self, warehouse: str | None = None) -> list[JsonDoc]:
        sql = (
            "SELECT doc FROM orders o WHERE status = 'allocated' AND NOT EXISTS ("
            "SELECT 1 FROM task_orders x JOIN tasks t ON t.id = x.task_id "
            "WHERE x.order_id = o.id AND t.status <> 'cancelled')"
        )
        if warehouse is None:
            rows = self._all(sql + " ORDER BY deadline, id")
        else:
            rows = self._all(sql + " AND warehouse = ? ORDER BY deadline, id", (warehouse,))
        return [loads(r[0]) for r in rows]
