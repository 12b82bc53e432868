"""The order stream of a demo run, POSTed to central at each order's simulated arrival.

While central is away the webshop keeps the orders and sends them again when it is back
(the same body again is harmless: central answers 200 with the existing order).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from rushline.demo.orders import ArrivingOrder
from sync.simclock import Clock

log = logging.getLogger(__name__)


@dataclass
class Posted:
    """One order as central took it."""

    id: str
    arrived_at: datetime  # simulated arrival (the stream's schedule)
    posted_at: datetime  # simulated time central accepted it
    level: str
    urgent_tag: bool
    flags: tuple[str, ...]
    deadline: str
    warehouse: str
    retries: int = 0


@dataclass
class StreamState:
    """What the poster has done so far (read by the progress display)."""

    posted: dict[str, Posted] = field(default_factory=dict)
    waiting: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    done: bool = False
    post_seconds: list[float] = field(default_factory=list)  # real time per accepted POST


class OrderPoster:
    """POSTs each order when the floor clock reaches its arrival, on its own thread."""

    def __init__(
        self,
        stream: list[ArrivingOrder],
        start: datetime,
        clock: Clock,
        client_factory: Callable[[], httpx.Client],
    ) -> None:
        self.stream = stream
        self.start_at = start
        self.clock = clock
        self.client_factory = client_factory
        self.state = StreamState(waiting=len(stream))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="order-stream", daemon=True)

    def start(self) -> None:
        """Start posting."""
        self._thread.start()

    def stop(self) -> None:
        """Stop posting (orders not sent yet stay unsent)."""
        self._stop.set()
        self._thread.join(timeout=15)

    def join(self, timeout: float) -> bool:
        """Wait for the whole stream to be posted; True when it was."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def arrival(self, item: ArrivingOrder) -> datetime:
        """The simulated time ``item`` arrives."""
        return self.start_at + timedelta(seconds=item.offset_s)

    def _run(self) -> None:
        with self.client_factory() as http:
            backlog: list[ArrivingOrder] = []
            for item in self.stream:
                due = self.arrival(item)
                while not self._stop.is_set():
                    ahead = (due - self.clock.now()).total_seconds()
                    if ahead <= 0:
                        break
                    # Retry the backlog while waiting for the next arrival.
                    if backlog:
                        backlog = self._send_all(http, backlog)
                    self._stop.wait(min(ahead / self.clock.rate, 0.25))
                if self._stop.is_set():
                    return
                backlog = self._send_all(http, [*backlog, item])
            while backlog and not self._stop.is_set():
                backlog = self._send_all(http, backlog)
                if backlog:
                    self._stop.wait(0.25)
        self.state.done = True

    def _send_all(self, http: httpx.Client, items: list[ArrivingOrder]) -> list[ArrivingOrder]:
        """Send in arrival order; the first failure keeps it and the rest for later."""
        for i, item in enumerate(items):
            if not self._send(http, item):
                return items[i:]
        return []

    def _send(self, http: httpx.Client, item: ArrivingOrder) -> bool:
        body = item.body
        started = time.monotonic()
        try:
            response = http.post("/v1/orders", json=body)
        except httpx.TransportError:
            self.state.retries += 1
            return False
        if response.status_code in (200, 201):
            self.state.post_seconds.append(time.monotonic() - started)
            doc: dict[str, Any] = response.json()
            self.state.posted[body["id"]] = Posted(
                id=body["id"],
                arrived_at=self.arrival(item),
                posted_at=self.clock.now(),
                level=str((doc.get("priority") or {}).get("level") or "?"),
                urgent_tag="urgent" in (body.get("tags") or []),
                flags=tuple(body["customer"].get("flags") or ()),
                deadline=str(body["deadline"]),
                warehouse=str(doc.get("warehouse") or body.get("warehouse") or ""),
            )
        elif response.status_code >= 500:
            self.state.retries += 1
            return False
        else:  # refused for good (4xx): count it and move on
            self.state.refused[body["id"]] = f"{response.status_code}: {response.text[:200]}"
            log.warning("order %s refused: %s", body["id"], response.text[:200])
        self.state.waiting -= 1
        return True
