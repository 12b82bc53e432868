"""``GET /v1/reports/summary``: pull each table once, convert times, let
``domain.analytics`` do the arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from central.store.analytics_sql import AnalyticsSql
from central.store.base import Store
from domain.analytics import MILESTONES, WORK_KINDS, Summary, summarise


class _Epochs:
    """ISO text -> POSIX seconds, memoised: timeline rows written in one step share a time."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def __call__(self, text: str) -> float:
        value = self._seen.get(text)
        if value is None:
            value = datetime.fromisoformat(text).timestamp()
            self._seen[text] = value
        return value


def _units(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 1  # an op without a quantity is one unit of work


def build_summary(store: Store, now: datetime) -> Summary:
    """The analytics report over everything in ``store``, as of ``now``."""
    with store.reader() as tx:
        sql = AnalyticsSql(tx)
        order_rows = sql.order_facts()
        timeline_rows = sql.milestone_rows(MILESTONES)
        delivery_rows = sql.delivery_rows()
        work_rows = sql.work_rows(tuple(WORK_KINDS))
    epoch = _Epochs()
    orders = [(str(o), str(lv), str(st), epoch(dl)) for o, lv, st, dl in order_rows]
    timeline: Iterable[tuple[str, str, float]] = [(o, e, epoch(at)) for o, e, at in timeline_rows]
    deliveries = [(o, s, c, epoch(at)) for o, s, c, at in delivery_rows]
    work = [
        (str(dev), str(kind), epoch(at), None if op is None else str(op), _units(qty))
        for dev, kind, at, op, qty in work_rows
    ]
    return summarise(orders, timeline, deliveries, work, now=now)
