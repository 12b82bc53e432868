"""Schema migrations, registered in order; each is applied together with its
bookkeeping row in one transaction, so a crash leaves either both or neither."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from central.store import schema
from central.store.analytics_sql import ANALYTICS_SCHEMA
from central.store.base import Dialect
from central.store.feedback_sql import FEEDBACK_SCHEMA, start_cursor


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change: SQL statements plus an optional data step."""

    version: int
    name: str
    statements: Sequence[str]
    after: Callable[[Any, Dialect], None] | None = None


def _seed_meta(cursor: Any, dialect: Dialect) -> None:
    # The feed epoch names this database's change feed; a rebuilt feed gets a new one.
    p = dialect.placeholder
    cursor.execute(
        f"INSERT INTO meta (key, value) VALUES ({p}, {p})", ("epoch", secrets.token_hex(8))
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", schema.INITIAL, _seed_meta),
    Migration(2, "carrier_analytics", ANALYTICS_SCHEMA),
    Migration(3, "customer_feedback", FEEDBACK_SCHEMA, start_cursor),
)

BOOKKEEPING = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL)"""


def render(statement: str, dialect: Dialect) -> str:
    """Fill the dialect's column types into a schema statement."""
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
                    cursor.execute(render(statement, dialect))
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
