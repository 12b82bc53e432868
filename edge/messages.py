"""What travels on the floor bus: the inbound message, handler type, counters, encoding."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BusMessage:
    """One inbound message: its topic, decoded payload and who sent it."""

    topic: str
    payload: dict[str, Any]
    sender: str | None
    seq: int | None
    retained: bool
    kind: str | None = None  # the §4.3 topic kind (``topics.KINDS``), None if foreign
    id: str | None = None  # the id level of the topic (device, conveyor, order...)
    sub: str | None = None  # a second id level (the device of a task claim)


Handler = Callable[[BusMessage], None]


@dataclass
class BusCounters:
    """What the bus did since start (for status payloads and tests)."""

    published: int = 0
    acked: int = 0
    refused: int = 0
    resent: int = 0
    received: int = 0
    duplicates: int = 0
    malformed: int = 0
    connects: int = 0
    refusal_reasons: list[str] = field(default_factory=list)


def utc_now() -> datetime:
    """The current time, zone-aware UTC."""
    return datetime.now(UTC)


def encode(payload: dict[str, Any]) -> bytes:
    """Compact JSON bytes of a payload."""
    return json.dumps(payload, separators=(",", ":"), default=str).encode()
