"""Carrier performance tables (carrier events, measured deliveries, on-time counts per
lane) and the report's bulk reads, in portable SQL over a ``SqlTx``.

Kept apart from ``sqltx.py`` so analytics stays one additive migration and one module.
The report reads each table with one query and leaves the arithmetic to
``domain.analytics``; the few JSON fields it needs are pulled out by the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from central.store.base import chunks

ANALYTICS_SCHEMA = [
    # Every carrier event as received; the UNIQUE key makes a re-sent file a no-op.
    """CREATE TABLE carrier_events (
        id {autoinc_pk},
        tracking TEXT NOT NULL,
        order_id TEXT NOT NULL,
        service TEXT NOT NULL,
        event TEXT NOT NULL,
        at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (tracking, event, at))""",
    "CREATE INDEX carrier_events_order ON carrier_events (order_id)",
    # One row per delivered order (the first delivery wins): what the on-time rates count.
    """CREATE TABLE carrier_deliveries (
        order_id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        country TEXT NOT NULL,
        level TEXT NOT NULL,
        deadline TEXT NOT NULL,
        delivered_at TEXT NOT NULL,
        on_time INTEGER NOT NULL)""",
    # Running counts per (service, destination country); country "*" is the service total.
    """CREATE TABLE carrier_stats (
        service TEXT NOT NULL,
        country TEXT NOT NULL,
        on_time INTEGER NOT NULL,
        total INTEGER NOT NULL,
        PRIMARY KEY (service, country))""",
]

_CHUNK = 500


def _loads(text: Any) -> Any:
    if isinstance(text, dict | list):  # a backend with a native JSON type
        return text
    return json.loads(text)


@dataclass(frozen=True, slots=True)
class ShippedOrder:
    """What a carrier event needs of an order found by its tracking number."""

    order_id: str
    tracking: str
    doc: dict[str, Any]


class AnalyticsSql:
    """Analytics reads and writes inside one transaction (a ``SqlTx``)."""

    def __init__(self, tx: Any) -> None:
        # SqlTx's plumbing rewrites placeholders per dialect; reusing it keeps this
        # module backend-neutral without widening the shared Tx interface.
        self._tx = tx
        self._dialect_name = str(getattr(getattr(tx, "_dialect", None), "name", "sqlite"))

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._tx._all(sql, params)  # type: ignore[no-any-return]

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._tx._many(sql, rows)

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of a top-level JSON field (SQLite and PostgreSQL)."""
        if self._dialect_name == "sqlite":
            return f"json_extract({column}, '$.{key}')"
        return f"(({column})::jsonb ->> '{key}')"

    # --- carrier events -----------------------------------------------------------------

    def orders_by_tracking(self, numbers: Iterable[str]) -> dict[str, ShippedOrder]:
        """Orders carrying these tracking numbers, by number."""
        wanted = list(dict.fromkeys(numbers))
        found: dict[str, ShippedOrder] = {}
        expr = self.json_text("doc", "tracking")
        for part in chunks(wanted, _CHUNK):
            marks = ",".join("?" * len(part))
            rows = self._all(
                f"SELECT id, {expr}, doc FROM orders WHERE {expr} IN ({marks})",
                tuple(part),
            )
            for order_id, number, doc in rows:
                found[str(number)] = ShippedOrder(str(order_id), str(number), _loads(doc))
        return found

    def known_carrier_events(
        self, keys: Iterable[tuple[str, str, str]]
    ) -> set[tuple[str, str, str]]:
        """Which ``(tracking, event, at)`` events were already received."""
        wanted = set(keys)
        known: set[tuple[str, str, str]] = set()
        numbers = sorted({k[0] for k in wanted})
        for part in chunks(numbers, _CHUNK):
            marks = ",".join("?" * len(part))
            rows = self._all(
                f"SELECT tracking, event, at FROM carrier_events WHERE tracking IN ({marks})",
                tuple(part),
            )
            known.update(
                k for k in ((str(r[0]), str(r[1]), str(r[2])) for r in rows) if k in wanted
            )
        return known

    def add_carrier_events(self, rows: Sequence[tuple[str, str, str, str, str, str]]) -> None:
        """Store events ``(tracking, order_id, service, event, at, received_at)``."""
        self._many(
            "INSERT INTO carrier_events (tracking, order_id, service, event, at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tracking, event, at) DO NOTHING",
            rows,
        )

    def delivered_order_ids(self, order_ids: Iterable[str]) -> set[str]:
        """Which of these orders already have a measured delivery."""
        result: set[str] = set()
        for part in chunks(list(dict.fromkeys(order_ids)), _CHUNK):
            marks = ",".join("?" * len(part))
            rows = self._all(
                f"SELECT order_id FROM carrier_deliveries WHERE order_id IN ({marks})", tuple(part)
            )
            result.update(str(r[0]) for r in rows)
        return result

    def add_deliveries(self, rows: Sequence[tuple[str, str, str, str, str, str, bool]]) -> None:
        """Record deliveries ``(order_id, service, country, level, deadline, delivered_at,
        on_time)``; an order already measured keeps its first delivery."""
        self._many(
            "INSERT INTO carrier_deliveries (order_id, service, country, level, deadline, "
            "delivered_at, on_time) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (order_id) DO NOTHING",
            [(*r[:6], int(r[6])) for r in rows],
        )

    def bump_carrier_stats(self, deltas: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Add ``(on_time, total)`` to the counts of each ``(service, country)``."""
        self._many(
            "INSERT INTO carrier_stats (service, country, on_time, total) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (service, country) DO UPDATE SET "
            "on_time = carrier_stats.on_time + excluded.on_time, "
            "total = carrier_stats.total + excluded.total",
            [(s, c, hit, total) for (s, c), (hit, total) in sorted(deltas.items())],
        )

    def carrier_stats(
        self, keys: Iterable[tuple[str, str]] | None = None
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """On-time counts by ``(service, country)`` (all, or the ones asked for)."""
        rows = self._all("SELECT service, country, on_time, total FROM carrier_stats")
        stats = {(str(r[0]), str(r[1])): (int(r[2]), int(r[3])) for r in rows}
        if keys is None:
            return stats
        return {k: stats[k] for k in keys if k in stats}

    # --- report reads (one query each) --------------------------------------------------

    def epoch(self, column: str) -> str:
        """SQL for a stored ISO 8601 time as POSIX seconds (to the millisecond)."""
        if self._dialect_name == "sqlite":
            return f"ROUND((julianday({column}) - 2440587.5) * 86400.0, 3)"
        return f"CAST(EXTRACT(EPOCH FROM CAST({column} AS TIMESTAMPTZ)) AS DOUBLE PRECISION)"

    def _json_int(self, column: str, key: str) -> str:
        if self._dialect_name == "sqlite":
            return f"CAST(json_extract({column}, '$.{key}') AS INTEGER)"
        return f"((({column})::jsonb ->> '{key}')::int)"

    def order_facts(self) -> list[tuple[str, str, str, float]]:
        """``(order_id, level, status, deadline_ts)`` of every order."""
        return self._all(f"SELECT id, level, status, {self.epoch('deadline')} FROM orders")

    def milestone_rows(self, events: Sequence[str], last: str) -> list[tuple[Any, ...]]:
        """One row per order: ``(order_id, ts of each of events...)``, the first time each
        event happened (the last for ``last``), None where it has not."""
        columns = ", ".join(
            f"{'MAX' if e == last else 'MIN'}(CASE WHEN event = '{e}' THEN t END)" for e in events
        )
        marks = ",".join("?" * len(events))
        return self._all(
            f"SELECT order_id, {columns} FROM (SELECT order_id, event, {self.epoch('at')} AS t "
            f"FROM timeline WHERE event IN ({marks})) m GROUP BY order_id",
            tuple(events),
        )

    def delivery_rows(self) -> list[tuple[str, str, str, float]]:
        """``(order_id, service, country, delivered_ts)`` of every measured delivery."""
        return self._all(
            f"SELECT order_id, service, country, {self.epoch('delivered_at')} "
            "FROM carrier_deliveries"
        )

    def work_groups(self, kinds: Sequence[str]) -> list[tuple[Any, ...]]:
        """Applied device ops grouped: ``(device, kind, operator, ops, units, first_ts,
        last_ts)``; the operator only for pick lines, units = ``qty`` (1 without)."""
        marks = ",".join("?" * len(kinds))
        operator = self.json_text("data", "operator")
        qty = self._json_int("data", "qty")
        return self._all(
            "SELECT device, kind, operator, COUNT(*), SUM(qty), MIN(t), MAX(t) FROM ("
            f"SELECT device, kind, CASE WHEN kind = 'pick.confirmed' THEN {operator} END "
            "AS operator, CASE WHEN kind IN ('pick.confirmed', 'pack.verified') "
            f"THEN COALESCE({qty}, 1) ELSE 1 END AS qty, {self.epoch('at')} AS t FROM ops "
            f"WHERE status = 'applied' AND kind IN ({marks})) w GROUP BY device, kind, operator",
            tuple(kinds),
        )
