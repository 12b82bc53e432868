"""Analytics maths: where time went, which carriers are late, which stations and
operators carry the load, and which floor stage is the bottleneck.

Pure and fast: inputs are plain tuples (as a database cursor returns them) with times
as POSIX seconds, one row per order for its milestones and one per (station, kind,
operator) for work; stage spans are numpy vectors, so 100,000 orders summarise in well
under a second. Percentiles interpolate linearly between closest ranks (as
``numpy.percentile``'s default and ``statistics.quantiles(method="inclusive")``).

Row layouts (positional, documented here once):

- ``OrderFact``: ``(order_id, level, status, deadline_ts)``
- ``MilestoneRow``: ``(order_id, received_ts, allocated_ts, picked_ts, packed_ts,
  shipped_ts, delivered_ts)``, None where not reached; ``milestones`` builds them from
  ``TimelineMark`` rows ``(order_id, event, at_ts)``
- ``DeliveryFact``: ``(order_id, service, country, delivered_ts)``
- ``WorkGroup``: ``(device, kind, operator, ops, units, first_ts, last_ts)``: device
  operations of one kind (and operator) grouped; a single op is ``ops=1, first=last``
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import datetime
from typing import Any

import numpy as np

from domain.analytics_models import (
    Bottleneck,
    OnTime,
    Queue,
    Spread,
    StageStats,
    Summary,
    Throughput,
    iso_time,
    percentile,
)
from domain.models import DomainError, Level

__all__ = [
    "FLOOR_STAGES",
    "MILESTONES",
    "STAGES",
    "URGENT_LEVELS",
    "WORK_KINDS",
    "Bottleneck",
    "DeliveryFact",
    "MilestoneRow",
    "OnTime",
    "OrderFact",
    "Queue",
    "Spread",
    "StageStats",
    "Summary",
    "Throughput",
    "TimelineMark",
    "WorkGroup",
    "duration_text",
    "iso_time",
    "milestones",
    "percentile",
    "summarise",
    "throughput",
]

OrderFact = tuple[str, str, str, float]
TimelineMark = tuple[str, str, float]
_Ts = float | None
MilestoneRow = tuple[str, _Ts, _Ts, _Ts, _Ts, _Ts, _Ts]
DeliveryFact = tuple[str, str, str, float]
WorkGroup = tuple[str, str, str | None, int, int, float, float]

MILESTONES: tuple[str, ...] = ("received", "allocated", "picked", "packed", "shipped", "delivered")
"""Timeline events that mark an order reaching each point of its path, in order."""

STAGES: tuple[str, ...] = ("allocate", "pick", "pack", "ship", "deliver")
"""Stage ``STAGES[i]`` runs from ``MILESTONES[i]`` to ``MILESTONES[i + 1]``."""

FLOOR_STAGES: tuple[str, ...] = STAGES[:4]
"""The stages the warehouse controls (delivery is the carrier's)."""

URGENT_LEVELS = frozenset(level.value for level in Level if level.is_urgent)

# Picking an order is a run of per-line events: it is done at the last one; every other
# milestone counts from its first occurrence (a repeat is a late duplicate).
_MILESTONE_INDEX = {name: i for i, name in enumerate(MILESTONES)}
_PICKED = _MILESTONE_INDEX["picked"]
_NOT_PICKED = frozenset({"received", "allocated", "picking"})

# Where an open order waits, by status: (stage it is in, milestone its wait started at).
_WAITING: dict[str, tuple[int, int]] = {
    "received": (0, 0),
    "allocated": (1, 1),
    "picking": (1, 1),
    "picked": (2, 2),
    "packed": (3, 3),
    "shipped": (4, 4),
}

# Work operations counted as station throughput, and what one of them is called.
WORK_KINDS: Mapping[str, str] = {
    "pick.confirmed": "pick lines",
    "pack.verified": "pack scans",
    "order.packed": "orders packed",
    "order.shipped": "orders shipped",
    "tote.diverted": "totes diverted",
    "label.printed": "labels printed",
}


def milestones(timeline: Iterable[TimelineMark]) -> list[MilestoneRow]:
    """Per order, when it reached each of ``MILESTONES`` (the first time; picking at
    the last pick line), from raw timeline events; other events are ignored."""
    marks: dict[str, list[float | None]] = {}
    index = _MILESTONE_INDEX
    for order_id, event, at in timeline:
        i = index.get(event)
        if i is None:
            continue
        row = marks.get(order_id)
        if row is None:
            row = marks[order_id] = [None, None, None, None, None, None]
        current = row[i]
        if current is None or (at > current if i == _PICKED else at < current):
            row[i] = at
    return [(order_id, r[0], r[1], r[2], r[3], r[4], r[5]) for order_id, r in marks.items()]


def _stage_stats(
    levels: Mapping[str, str], marks: Iterable[MilestoneRow], picking: Set[str]
) -> tuple[StageStats, ...]:
    known = [row for row in marks if row[0] in levels]
    # One array of milestone times (None -> NaN) and one of levels: every stage's spans
    # come from one vector subtraction instead of a Python loop per order.
    times = np.array([row[1:] for row in known], dtype=np.float64).reshape(-1, len(MILESTONES))
    if picking:
        # Lines picked so far are not a picked order: its pick stage is still running.
        partial = np.array([row[0] in picking for row in known], dtype=bool)
        times[partial, _PICKED] = np.nan
    order_levels = np.array([levels[row[0]] for row in known], dtype=object)
    spans = times[:, 1:] - times[:, :-1]
    result = []
    for i, stage in enumerate(STAGES):
        column = spans[:, i]
        # NaN (a milestone not reached) compares False; a negative span is clock skew
        # between writers, not a duration: both are left out.
        ok = column >= 0
        by_level: dict[str, Spread] = {}
        present = order_levels[ok]
        for level in sorted(set(present.tolist())):
            spread = Spread.of_array(column[ok & (order_levels == level)])
            if spread is not None:
                by_level[str(level)] = spread
        result.append(
            StageStats(
                stage, MILESTONES[i], MILESTONES[i + 1], Spread.of_array(column[ok]), by_level
            )
        )
    return tuple(result)


def _queues(
    orders: Sequence[OrderFact], marks: Mapping[str, MilestoneRow], now_ts: float
) -> tuple[Queue, ...]:
    ages: list[list[float]] = [[] for _ in STAGES]
    waiting = [0] * len(STAGES)
    for order_id, _level, status, _deadline in orders:
        where = _WAITING.get(status)
        if where is None:
            continue
        in_stage, since = where
        waiting[in_stage] += 1
        row = marks.get(order_id)
        started = row[1:][since] if row is not None else None
        if started is not None:
            ages[in_stage].append(max(0.0, now_ts - started))
    result = []
    for i, stage in enumerate(STAGES):
        spread = Spread.of(ages[i])
        result.append(
            Queue(
                stage,
                waiting[i],
                spread.max_s if spread else None,
                spread.p90_s if spread else None,
            )
        )
    return tuple(result)


def _bottleneck(stages: Sequence[StageStats], queues: Sequence[Queue]) -> Bottleneck | None:
    floor = [s for s in stages if s.stage in FLOOR_STAGES and s.overall is not None]
    total = sum(s.overall.p90_s for s in floor if s.overall is not None)
    if not floor or total <= 0:
        return None
    worst = max(floor, key=lambda s: s.overall.p90_s if s.overall else 0.0)
    p90 = worst.overall.p90_s if worst.overall else 0.0
    share = p90 / total
    reason = (
        f"{worst.stage} ({worst.start} -> {worst.end}) takes {share:.0%} of the floor's "
        f"p90 time: p90 {duration_text(p90)}"
    )
    # A queue that has already waited longer than the slowest stage usually runs is the
    # bottleneck forming now, before completed orders show it.
    for queue in queues:
        if (
            queue.stage in FLOOR_STAGES
            and queue.p90_age_s is not None
            and queue.p90_age_s > p90
            and queue.waiting > 0
        ):
            reason += (
                f"; queue now: {queue.waiting} orders waiting to {queue.stage}, p90 wait "
                f"{duration_text(queue.p90_age_s)}"
            )
    return Bottleneck(worst.stage, p90, share, reason)


def _on_time(
    orders: Mapping[str, tuple[str, float]], deliveries: Iterable[DeliveryFact]
) -> tuple[
    OnTime,
    OnTime,
    dict[str, OnTime],
    dict[str, OnTime],
    dict[tuple[str, str], OnTime],
]:
    level_counts: dict[str, list[int]] = {}
    carrier_counts: dict[str, list[int]] = {}
    lane_counts: dict[tuple[str, str], list[int]] = {}
    seen: set[str] = set()
    for order_id, service, country, delivered in deliveries:
        facts = orders.get(order_id)
        if facts is None or order_id in seen:
            continue
        seen.add(order_id)
        level, deadline = facts
        hit = 1 if delivered <= deadline else 0
        for key, counts in (
            (level, level_counts),
            (service, carrier_counts),
        ):
            pair = counts.setdefault(key, [0, 0])
            pair[0] += hit
            pair[1] += 1
        lane = lane_counts.setdefault((service, country.upper()), [0, 0])
        lane[0] += hit
        lane[1] += 1
    urgent = [0, 0]
    standard = [0, 0]
    for level, (hit, total) in level_counts.items():
        target = urgent if level in URGENT_LEVELS else standard
        target[0] += hit
        target[1] += total
    return (
        OnTime(urgent[0], urgent[1]),
        OnTime(standard[0], standard[1]),
        {k: OnTime(*level_counts[k]) for k in sorted(level_counts)},
        {k: OnTime(*carrier_counts[k]) for k in sorted(carrier_counts)},
        {k: OnTime(*lane_counts[k]) for k in sorted(lane_counts)},
    )


def throughput(
    work: Iterable[WorkGroup],
) -> tuple[tuple[Throughput, ...], tuple[Throughput, ...]]:
    """Per station (device) and per operator: operations, units and rate, busiest first.
    A station's ``kind`` is the work it did most; operators are counted on pick lines."""
    stations: dict[str, list[Any]] = {}
    kinds: dict[str, dict[str, int]] = {}
    operators: dict[str, list[Any]] = {}
    for device, kind, operator, ops, units, first, last in work:
        label = WORK_KINDS.get(kind)
        if label is None or ops <= 0:
            continue
        _add(stations, device, ops, units, first, last)
        counts = kinds.setdefault(device, {})
        counts[label] = counts.get(label, 0) + ops
        if operator and kind == "pick.confirmed":
            _add(operators, operator, ops, units, first, last)
    station_rows = [
        Throughput(name, max(kinds[name].items(), key=lambda kv: (kv[1], kv[0]))[0], *row)
        for name, row in stations.items()
    ]
    operator_rows = [Throughput(name, "pick lines", *row) for name, row in operators.items()]

    def busiest(t: Throughput) -> tuple[float, str]:
        return (-t.ops, t.name)

    return tuple(sorted(station_rows, key=busiest)), tuple(sorted(operator_rows, key=busiest))


def _add(
    totals: dict[str, list[Any]], name: str, ops: int, units: int, first: float, last: float
) -> None:
    row = totals.get(name)
    if row is None:
        totals[name] = [ops, units, first, last]
    else:
        row[0] += ops
        row[1] += units
        row[2] = min(row[2], first)
        row[3] = max(row[3], last)


def summarise(
    orders: Sequence[OrderFact],
    marks: Iterable[MilestoneRow],
    deliveries: Iterable[DeliveryFact] = (),
    work: Iterable[WorkGroup] = (),
    now: datetime | None = None,
) -> Summary:
    """The report over ``orders`` (see the module docstring for row layouts); ``now``
    (aware) ages the open orders' queues and stamps the report."""
    if now is None or now.tzinfo is None:
        raise DomainError("summarise needs an aware 'now'")
    levels: dict[str, str] = {}
    facts: dict[str, tuple[str, float]] = {}
    by_status: dict[str, int] = {}
    by_level: dict[str, int] = {}
    picking: set[str] = set()
    for order_id, level, status, deadline in orders:
        levels[order_id] = level
        facts[order_id] = (level, deadline)
        by_status[status] = by_status.get(status, 0) + 1
        by_level[level] = by_level.get(level, 0) + 1
        if status in _NOT_PICKED:
            picking.add(order_id)
    by_order = {row[0]: row for row in marks}
    stages = _stage_stats(levels, by_order.values(), picking)
    queues = _queues(orders, by_order, now.timestamp())
    urgent, standard, on_level, on_carrier, on_lane = _on_time(facts, deliveries)
    stations, operators = throughput(work)
    notes = []
    if not urgent.total and not standard.total:
        notes.append("no deliveries recorded yet: post carrier events to measure on-time rates")
    return Summary(
        generated_at=now,
        orders_total=len(levels),
        by_status=dict(sorted(by_status.items())),
        by_level=dict(sorted(by_level.items())),
        stages=stages,
        queues=queues,
        bottleneck=_bottleneck(stages, queues),
        on_time_urgent=urgent,
        on_time_standard=standard,
        on_time_by_level=on_level,
        on_time_by_carrier=on_carrier,
        on_time_by_lane=on_lane,
        stations=stations,
        operators=operators,
        notes=tuple(notes),
    )


def duration_text(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"
