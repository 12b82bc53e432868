"""What a delivery channel is to the worker: it sends one notification to one target
and says whether that worked, may work later, or never will."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from central.store.feedback_sql import DeliveryRow, NotificationRow


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result: ``sent``; else ``retry`` (transient) or not (permanent)."""

    sent: bool
    retry: bool = False
    error: str | None = None


SENT = Outcome(True)


class Channel(Protocol):
    """A way to reach someone (webhook endpoint, e-mail)."""

    def send(self, delivery: DeliveryRow, notification: NotificationRow) -> Outcome:
        """Try once; never raises for a failed delivery."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
