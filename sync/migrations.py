"""A small ordered migrations helper for sqlite-utils databases.

Each migration runs with its bookkeeping row in one transaction, so a crash mid-way
leaves the database at the previous version and the migration runs again on reopen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlite_utils import Database

MigrationFn = Callable[[Database], None]
TABLE = "_migrations"


@dataclass
class Migrations:
    """Named migrations in registration order; ``apply(db)`` runs the missing ones."""

    name: str
    steps: list[tuple[str, MigrationFn]] = field(default_factory=list)

    def __call__(self, fn: MigrationFn) -> MigrationFn:
        """Register ``fn`` (used as a decorator); its name is the function's name."""
        if any(step_name == fn.__name__ for step_name, _ in self.steps):
            raise ValueError(f"migration {fn.__name__} registered twice")
        self.steps.append((fn.__name__, fn))
        return fn

    def applied(self, db: Database) -> list[str]:
        """Names already applied to ``db`` for this migration set, in order."""
        if not db[TABLE].exists():
            return []
        rows = db.execute(
            f"SELECT name FROM {TABLE} WHERE migration_set = ? ORDER BY id", [self.name]
        ).fetchall()
        return [row[0] for row in rows]

    def apply(self, db: Database) -> list[str]:
        """Apply every registered migration not yet applied; return the names applied."""
        conn = db.conn
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, "
            "migration_set TEXT NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, "
            "UNIQUE (migration_set, name))"
        )
        done = set(self.applied(db))
        newly: list[str] = []
        for name, fn in self.steps:
            if name in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                fn(db)
                conn.execute(
                    f"INSERT INTO {TABLE} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                    [self.name, name, datetime.now(UTC).isoformat()],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            newly.append(name)
        return newly
