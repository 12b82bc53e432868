"""Typed read helpers of the device store's view (what the user sees).

Reads use one connection per thread (WAL lets them run beside the writer), so a UI or a
sorter looking a tote up never waits for a sync round's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from sync.schema import gtin_key

Row = dict[str, Any]

# Orders whose totes are free again: packed (every tote's units are in the parcel) or
# closed; and the statuses of an order that can have a tote set aside for a top-up.
_TOTE_FREED = ("packed", "shipped", "delivered", "cancelled")
_TOTE_HELD = ("picking", "picked", "on_hold")


class ViewReads:
    """Mixin: the read side of ``LocalStore``; subclasses provide ``_reader()`` and ``site``."""

    site: str

    def _reader(self) -> sqlite3.Connection:  # pragma: no cover - provided by LocalStore
        raise NotImplementedError

    def _one(self, sql: str, params: Iterable[Any]) -> Row | None:
        row = self._reader().execute(sql, list(params)).fetchone()
        return json.loads(row[0]) if row else None

    def _many(self, sql: str, params: Iterable[Any]) -> list[Row]:
        return [json.loads(r[0]) for r in self._reader().execute(sql, list(params)).fetchall()]

    def get(self, entity: str, id: str) -> Row | None:
        """The view of one row (``entity`` as in the sync contract), or None."""
        return self._one("SELECT data FROM view WHERE entity = ? AND id = ?", (entity, id))

    def all(self, entity: str) -> list[Row]:
        """Every view row of ``entity``, by id."""
        return self._many("SELECT data FROM view WHERE entity = ? ORDER BY id", (entity,))

    def base(self, entity: str, id: str) -> Row | None:
        """The server's version of one row as last pulled (no local ops), or None."""
        return self._one("SELECT data FROM base WHERE entity = ? AND id = ?", (entity, id))

    def order(self, order_id: str) -> Row | None:
        """One order as the user sees it (own unsynced work included)."""
        return self.get("order", order_id)

    def order_statuses(self, order_ids: Iterable[str]) -> dict[str, str]:
        """The status of each of these orders the store has, read off the view's status
        column (no document is parsed)."""
        ids = list(dict.fromkeys(order_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            out.update(
                self._reader()
                .execute(
                    f"SELECT id, status FROM view WHERE entity = 'order' AND id IN ({marks})",
                    part,
                )
                .fetchall()
            )
        return out

    def orders(
        self, status: str | Iterable[str] | None = None, warehouse: str | None = None
    ) -> list[Row]:
        """Orders, most urgent first (level, deadline, score); filter by status(es)/warehouse."""
        return self._filtered("order", status, warehouse)

    def tasks(
        self, status: str | Iterable[str] | None = "open", warehouse: str | None = None
    ) -> list[Row]:
        """Pick tasks, most urgent first (level, deadline); default only open ones."""
        return self._filtered("task", status, warehouse)

    def _filtered(
        self, entity: str, status: str | Iterable[str] | None, warehouse: str | None
    ) -> list[Row]:
        sql = "SELECT data FROM view WHERE entity = ?"
        params: list[Any] = [entity]
        if status is not None:
            statuses = [status] if isinstance(status, str) else [str(s) for s in status]
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            params.extend(statuses)
        if warehouse is not None:
            sql += " AND warehouse = ?"
            params.append(warehouse)
        return self._many(sql + " ORDER BY rank, id", params)

    def stock(self, sku: str, warehouse: str | None = None) -> list[Row]:
        """Stock rows of ``sku`` per location (optionally one warehouse), by location."""
        sql = "SELECT data FROM view WHERE entity = 'stock' AND lookup = ?"
        params: list[Any] = [sku]
        if warehouse is not None:
            sql += " AND warehouse = ?"
            params.append(warehouse)
        return self._many(sql + " ORDER BY warehouse, rank", params)

    def sku(self, sku: str) -> Row | None:
        """A SKU's master data."""
        return self.get("sku", sku)

    def sku_by_gtin(self, gtin: str) -> Row | None:
        """The SKU with this GTIN (GTIN-8/12/13/14 match with or without leading zeros)."""
        key = gtin_key(gtin)
        if key is None:
            return None
        return self._one(
            "SELECT data FROM view WHERE entity = 'sku' AND lookup = ? ORDER BY id LIMIT 1",
            (key,),
        )

    def location(self, code: str, warehouse: str | None = None) -> Row | None:
        """A bin by code, in ``warehouse`` (default: this device's site)."""
        found = self.get("location", f"{warehouse or self.site}/{code}")
        if found is not None or warehouse is not None:
            return found
        return self._one(
            "SELECT data FROM view WHERE entity = 'location' AND lookup = ? ORDER BY id LIMIT 1",
            (code,),
        )

    def order_by_tote(self, tote: str) -> Row | None:
        """The order in ``tote`` (indexed); an open order wins over a closed one."""
        return self._one(
            "SELECT data FROM view WHERE entity = 'order' AND lookup = ? "
            "ORDER BY status IN ('shipped', 'delivered', 'cancelled'), rank LIMIT 1",
            (tote,),
        )

    def order_in_tote(self, tote: str) -> Row | None:
        """The order ``tote`` holds for the packer: an open order whose current tote it
        is, else an open order that was in it before (a tote set aside at packing while
        a top-up was picked into another), else a closed order that was in it."""
        row = self.order_by_tote(tote)
        if row is not None and row.get("status") not in _TOTE_FREED:
            return row
        # An order with a tote set aside has been picked into it: only orders being
        # picked, picked or held are read (by the status index), not every open order.
        earlier = self._one(
            "SELECT data FROM view WHERE entity = 'order' "
            f"AND status IN ({','.join('?' * len(_TOTE_HELD))}) "
            "AND EXISTS (SELECT 1 FROM json_each(data, '$.totes') WHERE value = ?) "
            "ORDER BY rank LIMIT 1",
            (*_TOTE_HELD, tote),
        )
        return earlier or row

    def carriers(self) -> list[Row]:
        """Every carrier service."""
        return self.all("carrier")

    def carrier_stats(self) -> list[Row]:
        """Measured on-time counts per (service, country)."""
        return self.all("carrier_stats")

    def disruptions(self) -> list[Row]:
        """Known disruptions."""
        return self.all("disruption")

    def warehouses(self) -> list[Row]:
        """Every warehouse."""
        return self.all("warehouse")

    def count(self, entity: str) -> int:
        """How many view rows ``entity`` has."""
        row = self._reader().execute("SELECT count(*) FROM view WHERE entity = ?", [entity])
        return int(row.fetchone()[0])
