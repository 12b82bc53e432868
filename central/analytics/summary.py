"""``GET /v1/reports/summary``: one grouped query per table, then ``domain.analytics``
does the arithmetic."""

from __future__ import annotations

from datetime import datetime

from central.store.analytics_sql import AnalyticsSql
from central.store.base import Store
from domain.analytics import MILESTONES, WORK_KINDS, Summary, summarise


def build_summary(store: Store, now: datetime) -> Summary:
    """The analytics report over everything in ``store``, as of ``now``."""
    with store.reader() as tx:
        sql = AnalyticsSql(tx)
        orders = sql.order_facts()
        marks = sql.milestone_rows(MILESTONES, last="picked")
        deliveries = sql.delivery_rows()
        work = sql.work_groups(tuple(WORK_KINDS))
    # Rows arrive in the layouts domain.analytics documents; times are converted by the
    # database, so nothing here touches a row one by one.
    return summarise(orders, marks, deliveries, work, now=now)
