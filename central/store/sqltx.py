"""``Tx`` in portable SQL over any DB-API connection (sqlite3, psycopg).

Statements are written with ``?`` and rewritten to the dialect's placeholder once;
lists go through ``IN (...)`` in chunks; upserts use ``ON CONFLICT``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from central.store.base import (
    Dialect,
    FeedChange,
    JsonDoc,
    MovementRow,
    OpRecord,
    OrderRow,
    ReservationRow,
    StockLine,
    TokenRecord,
    chunks,
)

_CHUNK = 500
_LEVEL_ORDER = "CASE level WHEN 'P1' THEN 1 WHEN 'P2' THEN 2 WHEN 'P3' THEN 3 ELSE 4 END"


def _unencodable(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
# The C encoder made once: per-call set-up is half the cost of a small document.
_C_ENCODE = (
    c_make_encoder(None, _unencodable, encode_basestring_ascii, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else None
)


def _dumps(doc: Any) -> str:
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(doc, 0))
    return _ENCODER.encode(doc)


def _loads(text: Any) -> Any:
    if text is None:
        return None
    if isinstance(text, dict | list):  # a backend with a native JSON type
        return text
    return json.loads(text)


@lru_cache(maxsize=512)
def _rewrite(sql: str, placeholder: str) -> str:
    return sql if placeholder == "?" else sql.replace("?", placeholder)


class SqlTx:
    """One transaction's typed operations (see ``central.store.base.Tx``)."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._conn = connection
        self._dialect = dialect

    # --- plumbing -----------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return _rewrite(sql, self._dialect.placeholder)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cursor = self._conn.cursor()
        try:
            cursor.execute(self._sql(sql), tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        cursor = self._conn.cursor()
        try:
            cursor.execute(self._sql(sql), tuple(params))
        finally:
            cursor.close()

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = self._conn.cursor()
        try:
            cursor.executemany(self._sql(sql), [tuple(r) for r in rows])
        finally:
            cursor.close()

    def _in(self, sql: str, values: Iterable[Any], params: Sequence[Any] = ()) -> list[Any]:
        """Run ``sql`` containing ``{in}`` once per chunk of ``values``."""
        result: list[Any] = []
        items = list(dict.fromkeys(values))
        for part in chunks(items, _CHUNK):
            marks = ",".join("?" * len(part))
            result.extend(self._all(sql.format(**{"in": marks}), (*params, *part)))
        return result

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

    # --- master data --------------------------------------------------------------------

    def upsert_master(self, entity: str, key: str, doc: JsonDoc) -> None:
        self._run(
            "INSERT INTO masters (entity, key, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (entity, key) DO UPDATE SET doc = excluded.doc",
            (entity, key, _dumps(doc)),
        )

    def masters(self, entity: str) -> dict[str, JsonDoc]:
        rows = self._all("SELECT key, doc FROM masters WHERE entity = ? ORDER BY key", (entity,))
        return {str(key): _loads(doc) for key, doc in rows}

    # --- ledger -------------------------------------------------------------------------

    def append_movements(self, rows: Sequence[MovementRow]) -> int:
        if not rows:
            return 0
        before = self.max_ledger_seq()
        self._many(
            "INSERT INTO ledger (op_id, warehouse, location, sku, lot, expiry, delta, reason, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (op_id) DO NOTHING",
            [
                (r.op_id, r.warehouse, r.location, r.sku, r.lot, r.expiry, r.delta, r.reason, r.at)
                for r in rows
            ],
        )
        # One writer at a time: every row past ``before`` is this call's (duplicates were
        # skipped by the op_id constraint).
        added = self._all(
            "SELECT seq, sku, warehouse, location, lot, expiry, delta, at FROM ledger "
            "WHERE seq > ? ORDER BY seq",
            (before,),
        )
        bins: dict[tuple[str, str, str, str], list[Any]] = {}
        for seq, sku, wh, loc, lot, expiry, delta, at in added:
            entry = bins.get((sku, wh, loc, lot))
            if entry is None:
                bins[(sku, wh, loc, lot)] = [expiry, delta, seq, at if delta > 0 else None]
                continue
            if expiry is not None and (entry[0] is None or expiry < entry[0]):
                entry[0] = expiry
            entry[1] += delta
            entry[2] = seq
            if delta > 0 and entry[3] is None:
                entry[3] = at
        self._many(
            "INSERT INTO stock_bins (sku, warehouse, location, lot, expiry, on_hand, ledger_seq, "
            "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sku, warehouse, location, lot) DO UPDATE SET "
            "on_hand = stock_bins.on_hand + excluded.on_hand, "
            "ledger_seq = excluded.ledger_seq, "
            "expiry = CASE WHEN stock_bins.expiry IS NULL THEN excluded.expiry "
            "WHEN excluded.expiry IS NULL THEN stock_bins.expiry "
            "WHEN excluded.expiry < stock_bins.expiry THEN excluded.expiry "
            "ELSE stock_bins.expiry END, "
            "received_at = COALESCE(stock_bins.received_at, excluded.received_at)",
            [(*key, *entry) for key, entry in bins.items()],
        )
        return len(added)

    def movements(self, skus: Iterable[str]) -> list[MovementRow]:
        rows = self._in(
            "SELECT op_id, warehouse, location, sku, delta, reason, at, lot, expiry, seq "
            "FROM ledger WHERE sku IN ({in}) ORDER BY seq",
            skus,
        )
        result = [MovementRow(*row) for row in rows]
        result.sort(key=lambda m: m.seq)
        return result

    def bin_totals(self, skus: Iterable[str]) -> list[MovementRow]:
        rows = self._in(
            "SELECT warehouse, location, sku, on_hand, received_at, lot, expiry, ledger_seq "
            "FROM stock_bins WHERE sku IN ({in})",
            skus,
        )
        return [
            MovementRow(
                f"bin:{wh}/{loc}/{sku}/{lot}",
                wh,
                loc,
                sku,
                int(qty),
                "total",
                at or "",
                lot,
                exp,
                int(seq),
            )
            for wh, loc, sku, qty, at, lot, exp, seq in rows
        ]

    def on_hand(self, warehouse: str, location: str, sku: str, upto_seq: int | None = None) -> int:
        if upto_seq is None:
            row = self._one(
                "SELECT COALESCE(SUM(on_hand), 0) FROM stock_bins "
                "WHERE sku = ? AND warehouse = ? AND location = ?",
                (sku, warehouse, location),
            )
            return int(row[0])
        row = self._one(
            "SELECT COALESCE(SUM(delta), 0) FROM ledger "
            "WHERE sku = ? AND warehouse = ? AND location = ? AND seq <= ?",
            (sku, warehouse, location, upto_seq),
        )
        return int(row[0])

    def stock_lines(
        self,
        sku: str | None = None,
        warehouse: str | None = None,
        keys: Iterable[tuple[str, str, str]] | None = None,
    ) -> list[StockLine]:
        select = "SELECT warehouse, location, sku, lot, expiry, on_hand, ledger_seq FROM stock_bins"
        order = " ORDER BY warehouse, location, sku, lot"
        if keys is not None:
            wanted = sorted(set(keys))
            rows = []
            # OR of equalities: each arm is a primary-key search in SQLite and PostgreSQL.
            for part in chunks(wanted, 100):
                arms = " OR ".join(["(sku = ? AND warehouse = ? AND location = ?)"] * len(part))
                rows += self._all(
                    select + f" WHERE {arms}" + order,
                    [v for wh, loc, sku_ in part for v in (sku_, wh, loc)],
                )
        else:
            where, params = [], []
            if sku is not None:
                where.append("sku = ?")
                params.append(sku)
            if warehouse is not None:
                where.append("warehouse = ?")
                params.append(warehouse)
            clause = (" WHERE " + " AND ".join(where)) if where else ""
            rows = self._all(select + clause + order, params)
        return [StockLine(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6])) for r in rows]

    def max_ledger_seq(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(seq), 0) FROM ledger")[0])

    # --- reservations -------------------------------------------------------------------

    def reservations(
        self, skus: Iterable[str] | None = None, order_ids: Iterable[str] | None = None
    ) -> list[ReservationRow]:
        base = (
            "SELECT order_id, warehouse, location, sku, lot, qty, level, picking FROM reservations"
        )
        if skus is not None:
            rows = self._in(base + " WHERE sku IN ({in})", skus)
        elif order_ids is not None:
            rows = self._in(base + " WHERE order_id IN ({in})", order_ids)
        else:
            rows = self._all(base)
        return [
            ReservationRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), r[6], bool(r[7])) for r in rows
        ]

    def replace_reservations(self, order_id: str, rows: Sequence[ReservationRow]) -> None:
        self.replace_reservations_of({order_id: rows})

    def replace_reservations_of(self, held: Mapping[str, Sequence[ReservationRow]]) -> None:
        if not held:
            return
        self._many("DELETE FROM reservations WHERE order_id = ?", [(o,) for o in held])
        rows = [r for order_rows in held.values() for r in order_rows]
        self._many(
            "INSERT INTO reservations (order_id, warehouse, location, sku, lot, qty, level, picking) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r.order_id, r.warehouse, r.location, r.sku, r.lot, r.qty, r.level, int(r.picking))
                for r in rows
                if r.qty > 0
            ],
        )

    # --- orders and timeline ------------------------------------------------------------

    def get_order(self, order_id: str) -> OrderRow | None:
        row = self._one("SELECT doc, body_hash FROM orders WHERE id = ?", (order_id,))
        return None if row is None else OrderRow(_loads(row[0]), str(row[1]))

    def get_orders(self, order_ids: Iterable[str]) -> dict[str, JsonDoc]:
        rows = self._in("SELECT id, doc FROM orders WHERE id IN ({in})", order_ids)
        return {str(r[0]): _loads(r[1]) for r in rows}

    def insert_order(self, doc: JsonDoc, body_hash: str) -> None:
        priority = doc["priority"]
        self._run(
            "INSERT INTO orders (id, warehouse, status, level, score, deadline, tote, "
            "tracking_token, body_hash, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                _dumps(doc),
            ),
        )

    def update_orders(self, docs: Sequence[JsonDoc]) -> None:
        self._many(
            "UPDATE orders SET warehouse = ?, status = ?, level = ?, score = ?, tote = ?, doc = ? "
            "WHERE id = ?",
            [
                (
                    d["warehouse"],
                    d["status"],
                    d["priority"]["level"],
                    d["priority"]["score"],
                    d.get("tote"),
                    _dumps(d),
                    d["id"],
                )
                for d in docs
            ],
        )

    def list_orders(
        self, status: str | None = None, level: str | None = None, limit: int = 100
    ) -> list[JsonDoc]:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if level is not None:
            where.append("level = ?")
            params.append(level)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self._all(
            f"SELECT doc FROM orders{clause} ORDER BY {_LEVEL_ORDER}, score DESC, deadline, id "
            "LIMIT ?",
            (*params, limit),
        )
        return [_loads(r[0]) for r in rows]

    def open_orders(self) -> list[JsonDoc]:
        rows = self._all(
            "SELECT doc FROM orders WHERE status NOT IN ('shipped', 'delivered', 'cancelled') "
            "ORDER BY id"
        )
        return [_loads(r[0]) for r in rows]

    def order_by_token(self, token: str) -> JsonDoc | None:
        row = self._one("SELECT doc FROM orders WHERE tracking_token = ?", (token,))
        return None if row is None else _loads(row[0])

    def order_by_tote(self, tote: str) -> JsonDoc | None:
        row = self._one(
            "SELECT doc FROM orders WHERE tote = ? "
            "AND status NOT IN ('shipped', 'delivered', 'cancelled') ORDER BY id",
            (tote,),
        )
        return None if row is None else _loads(row[0])

    def add_timeline(self, entries: Sequence[tuple[str, str, str, str]]) -> None:
        self._many(
            "INSERT INTO timeline (order_id, at, event, detail) VALUES (?, ?, ?, ?)", entries
        )

    def timeline(self, order_id: str) -> list[JsonDoc]:
        rows = self._all(
            "SELECT at, event, detail FROM timeline WHERE order_id = ? ORDER BY id", (order_id,)
        )
        return [{"at": r[0], "event": r[1], "detail": r[2]} for r in rows]

    # --- device operations --------------------------------------------------------------

    def known_ops(self, op_ids: Sequence[str]) -> set[str]:
        return {str(r[0]) for r in self._in("SELECT op_id FROM ops WHERE op_id IN ({in})", op_ids)}

    def record_ops(self, ops: Sequence[OpRecord]) -> None:
        self._many(
            "INSERT INTO ops (op_id, device, seq, kind, at, data, status, reason, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    o.op_id,
                    o.device,
                    o.seq,
                    o.kind,
                    o.at,
                    _dumps(o.data),
                    o.status,
                    o.reason,
                    o.received_at,
                )
                for o in ops
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
            OpRecord(r[0], r[1], int(r[2]), r[3], r[4], _loads(r[5]), r[6], r[7], r[8])
            for r in rows
        ]

    # --- change feed --------------------------------------------------------------------

    def feed_put(self, changes: Sequence[tuple[str, str, str | None, JsonDoc | None]]) -> None:
        if not changes:
            return
        # Compacted feed: one row per (entity, id), moved to the head on every change.
        latest = {(entity, ident): (site, data) for entity, ident, site, data in changes}
        head = self.feed_head()
        rows = []
        for offset, ((entity, ident), (site, data)) in enumerate(latest.items(), start=1):
            rows.append(
                (entity, ident, head + offset, site, None if data is None else _dumps(data))
            )
        self._many(
            "INSERT INTO feed (entity, id, seq, site, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (entity, id) DO UPDATE SET seq = excluded.seq, site = excluded.site, "
            "data = excluded.data",
            rows,
        )

    def feed_page(self, cursor: int, limit: int, site: str | None) -> list[FeedChange]:
        if site is None:
            rows = self._all(
                "SELECT seq, entity, id, data FROM feed WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, limit),
            )
        else:
            rows = self._all(
                "SELECT seq, entity, id, data FROM feed WHERE seq > ? "
                "AND (site IS NULL OR site = ?) ORDER BY seq LIMIT ?",
                (cursor, site, limit),
            )
        return [FeedChange(int(r[0]), r[1], r[2], _loads(r[3])) for r in rows]

    def feed_head(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(seq), 0) FROM feed")[0])

    # --- transfers, disruptions, pick tasks ---------------------------------------------

    def add_transfer(self, doc: JsonDoc) -> int:
        self._run(
            "INSERT INTO transfers (order_id, doc) VALUES (?, ?)", (doc["order_id"], _dumps(doc))
        )
        return int(self._one("SELECT MAX(id) FROM transfers")[0])

    def transfers_of(self, order_id: str) -> list[JsonDoc]:
        rows = self._all(
            "SELECT id, doc FROM transfers WHERE order_id = ? ORDER BY id", (order_id,)
        )
        return [{"id": int(r[0]), **_loads(r[1])} for r in rows]

    def transfers(self, limit: int = 200) -> list[JsonDoc]:
        rows = self._all("SELECT id, doc FROM transfers ORDER BY id DESC LIMIT ?", (limit,))
        return [{"id": int(r[0]), **_loads(r[1])} for r in rows]

    def upsert_disruption(self, doc: JsonDoc) -> None:
        self._run(
            "INSERT INTO disruptions (id, doc) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            (doc["id"], _dumps(doc)),
        )

    def disruptions(self) -> list[JsonDoc]:
        return [_loads(r[0]) for r in self._all("SELECT doc FROM disruptions ORDER BY id")]

    def upsert_tasks(self, docs: Sequence[JsonDoc]) -> None:
        self._many(
            "INSERT INTO tasks (id, warehouse, status, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
            [(d["id"], d["warehouse"], d["status"], _dumps(d)) for d in docs],
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
        return [_loads(r[0]) for r in rows]

    def tasks_of(self, order_id: str) -> list[JsonDoc]:
        rows = self._all(
            "SELECT t.doc FROM tasks t JOIN task_orders o ON o.task_id = t.id "
            "WHERE o.order_id = ? ORDER BY t.id",
            (order_id,),
        )
        return [_loads(r[0]) for r in rows]

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
        return [_loads(r[0]) for r in rows]
