"""Schema migrations, registered in order; each is applied together with its
bookkeeping row in one transaction, so a crash leaves either both or neither."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from central.store import schema
from central.store.analytics_sql import ANALYTICS_SCHEMA
from central.store.base import MASTERS_VERSION, Dialect
from central.store.feedback_sql import FEEDBACK_SCHEMA, start_cursor
from central.store.sqlbase import line_short, loads

# A statement is portable SQL (a str; ``{autoinc_pk}`` and ``{json}`` are filled from the
# backend's dialect), written once for every backend. Only where backends truly differ,
# a mapping from dialect name ("sqlite", "postgresql") to that backend's SQL; a backend
# missing from the mapping skips the statement (the migration is still recorded).
Statement = str | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change: SQL statements plus an optional data step."""

    version: int
    name: str
    statements: Sequence[Statement]
    after: Callable[[Any, Dialect], None] | None = None


def _seed_meta(cursor: Any, dialect: Dialect) -> None:
    # The feed epoch names this database's change feed; a rebuilt feed gets a new one.
    p = dialect.placeholder
    cursor.execute(
        f"INSERT INTO meta (key, value) VALUES ({p}, {p})", ("epoch", secrets.token_hex(8))
    )


def _seed_masters_version(cursor: Any, dialect: Dialect) -> None:
    p = dialect.placeholder
    cursor.execute(
        f"INSERT INTO meta (key, value) VALUES ({p}, {p})", (MASTERS_VERSION, secrets.token_hex(8))
    )


# PostgreSQL only: the change feed's sequence counter (central.store.postgres), 8-byte
# scores and positions (REAL and INTEGER are 4 bytes there, 8 in SQLite).
POSTGRES_FEED_COUNTER: list[Statement] = [
    {"postgresql": "CREATE TABLE feed_counter (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL)"},
    {"postgresql": "INSERT INTO feed_counter (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM feed"},
    {"postgresql": "ALTER TABLE orders ALTER COLUMN score TYPE DOUBLE PRECISION"},
    {"postgresql": "ALTER TABLE feed ALTER COLUMN seq TYPE BIGINT"},
    {"postgresql": "ALTER TABLE stock_bins ALTER COLUMN ledger_seq TYPE BIGINT"},
]

# The ledger is append-only and written on every push: no per-bin index to keep up (a
# count's "on hand as the device saw it" is worked back from the bin total over the
# movements after that position, which the primary key finds), and SQLite numbers rows
# by rowid without AUTOINCREMENT's bookkeeping (rows are never deleted, so positions
# still only grow). Movement ids stay unique.
LEAN_LEDGER: list[Statement] = [
    {
        "sqlite": """CREATE TABLE ledger_new (
        seq INTEGER PRIMARY KEY,
        op_id TEXT NOT NULL UNIQUE,
        warehouse TEXT NOT NULL,
        location TEXT NOT NULL,
        sku TEXT NOT NULL,
        lot TEXT NOT NULL DEFAULT '',
        expiry TEXT,
        delta INTEGER NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL)"""
    },
    {
        "sqlite": "INSERT INTO ledger_new (seq, op_id, warehouse, location, sku, lot, expiry, "
        "delta, reason, at) SELECT seq, op_id, warehouse, location, sku, lot, expiry, delta, "
        "reason, at FROM ledger ORDER BY seq"
    },
    {"sqlite": "DROP TABLE ledger"},
    {"sqlite": "ALTER TABLE ledger_new RENAME TO ledger"},
    {"sqlite": "DELETE FROM sqlite_sequence WHERE name = 'ledger'"},
    {"postgresql": "DROP INDEX ledger_bin"},
]


def _transfer_sites(cursor: Any, dialect: Dialect) -> None:
    """Fill the new site columns of transfers proposed before them (from their docs)."""
    p = dialect.placeholder
    cursor.execute("SELECT id, doc FROM transfers")
    for ident, doc in cursor.fetchall():
        data = loads(doc) or {}
        cursor.execute(
            f"UPDATE transfers SET from_warehouse = {p}, to_warehouse = {p} WHERE id = {p}",
            (data.get("from_warehouse"), data.get("to_warehouse"), ident),
        )


