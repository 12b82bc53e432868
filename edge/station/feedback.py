"""What a station tells its operator and which ops it asks the agent to record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FeedbackLevel(StrEnum):
    """How the station display shows a message."""

    ERROR = "error"
    OK = "ok"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Remaining:
    """One order line still to be scanned: ``left`` of ``qty`` units."""

    sku: str
    name: str
    qty: int
    left: int

    def to_dict(self) -> dict[str, Any]:
        """The display payload's ``remaining[]`` entry."""
        return {"sku": self.sku, "name": self.name, "qty": self.qty, "left": self.left}


@dataclass(frozen=True, slots=True)
class Feedback:
    """One display message: level, text for a person, the order and what is left."""

    level: FeedbackLevel
    text: str
    order_id: str | None = None
    remaining: tuple[Remaining, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        """The body of ``dev/{id}/display`` (the bus adds ``v``, ``seq``, ``at``)."""
        return {
            "level": self.level.value,
            "text": self.text,
            "order_id": self.order_id,
            "remaining": [r.to_dict() for r in self.remaining],
        }


@dataclass(frozen=True, slots=True)
class OpRequest:
    """An op the agent records in the store's outbox (kind and data per DESIGN §4.2)."""

    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one input: the message to show and the ops to record, in order."""

    feedback: Feedback
    ops: tuple[OpRequest, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        """False when the input was refused (an error message)."""
        return self.feedback.level is not FeedbackLevel.ERROR
