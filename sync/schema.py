"""The device store's tables, their migrations and the indexed columns of the view.

``base`` holds the server's version of every pulled row; ``view`` is what the user sees
(base plus the device's not yet settled ops); ``outbox`` is the op history (never
deleted); ``op_touch`` says which rows each op changes, so a row's view can be rebuilt.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from sync.migrations import Migrations

migrations = Migrations("device_store")


@migrations
def m001_initial(db: Database) -> None:
    """Meta, base, view, outbox and op_touch."""
    for sql in (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
        "CREATE TABLE base (entity TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, "
        "PRIMARY KEY (entity, id)) WITHOUT ROWID",
        "CREATE TABLE view (entity TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, "
        "warehouse TEXT, status TEXT, lookup TEXT, rank TEXT, "
        "PRIMARY KEY (entity, id)) WITHOUT ROWID",
        "CREATE INDEX view_lookup ON view (entity, lookup) WHERE lookup IS NOT NULL",
        "CREATE INDEX view_status ON view (entity, status, warehouse)",
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, op_id TEXT NOT NULL UNIQUE, "
        "kind TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL, "
        "state TEXT NOT NULL DEFAULT 'pending', result TEXT, reason TEXT, "
        "recorded_at TEXT NOT NULL, acked_at TEXT, settled INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX outbox_unsettled ON outbox (settled, state, seq)",
        "CREATE TABLE op_touch (entity TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "PRIMARY KEY (entity, id, seq)) WITHOUT ROWID",
        "CREATE INDEX op_touch_seq ON op_touch (seq)",
    ):
        db.execute(sql)


# Row counts the query planner assumes for the view (``sqlite_stat1``): many rows per
# entity, a lookup value (tote, GTIN) nearly unique, a status shared by a tenth of them.
# Without them (no ANALYZE on a device) SQLite guesses that a search by entity alone
# finds a handful of rows and reads every order for a tote or every SKU for a GTIN.
# Fixed figures keep the plans the same on an empty store and a full one.
PLANNER_STATS = (
    ("view", "view", "100000 20000 1"),
    ("view", "view_lookup", "50000 10000 1"),
    ("view", "view_status", "100000 20000 2000 1000"),
    ("base", "base", "100000 20000 1"),
)


@migrations
def m002_planner_stats(db: Database) -> None:
    """The view's look-ups by tote, GTIN and status use their indexes."""
    db.execute("ANALYZE meta")  # creates sqlite_stat1
    db.execute("DELETE FROM sqlite_stat1 WHERE tbl IN ('view', 'base')")
    db.conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", PLANNER_STATS)
    db.execute("ANALYZE sqlite_schema")  # this connection reads them now


def _utc(value: Any) -> str:
    # Deadlines come with their own zones; compare them on one clock.
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return str(value or "")
    if moment.tzinfo is None:
        return moment.isoformat()
    return moment.astimezone(UTC).isoformat()


def _gtin_key(gtin: Any) -> str | None:
    # GTIN-8/12/13 are GTIN-14 with leading zeros dropped: compare without them.
    text = str(gtin or "").strip().lstrip("0")
    return text or None


def index_columns(entity: str, data: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
    """(warehouse, status, lookup, rank) of a view row; ``rank`` sorts most urgent first."""
    warehouse = data.get("warehouse")
    status = data.get("status")
    lookup: Any = None
    rank: Any = None
    if entity == "order":
        lookup = data.get("tote") or None
        priority = data.get("priority") or {}
        level = priority.get("level") or "P4"
        score = float(priority.get("score") or 0.0)
        rank = f"{level}|{_utc(data.get('deadline'))}|{1e9 - score:014.2f}"
    elif entity == "task":
        level = data.get("level") or "P4"
        rank = f"{level}|{_utc(data.get('deadline'))}|{data.get('id', '')}"
    elif entity == "sku":
        lookup = _gtin_key(data.get("gtin"))
    elif entity == "stock":
        lookup = data.get("sku")
        rank = str(data.get("location") or "")
    elif entity == "location":
        lookup = data.get("code")
    return warehouse, status, lookup, rank


gtin_key = _gtin_key
