"""The device's local store: replicas of pulled rows, the view, the outbox.

One SQLite file per device (WAL, ``synchronous=FULL``). Every user action is ONE
transaction that applies its local effect to the view and appends the op to the outbox,
so a crash leaves either both or neither. The view is ``base`` (the server's version)
plus the device's unsettled ops folded on top in seq order: a user always sees their own
unsynced work, and an op is folded only until a pull that follows its ack has brought
the server's version (which already contains it), so nothing is counted twice.

Writes go through one connection guarded by a lock; reads use one connection per thread.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from sync import effects
from sync.errors import InvalidOp, StoreClosed, SyncError
from sync.ids import new_op_id
from sync.reads import ViewReads
from sync.schema import index_columns, migrations

log = logging.getLogger(__name__)

Key = tuple[str, str]
ChangeCallback = Callable[[str, list[str]], None]


@dataclass(frozen=True)
class Op:
    """One outbox row. ``state``: pending|acked|rejected; ``result``: the server's status
    (applied|duplicate|rejected) once acked; ``reason`` for a rejection."""

    seq: int
    op_id: str
    kind: str
    at: datetime
    data: dict[str, Any]
    state: str = "pending"
    result: str | None = None
    reason: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The op as sent in ``POST /v1/sync/push``."""
        return {
            "op_id": self.op_id,
            "seq": self.seq,
            "kind": self.kind,
            # UTC to the microsecond, the form central keeps: it takes such a time as it
            # comes instead of converting it.
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "data": self.data,
        }


_OP_COLUMNS = "seq, op_id, kind, at, data, state, result, reason"
# The ops touching each row, and which of them the replica does not hold yet (pending, or
# acked and not yet brought back by a pull).
_TOUCHES = "op_touch t JOIN outbox o ON o.seq = t.seq"
_UNSETTLED = "o.settled = 0 AND o.state IN ('pending', 'acked')"


def _op(row: Sequence[Any]) -> Op:
    return Op(row[0], row[1], row[2], datetime.fromisoformat(row[3]), json.loads(row[4]), *row[5:8])


try:  # pydantic-core, installed with the server's libraries, writes JSON about 3x faster
    from pydantic_core import to_json as _fast_json
except ImportError:  # a handheld build without pydantic: the standard library's encoder
    _fast_json = None  # type: ignore[assignment]

_encode = json.JSONEncoder(separators=(",", ":")).encode


def _dumps(value: Any) -> str:
    """Compact JSON text of a base or view row (a 50,000-row snapshot spends much of its
    time here)."""
    if _fast_json is None:
        return _encode(value)
    return str(_fast_json(value).decode("utf-8"))


