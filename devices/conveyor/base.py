"""The conveyor port the agents consume, its events, and the event fan-out both adapters share."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from devices.conveyor.protocol import MAX_SEQ

log = logging.getLogger(__name__)


class EventType(StrEnum):
    """What a conveyor reported (a StrEnum: compares equal to its plain string)."""

    INDUCTED = "inducted"
    DIVERTED = "diverted"
    MISSED = "missed"
    FAULT = "fault"
    ACK = "ack"
    NAK = "nak"  # refused by the controller (code "rejected") or never acknowledged ("no_ack")
    HEARTBEAT_LOST = "heartbeat_lost"
    RECONNECTED = "reconnected"


def utc_now() -> datetime:
    """The current time, zone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConveyorEvent:
    """One thing the conveyor reported; fields that do not apply are ``None``."""

    type: EventType
    tote: str | None = None
    lane: int | None = None
    seq: int | None = None
    code: str | None = None
    text: str | None = None
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class ConveyorStatus:
    """A snapshot of the link: health and the counters an operator looks at."""

    connected: bool
    last_heartbeat: datetime | None
    retransmits: int
    garbage: int
    naks: int
    pending: int
    reconnects: int
    events_dropped: int


EventCallback = Callable[[ConveyorEvent], None]


class Conveyor(Protocol):
    """A sorter conveyor: command diverts, hear inductions, diverts, misses and faults."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def open(self) -> Self:
        """Connect; raises ``ConveyorError`` naming the device if it cannot."""
        ...

    def divert(self, tote: str, lane: int, order_id: str | None = None) -> int:
        """Command ``tote`` into ``lane``; returns the command's seq (see DONE/ACK/NAK)."""
        ...

    def events(self, timeout: float | None = None) -> ConveyorEvent | None:
        """The next event in order, or ``None`` after ``timeout`` seconds."""
        ...

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` for every event in the I/O thread; returns an unsubscribe."""
        ...

    @property
    def status(self) -> ConveyorStatus:
        """Link health and counters."""
        ...

    def close(self) -> None:
        """Stop the I/O thread and release the device; safe to call twice."""
        ...


class EventHub:
    """Fan-out of events: callbacks first (in the caller's thread, for latency), then a
    bounded queue for ``events()``; the oldest queued event is dropped when full."""

    def __init__(self, max_queued: int = 10_000) -> None:
        self._callbacks: list[EventCallback] = []
        self._queue: deque[ConveyorEvent] = deque()
        self._max_queued = max_queued
        self._ready = threading.Condition()
        self.dropped = 0

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Register ``callback``; the returned function removes it again."""
        with self._ready:
            self._callbacks = [*self._callbacks, callback]

        def unsubscribe() -> None:
            with self._ready:
                self._callbacks = [c for c in self._callbacks if c is not callback]

        return unsubscribe

    def publish(self, event: ConveyorEvent) -> None:
        """Hand ``event`` to every callback, then queue it; a failing callback is logged."""
        for callback in self._callbacks:  # a copy-on-write list: safe without the lock
            try:
                callback(event)
            except Exception:
                log.exception("conveyor event callback failed for %s", event.type)
        with self._ready:
            if len(self._queue) >= self._max_queued:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            self._ready.notify()

    def next(self, timeout: float | None) -> ConveyorEvent | None:
        """The oldest queued event, waiting up to ``timeout`` seconds (None: forever)."""
        with self._ready:
            if not self._queue:
                self._ready.wait_for(lambda: bool(self._queue), timeout)
            return self._queue.popleft() if self._queue else None


class HubConveyor:
    """What both adapters share: the hub behind ``events``/``on_event``, the command
    seq counter, and ``with`` around ``open``/``close``."""

    def __init__(self) -> None:
        self._hub = EventHub()
        self._seq = 0

    def open(self) -> Self:
        """Connect (each adapter its own way)."""
        raise NotImplementedError

    def close(self) -> None:
        """Disconnect (each adapter its own way)."""
        raise NotImplementedError

    def _next_seq(self) -> int:
        """The next seq, 1..MAX_SEQ then wrapping; the caller holds its state lock."""
        self._seq = self._seq % MAX_SEQ + 1
        return self._seq

    def events(self, timeout: float | None = None) -> ConveyorEvent | None:
        """The next event in order, or ``None`` after ``timeout`` seconds."""
        return self._hub.next(timeout)

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` in the I/O thread for every event; returns an unsubscribe."""
        return self._hub.subscribe(callback)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
