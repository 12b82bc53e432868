"""Shared wording and units for the tables and the charts."""

from __future__ import annotations

from typing import Any

from domain.analytics import duration_text

LEVEL_NAMES = {"P1": "P1 critical", "P2": "P2 urgent", "P3": "P3 expedited", "P4": "P4 standard"}
STATUS_ORDER = (
    "received",
    "allocated",
    "picking",
    "picked",
    "packed",
    "shipped",
    "delivered",
    "on_hold",
    "cancelled",
)


def dur(seconds: float | None) -> str:
    """A duration for a table cell; a dash when unknown."""
    if seconds is None:
        return "-"
    if 10 * 3600 <= seconds < 2 * 86400:
        return f"{seconds / 3600:.0f}h"  # minutes are noise at this scale
    return duration_text(seconds)


def pct(rate: float | None) -> str:
    """A rate as a whole percentage; a dash before the first measurement."""
    return "-" if rate is None else f"{rate:.0%}"


def time_unit(seconds: list[float]) -> tuple[float, str]:
    """A divisor and unit name that keep the largest value readable."""
    top = max(seconds, default=0.0)
    if top >= 2 * 86400:
        return 86400.0, "days"
    if top >= 2 * 3600:
        return 3600.0, "hours"
    if top >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def statuses(by_status: dict[str, Any]) -> list[tuple[str, int]]:
    """Status counts in path order, unknown statuses last."""
    known = [(s, int(by_status[s])) for s in STATUS_ORDER if s in by_status]
    rest = [(s, int(n)) for s, n in sorted(by_status.items()) if s not in STATUS_ORDER]
    return known + rest


def levels_in(summary: dict[str, Any]) -> list[str]:
    """The priority levels that appear anywhere in the stage figures, in order."""
    seen = {lvl for stage in summary["stages"] for lvl in stage["by_level"]}
    return sorted(seen)