# A device lists the transfers from or to its site: the two warehouses as indexed columns
# (they never change once a transfer is proposed) instead of read out of every document.
TRANSFER_SITES: list[Statement] = [
    "ALTER TABLE transfers ADD COLUMN from_warehouse TEXT",
    "ALTER TABLE transfers ADD COLUMN to_warehouse TEXT",
    "CREATE INDEX transfers_from ON transfers (from_warehouse)",
    "CREATE INDEX transfers_to ON transfers (to_warehouse)",
]


def _orders_waiting_stock(cursor: Any, dialect: Dialect) -> None:
    """Mark the orders taken before the column that have a line short."""
    p = dialect.placeholder
    cursor.execute("SELECT id, doc FROM orders")
    for ident, doc in cursor.fetchall():
        if line_short(loads(doc) or {}):
            cursor.execute(f"UPDATE orders SET waiting_stock = 1 WHERE id = {p}", (ident,))


# When stock arrives, the orders waiting for it (a line short) are found by an index on
# a flag kept with every order write, not by reading every open order's document.
ORDERS_WAITING_STOCK: list[Statement] = [
    "ALTER TABLE orders ADD COLUMN waiting_stock INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX orders_waiting_stock ON orders (warehouse) WHERE waiting_stock = 1",
]

# Bins a picker reported short are listed for a count until one is recorded: the two op
# kinds that decide it are found by time without reading every op.
OPS_BIN_CHECKS: list[Statement] = [
    "CREATE INDEX ops_bin_checks ON ops (received_at) "
    "WHERE kind IN ('pick.short', 'stock.counted')",
]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", schema.INITIAL, _seed_meta),
    Migration(2, "carrier_analytics", ANALYTICS_SCHEMA),
    Migration(3, "customer_feedback", FEEDBACK_SCHEMA, start_cursor),
    Migration(4, "postgres_feed_counter", POSTGRES_FEED_COUNTER),
    Migration(5, "lean_ledger", LEAN_LEDGER),
    Migration(6, "masters_version", (), _seed_masters_version),
    # An order's feed row points at its row in ``orders`` instead of holding a copy.
    Migration(7, "feed_refs", ["ALTER TABLE feed ADD COLUMN ref TEXT"]),
    Migration(8, "transfer_sites", TRANSFER_SITES, _transfer_sites),
    Migration(9, "orders_waiting_stock", ORDERS_WAITING_STOCK, _orders_waiting_stock),
    Migration(10, "ops_bin_checks", OPS_BIN_CHECKS),
    # A tracking page lists its order's questions: found by order, not by reading all.
    Migration(
        11, "inquiries_order", ["CREATE INDEX inquiries_order ON inquiries (order_id, created_at)"]
    ),
)

BOOKKEEPING = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL)"""


def render(statement: Statement, dialect: Dialect) -> str | None:
    """The statement for this backend with the dialect's column types filled in (None
    when the statement is another backend's only)."""
    if not isinstance(statement, str):
        chosen = statement.get(dialect.name)
        if chosen is None:
            return None
        statement = chosen
    return statement.format(autoinc_pk=dialect.autoinc_pk, json=dialect.json_type)


def pending(applied: set[int]) -> list[Migration]:
    """Migrations not yet applied, in order."""
    return [m for m in MIGRATIONS if m.version not in applied]


def apply_migrations(connection: Any, dialect: Dialect, begin: str = "BEGIN") -> list[int]:
    """Bring the schema up to date on an autocommit DB-API connection; returns the
    versions applied now."""
    cursor = connection.cursor()
    try:
        cursor.execute(BOOKKEEPING)
        cursor.execute("SELECT version FROM schema_migrations")
        applied = {int(row[0]) for row in cursor.fetchall()}
        done: list[int] = []
        p = dialect.placeholder
        for migration in pending(applied):
            cursor.execute(begin)
            try:
                for statement in migration.statements:
                    sql = render(statement, dialect)
                    if sql is not None:
                        cursor.execute(sql)
                if migration.after is not None:
                    migration.after(cursor, dialect)
                cursor.execute(
                    f"INSERT INTO schema_migrations (version, name, applied_at) VALUES ({p}, {p}, {p})",
                    (migration.version, migration.name, datetime.now(UTC).isoformat()),
                )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            done.append(migration.version)
        return done
    finally:
        cursor.close()
