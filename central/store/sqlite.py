"""The SQLite backend: one file, WAL, one writer per process (a lock around a single
write connection), a fresh read connection per reader."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from central.store.base import StoreError
from central.store.migrations import apply_migrations
from central.store.sqltx import SqlTx


@dataclass(frozen=True, slots=True)
class SqliteDialect:
    """SQLite's column types and placeholder."""

    name: str = "sqlite"
    placeholder: str = "?"
    autoinc_pk: str = "INTEGER PRIMARY KEY AUTOINCREMENT"
    json_type: str = "TEXT"


DIALECT = SqliteDialect()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class SqliteStore:
    """A central store in one SQLite file (created and migrated on open)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = _connect(self.path)
            self._writer.execute("PRAGMA journal_mode = WAL")
            apply_migrations(self._writer, DIALECT, begin="BEGIN IMMEDIATE")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.url}: cannot open the database: {exc}") from exc
        self._lock = threading.Lock()
        self._closed = False
        # Read connections are kept per thread (server threads are long-lived) and all
        # closed with the store.
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        """The one write transaction of this process at a time; commits on success."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.url}: store is closed")
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqlTx(conn, DIALECT)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def reader(self) -> Iterator[SqlTx]:
        """A consistent read snapshot on this thread's read connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._readers_lock:
                if self._closed:
                    raise StoreError(f"{self.url}: store is closed")
                conn = _connect(self.path)
                self._readers.append(conn)
            self._local.conn = conn
        conn.execute("BEGIN")
        try:
            yield SqlTx(conn, DIALECT)
        finally:
            conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the write connection and every read connection."""
        with self._lock, self._readers_lock:
            if not self._closed:
                self._closed = True
                self._writer.close()
                for conn in self._readers:
                    conn.close()
                self._readers.clear()
