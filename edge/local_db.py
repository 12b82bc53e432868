"""The station's own tables beside the sync store, in the same SQLite file.

One connection per owner, shared across threads under the owner's lock; WAL with full
sync so a committed tracking number or pickup parcel survives a power cut.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path


def open_local_db(path: Path, schema: Iterable[str]) -> sqlite3.Connection:
    """Connect to ``path`` (autocommit, any thread), set WAL/full sync and create ``schema``."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        for sql in schema:
            conn.execute(sql)
    except BaseException:
        conn.close()
        raise
    return conn
