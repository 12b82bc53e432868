"""Countdowns and ages in the few characters a handheld screen has room for."""

from __future__ import annotations

from datetime import datetime


def parse_when(value: object) -> datetime | None:
    """An ISO 8601 time with a zone, or None when missing or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def countdown(deadline: datetime | None, now: datetime) -> str:
    """Time left to ``deadline``: ``2h05m``, ``14m30s``, ``LATE 3m``; ``--`` if unknown."""
    if deadline is None:
        return "--"
    seconds = int((deadline - now).total_seconds())
    late = seconds < 0
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        text = f"{hours // 24}d{hours % 24:02d}h"
    elif hours:
        text = f"{hours}h{minutes:02d}m"
    else:
        text = f"{minutes}m{secs:02d}s"
    return f"LATE {text}" if late else text


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was: ``just now``, ``45s ago``, ``12m ago``; ``never``."""
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m ago"
