"""Customer feedback: the tracking view, the notification outbox and its delivery
worker (webhook, e-mail), the SLA risk monitor and customer inquiries."""

from __future__ import annotations

from datetime import UTC, datetime


class FeedbackError(Exception):
    """Root of the feedback package's errors."""


def stamp(moment: datetime) -> str:
    """A UTC timestamp in one fixed-width form, so stored times compare as text."""
    if moment.tzinfo is None:
        raise FeedbackError("timestamp without a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
