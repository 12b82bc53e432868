"""The priority engine's tunable rules and their validation (the ``[priority]`` table).

Every field has a sensible default so ``PriorityRules()`` works out of the box;
``PriorityRules.from_mapping`` builds one from configuration and names the offending key
in its error (``priority.<key>: <what is wrong>``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from domain.models import DomainError, Level, OrderStatus


def _frozen(data: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True, slots=True)
class PriorityRules:
    """Points and thresholds that turn an order's facts into a score and a level.

    ``slack_bands`` are ``(upper_hours, points)`` in ascending hours: slack below the
    first upper bound earns its points, and so on; slack past the last bound earns 0 and
    negative slack earns ``overdue_points`` and is always P1. ``level_thresholds`` maps
    P1..P3 to the minimum score for that level; below P3 is P4.
    """

    default_processing_hours: float = 2.0
    processing_hours: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"P1": 1.0, "P2": 1.5, "P3": 3.0, "P4": 6.0})
    )
    stage_remaining: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"received": 1.0, "allocated": 0.9, "picking": 0.7, "picked": 0.4, "packed": 0.1}
        )
    )
    default_transit_hours: float = 24.0
    overdue_points: float = 100.0
    slack_bands: tuple[tuple[float, float], ...] = (
        (2.0, 60.0),
        (6.0, 40.0),
        (12.0, 25.0),
        (24.0, 10.0),
    )
    service_points: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"express": 30.0, "priority": 20.0, "standard": 0.0})
    )
    flag_points: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"medical": 40.0, "vip": 20.0})
    )
    tier_points: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"platinum": 15.0, "gold": 10.0, "standard": 0.0})
    )
    category_points: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"perishable": 25.0, "medical": 30.0})
    )
    tag_points: Mapping[str, float] = field(default_factory=lambda: _frozen({"urgent": 30.0}))
    level_thresholds: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"P1": 90.0, "P2": 60.0, "P3": 30.0})
    )
    disruption_points: float = 15.0
    safety_margin_minutes: float = 30.0
    on_time_threshold: float = 0.9

    def __post_init__(self) -> None:
        _thresholds("priority.level_thresholds", self.level_thresholds)
        bands = _bands("priority.slack_bands", self.slack_bands)
        if bands and self.overdue_points < bands[0][1]:
            raise DomainError(
                "priority.overdue_points: must be at least the first slack band's points"
            )

    def processing_for(self, level: Level) -> float:
        """Hours of in-warehouse work for an order of ``level`` (or the default)."""
        return self.processing_hours.get(level.value, self.default_processing_hours)

    def level_for(self, score: float) -> Level:
        """The level a score earns before deadline and disruption overrides."""
        thresholds = self.level_thresholds
        if score >= thresholds["P1"]:
            return Level.P1
        if score >= thresholds["P2"]:
            return Level.P2
        if score >= thresholds["P3"]:
            return Level.P3
        return Level.P4

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PriorityRules:
        """Build rules from a configuration table; unknown keys and bad values raise
        ``DomainError`` naming ``priority.<key>``."""
        if not isinstance(data, Mapping):
            raise DomainError("priority: must be a table")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise DomainError(
                    f"priority.{key}: unknown key (known: {', '.join(sorted(known))})"
                )
        values: dict[str, Any] = {}
        for key, raw in data.items():
            name = f"priority.{key}"
            if key == "slack_bands":
                values[key] = _bands(name, raw)
            elif key in _POINT_TABLES:
                values[key] = _frozen(_points(name, raw))
            elif key == "processing_hours":
                table = _points(name, raw)
                _check_keys(name, table, {lv.value for lv in Level})
                values[key] = _frozen(table)
            elif key == "stage_remaining":
                table = _points(name, raw)
                _check_keys(name, table, {s.value for s in OrderStatus})
                for stage, share in table.items():
                    if share > 1:
                        raise DomainError(f"{name}.{stage}: must be between 0 and 1, got {share}")
                values[key] = _frozen(table)
            elif key == "level_thresholds":
                values[key] = _frozen(_thresholds(name, raw))
            elif key == "on_time_threshold":
                value = _number(name, raw)
                if value > 1:
                    raise DomainError(f"{name}: must be between 0 and 1, got {value}")
                values[key] = value
            elif key in ("overdue_points", "disruption_points"):
                values[key] = _number(name, raw, allow_negative=False)
            else:
                values[key] = _number(name, raw)
        return cls(**values)


_POINT_TABLES = frozenset(
    {"service_points", "flag_points", "tier_points", "category_points", "tag_points"}
)


def _number(name: str, raw: Any, *, allow_negative: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise DomainError(f"{name}: must be a number, got {raw!r}")
    value = float(raw)
    if not math.isfinite(value):
        raise DomainError(f"{name}: must be finite, got {raw!r}")
    if value < 0 and not allow_negative:
        raise DomainError(f"{name}: must not be negative, got {raw!r}")
    return value


def _points(name: str, raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise DomainError(f"{name}: must be a table of name = number")
    return {str(k): _number(f"{name}.{k}", v) for k, v in raw.items()}


def _check_keys(name: str, table: Mapping[str, float], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise DomainError(f"{name}.{key}: unknown key (known: {', '.join(sorted(allowed))})")


def _thresholds(name: str, raw: Any) -> dict[str, float]:
    table = _points(name, raw)
    _check_keys(name, table, {"P1", "P2", "P3"})
    for level in ("P1", "P2", "P3"):
        if level not in table:
            raise DomainError(f"{name}.{level}: missing")
    if not table["P1"] > table["P2"] > table["P3"]:
        raise DomainError(f"{name}: must satisfy P1 > P2 > P3, got {table}")
    return table


def _bands(name: str, raw: Any) -> tuple[tuple[float, float], ...]:
    if isinstance(raw, str | bytes) or not isinstance(raw, list | tuple):
        raise DomainError(f"{name}: must be a list of [hours, points] pairs")
    bands: list[tuple[float, float]] = []
    for i, item in enumerate(raw):
        where = f"{name}[{i}]"
        if isinstance(item, Mapping):
            if set(item) != {"hours", "points"}:
                raise DomainError(f"{where}: must have exactly 'hours' and 'points'")
            hours, points = item["hours"], item["points"]
        elif isinstance(item, list | tuple) and len(item) == 2:
            hours, points = item
        else:
            raise DomainError(f"{where}: must be [hours, points]")
        bands.append((_number(f"{where}.hours", hours), _number(f"{where}.points", points)))
    for i in range(1, len(bands)):
        if bands[i][0] <= bands[i - 1][0]:
            raise DomainError(f"{name}[{i}].hours: must be greater than the band before")
        if bands[i][1] > bands[i - 1][1]:
            # Otherwise more slack could earn more points and urgency would invert.
            raise DomainError(f"{name}[{i}].points: must not exceed the band before")
    return tuple(bands)
