"""Shared plumbing of the portable SQL transaction: statements, JSON columns, chunks.

Statements are written with ``?`` and rewritten to the dialect's placeholder once;
lists go through ``IN (...)`` in chunks; upserts use ``ON CONFLICT``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import orjson

from central.store.base import BIN_REF, BinRef, Dialect, FeedRef, chunks

_CHUNK = 500
# Rows per multi-row INSERT: 100 rows of up to 9 columns stay under SQLite's oldest
# limit of 999 parameters.
_ROWS_PER_INSERT = 100
LEVEL_ORDER = "CASE level WHEN 'P1' THEN 1 WHEN 'P2' THEN 2 WHEN 'P3' THEN 3 ELSE 4 END"


_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS


def _json_default(value: Any) -> Any:
    """What orjson cannot write itself: sets as lists (sorted, so equal sets are equal
    text)."""
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(doc: Any) -> str:
    """Compact JSON text of a document (UTF-8, keys in the document's order), written by
    orjson: about three times faster than pydantic-core's encoder on an op's data, which
    a push writes 500 times."""
    return orjson.dumps(doc, default=_json_default, option=_NON_STR_KEYS).decode()


def feed_columns(data: Any) -> tuple[str | None, str | None]:
    """A feed row's ``data`` and ``ref`` columns for a change's data (a document,
    ``None`` for a deletion, a ``FeedRef`` or a ``BinRef``)."""
    if data is None:
        return None, None
    if isinstance(data, BinRef):
        return dumps([data.warehouse, data.location, data.sku]), BIN_REF
    if isinstance(data, FeedRef):
        return None, data.table
    return dumps(data), None


def line_short(doc: Any) -> int:
    """1 when a line of the order document is short (waiting for stock), else 0: the
    order row's ``waiting_stock`` column."""
    return 1 if any(line.get("short") for line in doc.get("lines") or ()) else 0


def loads(text: Any) -> Any:
    """A document from a JSON column (text, or already decoded by the driver)."""
    if text is None:
        return None
    if isinstance(text, dict | list):  # a backend with a native JSON type
        return text
    # orjson gives the same values as json.loads; an order document parses in about 60%
    # of pydantic-core's time.
    return orjson.loads(text)


@lru_cache(maxsize=512)
def _rewrite(sql: str, placeholder: str) -> str:
    return sql if placeholder == "?" else sql.replace("?", placeholder)


class SqlBase:
    """A DB-API connection, its dialect and the statement helpers."""

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
            # Lists of tuples (what the callers build) go to the driver as they are.
            batch = rows if isinstance(rows, list) else [tuple(r) for r in rows]
            cursor.executemany(self._sql(sql), batch)
        finally:
            cursor.close()

    def _insert(self, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        """``head VALUES (...), (...), ... tail`` with up to ``_ROWS_PER_INSERT`` rows per
        statement: for the big inserts of a push, a third faster than ``executemany``
        (one statement step per chunk instead of one per row)."""
        if not rows:
            return
        ph = self._dialect.placeholder
        one = "(" + ",".join([ph] * len(rows[0])) + ")"
        for part in chunks(rows, _ROWS_PER_INSERT):
            cursor = self._conn.cursor()
            try:
                cursor.execute(
                    f"{head} VALUES {','.join([one] * len(part))}{tail}",
                    list(chain.from_iterable(part)),
                )
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
