"""Result shapes of the analytics report (``domain.analytics`` computes them): spreads
of durations, stage statistics, queues, on-time rates, the bottleneck and throughput,
each with its JSON shape (``to_dict``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from domain.models import DomainError

# A station active for less than this is rated over this span (no absurd rates).
MIN_SPAN_S = 60.0


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ascending ``ordered`` values, linearly interpolated."""
    if not ordered:
        raise DomainError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise DomainError(f"quantile must be within 0..1, got {q}")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Spread:
    """Count, median, 90th percentile, mean and maximum of durations in seconds."""

    count: int
    p50_s: float
    p90_s: float
    mean_s: float
    max_s: float

    @staticmethod
    def of(values: list[float]) -> Spread | None:
        """The spread of ``values`` (sorted in place); None when empty."""
        if not values:
            return None
        values.sort()
        return Spread(
            len(values),
            percentile(values, 0.5),
            percentile(values, 0.9),
            sum(values) / len(values),
            values[-1],
        )

    @staticmethod
    def of_array(values: npt.NDArray[np.float64]) -> Spread | None:
        """The spread of a numpy vector (same percentile rule); None when empty."""
        if values.size == 0:
            return None
        p50, p90 = np.percentile(values, [50.0, 90.0])
        return Spread(
            int(values.size), float(p50), float(p90), float(values.mean()), float(values.max())
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON shape, seconds rounded to 0.1."""
        return {
            "count": self.count,
            "p50_s": round(self.p50_s, 1),
            "p90_s": round(self.p90_s, 1),
            "mean_s": round(self.mean_s, 1),
            "max_s": round(self.max_s, 1),
        }


@dataclass(frozen=True, slots=True)
class StageStats:
    """Durations of one stage over all orders and per priority level."""

    stage: str
    start: str
    end: str
    overall: Spread | None
    by_level: Mapping[str, Spread]

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        return {
            "stage": self.stage,
            "from": self.start,
            "to": self.end,
            "overall": self.overall.to_dict() if self.overall else None,
            "by_level": {lvl: s.to_dict() for lvl, s in self.by_level.items()},
        }


@dataclass(frozen=True, slots=True)
class Queue:
    """Open orders waiting in a stage now and how long they have waited."""

    stage: str
    waiting: int
    oldest_s: float | None
    p90_age_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        return {
            "stage": self.stage,
            "waiting": self.waiting,
            "oldest_s": None if self.oldest_s is None else round(self.oldest_s, 1),
            "p90_age_s": None if self.p90_age_s is None else round(self.p90_age_s, 1),
        }


@dataclass(frozen=True, slots=True)
class OnTime:
    """Deliveries at or before the deadline out of all measured deliveries."""

    on_time: int
    total: int

    @property
    def rate(self) -> float | None:
        """on_time / total, None before the first delivery."""
        return self.on_time / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        rate = self.rate
        return {
            "on_time": self.on_time,
            "total": self.total,
            "rate": None if rate is None else round(rate, 4),
        }


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """The floor stage taking the largest share of the summed p90 stage times."""

    stage: str
    p90_s: float
    share: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        return {
            "stage": self.stage,
            "p90_s": round(self.p90_s, 1),
            "share": round(self.share, 4),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Throughput:
    """Work done by one station (device) or operator: count of operations, units, and
    operations per hour over its active span (first to last, at least a minute)."""

    name: str
    kind: str
    ops: int
    units: int
    first_ts: float
    last_ts: float

    @property
    def per_hour(self) -> float:
        """Operations per hour while active."""
        return self.ops * 3600.0 / max(self.last_ts - self.first_ts, MIN_SPAN_S)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        return {
            "name": self.name,
            "kind": self.kind,
            "ops": self.ops,
            "units": self.units,
            "per_hour": round(self.per_hour, 2),
            "first": iso_time(self.first_ts),
            "last": iso_time(self.last_ts),
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """The whole report (``GET /v1/reports/summary``)."""

    generated_at: datetime
    orders_total: int
    by_status: Mapping[str, int]
    by_level: Mapping[str, int]
    stages: tuple[StageStats, ...]
    queues: tuple[Queue, ...]
    bottleneck: Bottleneck | None
    on_time_urgent: OnTime
    on_time_standard: OnTime
    on_time_by_level: Mapping[str, OnTime]
    on_time_by_carrier: Mapping[str, OnTime]
    on_time_by_lane: Mapping[tuple[str, str], OnTime]
    stations: tuple[Throughput, ...]
    operators: tuple[Throughput, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the report."""
        return {
            "generated_at": self.generated_at.isoformat(),
            "orders": {
                "total": self.orders_total,
                "by_status": dict(self.by_status),
                "by_level": dict(self.by_level),
            },
            "stages": [s.to_dict() for s in self.stages],
            "queues": [q.to_dict() for q in self.queues],
            "bottleneck": self.bottleneck.to_dict() if self.bottleneck else None,
            "on_time": {
                "urgent": self.on_time_urgent.to_dict(),
                "standard": self.on_time_standard.to_dict(),
                "by_level": {k: v.to_dict() for k, v in self.on_time_by_level.items()},
                "by_carrier": [
                    {"service": k, **v.to_dict()} for k, v in self.on_time_by_carrier.items()
                ],
                "by_lane": [
                    {"service": k[0], "country": k[1], **v.to_dict()}
                    for k, v in self.on_time_by_lane.items()
                ],
            },
            "stations": [t.to_dict() for t in self.stations],
            "operators": [t.to_dict() for t in self.operators],
            "notes": list(self.notes),
        }


def iso_time(ts: float) -> str:
    """POSIX seconds as ISO 8601 text in UTC."""
    return datetime.fromtimestamp(ts, UTC).isoformat()
