"""The central store: ``open_store(url)`` picks the backend from the URL."""

from __future__ import annotations

import os
from pathlib import Path

from central.store.base import Store, StoreError

__all__ = ["Store", "StoreError", "default_db_url", "open_store"]


def data_dir() -> Path:
    """``$RUSHLINE_DATA_DIR``, else ``~/.local/share/rushline``."""
    env = os.environ.get("RUSHLINE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "rushline"


def default_db_url() -> str:
    """The default database: ``central.db`` in the data directory."""
    return f"sqlite:///{data_dir() / 'central.db'}"


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating) the store named by ``url``:
    ``sqlite:///path``, a bare path, or ``postgresql://...``."""
    url = url or default_db_url()
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
    elif url.startswith(("postgresql://", "postgres://")):
        try:
            from central.store import postgres
        except ImportError as exc:
            raise StoreError(f"{url}: the PostgreSQL backend is not installed") from exc
        return postgres.PostgresStore(url)
    elif "://" in url:
        raise StoreError(f"{url}: unsupported database URL (use sqlite:///PATH)")
    else:
        path = url
    from central.store.sqlite import SqliteStore

    return SqliteStore(path)