def _op_text(data: Mapping[str, Any]) -> str:
    """An op's data as recorded in the outbox: strict standard JSON (a value JSON cannot
    hold is an error, not quietly converted)."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


class LocalStore(ViewReads):
    """The offline store of one device; use as a context manager (or call ``close``)."""

    def __init__(self, path: str | Path, device_id: str, site: str) -> None:
        self.path = Path(path)
        self.device_id = device_id
        self.site = site
        self._lock = threading.RLock()
        self._closed = False
        self._callbacks: list[ChangeCallback] = []
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
            self.db = Database(conn)
            migrations.apply(self.db)
            self._check_identity()
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    # --- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection; further use raises ``StoreClosed``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self._conn.close()

    def _check_identity(self) -> None:
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        for key, value in (("device_id", self.device_id), ("site", self.site)):
            if key not in meta:
                self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [key, value])
            elif meta[key] != value:
                raise SyncError(f"{self.path}: store belongs to {key} {meta[key]!r}, not {value!r}")

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosed(f"{self.path}: store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA query_only=ON")
            with self._lock:
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    # --- change notification -------------------------------------------------------

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(entity, ids)`` after each commit that changed the view (and
        ``("outbox", [op_id])`` when an op is recorded); returns an unsubscribe function."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def _notify(self, changed: Mapping[str, Iterable[str]]) -> None:
        for entity, ids in changed.items():
            id_list = sorted(set(ids))
            if not id_list:
                continue
            for callback in list(self._callbacks):
                try:
                    callback(entity, id_list)
                except Exception:  # a UI callback must never break a write
                    log.exception("change callback failed for %s", entity)

    # --- write plumbing ------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreClosed(f"{self.path}: store is closed")
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _view_row(self, conn: sqlite3.Connection, key: Key) -> dict[str, Any] | None:
        row = conn.execute("SELECT data FROM view WHERE entity = ? AND id = ?", key).fetchone()
        return json.loads(row[0]) if row else None

    def _put_view(self, conn: sqlite3.Connection, key: Key, data: Mapping[str, Any] | None) -> None:
        if data is None:
            conn.execute("DELETE FROM view WHERE entity = ? AND id = ?", key)
            return
        conn.execute(
            "INSERT OR REPLACE INTO view (entity, id, data, warehouse, status, lookup, rank) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [*key, _dumps(data), *index_columns(key[0], data)],
        )

    def _rebuild(self, conn: sqlite3.Connection, keys: Iterable[Key], with_acked: bool) -> None:
        """view(key) = base(key) + unsettled ops touching key, folded in seq order."""
        states = "('pending', 'acked')" if with_acked else "('pending')"
        for key in keys:
            row = conn.execute("SELECT data FROM base WHERE entity = ? AND id = ?", key).fetchone()
            data = json.loads(row[0]) if row else None
            ops = conn.execute(
                f"SELECT o.kind, o.data FROM {_TOUCHES} "
                f"WHERE t.entity = ? AND t.id = ? AND o.settled = 0 AND o.state IN {states} "
                "ORDER BY o.seq",
                key,
            ).fetchall()
            for kind, op_data in ops:
                data = effects.apply(kind, json.loads(op_data), key, data)
            self._put_view(conn, key, data)

    def _keys_of(self, conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> set[Key]:
        sql = f"SELECT DISTINCT t.entity, t.id FROM {_TOUCHES} WHERE {where}"
        return {(e, i) for e, i in conn.execute(sql, list(params)).fetchall()}

    # --- ops -----------------------------------------------------------------------

    def record(
        self, kind: str, data: Mapping[str, Any], at: datetime, op_id: str | None = None
    ) -> Op:
        """Validate an op, apply its local effect to the view and append it to the outbox,
        all in one transaction. ``InvalidOp`` (naming the field) changes nothing. Recording
        the same ``op_id`` again returns the op already recorded."""
        return self.record_many([(kind, data, op_id)], at)[0]

    def record_many(
        self,
        ops: Sequence[tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], str | None]],
        at: datetime,
    ) -> list[Op]:
        """Record several ops of one user action (e.g. pack.verified + order.packed) in ONE
        transaction: all or none. Each item is ``(kind, data)`` or ``(kind, data, op_id)``."""
        prepared: list[tuple[str, dict[str, Any], str]] = []
        for item in ops:
            kind, data = item[0], item[1]
            op_id = item[2] if len(item) > 2 else None
            clean = effects.op_kind(kind).validate(data)
            if not isinstance(at, datetime) or at.tzinfo is None:
                raise InvalidOp(kind, "at", f"must be a datetime with a time zone, got {at!r}")
            if op_id is not None and (not isinstance(op_id, str) or not op_id.strip()):
                raise InvalidOp(kind, "op_id", f"must be a non-empty string, got {op_id!r}")
            prepared.append((kind, clean, op_id or new_op_id()))
        changed: dict[str, list[str]] = {}
        recorded: list[Op] = []
        with self._write() as conn:
            for kind, clean, op_id in prepared:
                recorded.append(self._record_in(conn, kind, clean, at, op_id, changed))
        self._notify(changed)
        return recorded

    def _record_in(
        self,
        conn: sqlite3.Connection,
        kind: str,
        clean: dict[str, Any],
        at: datetime,
        op_id: str,
        changed: dict[str, list[str]],
    ) -> Op:
        existing = conn.execute(
            f"SELECT {_OP_COLUMNS} FROM outbox WHERE op_id = ?", [op_id]
        ).fetchone()
        if existing is not None:
            if existing[2] != kind:
                raise InvalidOp(kind, "op_id", f"{op_id} already used by a {existing[2]} op")
            return _op(existing)
        keys = list(
            dict.fromkeys(
                effects.touches(kind, clean, lambda e, i: self._view_row(conn, (e, i)), self.site)
            )
        )
        seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM outbox").fetchone()[0])
        conn.execute(
            "INSERT INTO outbox (seq, op_id, kind, at, data, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [seq, op_id, kind, at.isoformat(), _op_text(clean), datetime.now(UTC).isoformat()],
        )
        for key in keys:
            conn.execute("INSERT INTO op_touch (entity, id, seq) VALUES (?, ?, ?)", [*key, seq])
            self._put_view(conn, key, effects.apply(kind, clean, key, self._view_row(conn, key)))
            changed.setdefault(key[0], []).append(key[1])
        changed.setdefault("outbox", []).append(op_id)
        return Op(seq, op_id, kind, at, clean)

    def pending(self, limit: int | None = None) -> list[Op]:
        """Ops not yet acknowledged, in seq order (the next push)."""
        sql = f"SELECT {_OP_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_op(r) for r in self._reader().execute(sql).fetchall()]

    def pending_count(self) -> int:
        """How many ops wait to be pushed."""
        row = self._reader().execute("SELECT count(*) FROM outbox WHERE state = 'pending'")
        return int(row.fetchone()[0])

    def unsettled(self, entity: str, id: str) -> int:
        """How many of this device's ops touching row ``(entity, id)`` the replica does
        not hold yet (pending, or acked and not yet pulled back)."""
        row = self._reader().execute(
            f"SELECT count(*) FROM {_TOUCHES} WHERE t.entity = ? AND t.id = ? AND {_UNSETTLED}",
            (entity, id),
        )
        return int(row.fetchone()[0])

    def outbox_history(self) -> list[Op]:
        """Every op this device ever recorded, acked or not, in seq order."""
        sql = f"SELECT {_OP_COLUMNS} FROM outbox ORDER BY seq"
        return [_op(r) for r in self._reader().execute(sql).fetchall()]

    def recent_ops(self, kind: str, limit: int) -> list[Op]:
        """The last ``limit`` ops of ``kind`` this device recorded (not rejected), oldest
        first (e.g. the sorter's diverts, to remember lanes across a restart)."""
        sql = (
            f"SELECT {_OP_COLUMNS} FROM outbox WHERE kind = ? AND state != 'rejected' "
            "ORDER BY seq DESC LIMIT ?"
        )
        rows = self._reader().execute(sql, (kind, int(limit))).fetchall()
        return [_op(r) for r in reversed(rows)]

    def mark_acked(self, results: Iterable[Mapping[str, Any]], acked_seq: int) -> int:
        """Record a push response: each result's status per op_id (applied/duplicate ->
        acked, rejected -> rejected with its reason). A rejected op leaves the view at
        once; an acked one stays folded until the next complete pull. ``acked_seq`` is
        only cross-checked. Returns how many ops changed state."""
        now = datetime.now(UTC).isoformat()
        changed: dict[str, list[str]] = {}
        count = 0
        with self._write() as conn:
            rejected: list[int] = []
            for result in results:
                status = str(result.get("status") or "")
                state = "rejected" if status == "rejected" else "acked"
                row = conn.execute(
                    "UPDATE outbox SET state = ?, result = ?, reason = ?, acked_at = ?, "
                    "settled = ? WHERE op_id = ? AND state = 'pending' RETURNING seq",
                    [
                        state,
                        status or None,
                        result.get("reason"),
                        now,
                        int(state == "rejected"),
                        str(result.get("op_id")),
                    ],
                ).fetchone()
                if row is not None:
                    count += 1
                    if state == "rejected":
                        rejected.append(int(row[0]))
            # Only per-op results change state: a pending op at or below acked_seq that
            # has no result here stays pending and is pushed again (its answer will be
            # "duplicate"), so a server that over-reports acked_seq cannot lose an op.
            gap = conn.execute(
                "SELECT count(*) FROM outbox WHERE state = 'pending' AND seq <= ?",
                [int(acked_seq)],
            ).fetchone()[0]
            if gap:
                log.info("%d pending ops at or below acked_seq %s had no result", gap, acked_seq)
            if rejected:
                marks = ", ".join("?" * len(rejected))
                keys = self._keys_of(conn, f"t.seq IN ({marks})", rejected)
                self._rebuild(conn, keys, with_acked=True)
                for entity, row_id in keys:
                    changed.setdefault(entity, []).append(row_id)
        self._notify(changed)
        return count

    # --- pulled changes ------------------------------------------------------------

    def apply_changes(
        self,
        changes: Iterable[Mapping[str, Any]],
        cursor: int,
        epoch: str | int | None,
        final: bool = True,
    ) -> int:
        """Write one page of pulled changes in one transaction: base rows, their views
        (base + pending ops), the cursor and epoch. ``final`` (the last page, ``more`` is
        false) also settles acked ops: their effect is in base now. Returns rows written."""
        changed: dict[str, list[str]] = {}
        with self._write() as conn:
            pending_keys = self._keys_of(conn, "o.state = 'pending' AND o.settled = 0", ())
            upserts: list[tuple[str, str, str]] = []
            deletes: list[Key] = []
            views: list[list[Any]] = []
            rebuild: list[Key] = []
            latest: dict[Key, Any] = {}
            for change in changes:  # the last change of a row in a page wins
                latest[(str(change["entity"]), str(change["id"]))] = change.get("data")
            for key, data in latest.items():
                if data is None:
                    deletes.append(key)
                else:
                    text = _dumps(data)
                    upserts.append((*key, text))
                    if key not in pending_keys:
                        views.append([*key, text, *index_columns(key[0], data)])
                if key in pending_keys:
                    rebuild.append(key)
                changed.setdefault(key[0], []).append(key[1])
            written = len(latest)
            # Bulk statements: a 50,000-row snapshot is a handful of executemany calls.
            conn.executemany("DELETE FROM base WHERE entity = ? AND id = ?", deletes)
            conn.executemany("DELETE FROM view WHERE entity = ? AND id = ?", deletes)
            conn.executemany(
                "INSERT OR REPLACE INTO base (entity, id, data) VALUES (?, ?, ?)", upserts
            )
            conn.executemany(
                "INSERT OR REPLACE INTO view (entity, id, data, warehouse, status, lookup, rank) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                views,
            )
            self._rebuild(conn, rebuild, with_acked=False)
            self._set_meta(conn, "cursor", str(int(cursor)))
            self._set_meta(conn, "epoch", None if epoch is None else str(epoch))
            if final:
                settled = self._keys_of(conn, "o.state = 'acked' AND o.settled = 0", ())
                conn.execute("UPDATE outbox SET settled = 1 WHERE state = 'acked' AND settled = 0")
                self._rebuild(conn, settled, with_acked=False)
                for entity, row_id in settled:
                    changed.setdefault(entity, []).append(row_id)
        self._notify(changed)
        return written

    def reset_replica(self) -> None:
        """Drop every pulled row and the cursor (server feed rebuilt: 409); the outbox
        stays, and the view keeps showing the device's own unsettled ops."""
        with self._write() as conn:
            conn.execute("DELETE FROM base")
            conn.execute("DELETE FROM view")
            self._set_meta(conn, "cursor", "0")
            self._set_meta(conn, "epoch", None)
            keys = self._keys_of(conn, _UNSETTLED, ())
            self._rebuild(conn, keys, with_acked=True)
        self._notify({"*": ["reset"]})

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def _meta(self, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else row[0]

    @property
    def cursor(self) -> int:
        """The change-feed position pulled so far (0 = nothing yet)."""
        return int(self._meta("cursor") or 0)

    @property
    def epoch(self) -> str | None:
        """The server feed's epoch this replica belongs to (None before the first pull)."""
        return self._meta("epoch")
