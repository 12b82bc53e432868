"""Tell the floor when the central server goes away or comes back.

Watches the agent's sync client and publishes the retained ``central/state``
{reachable} on every change it sees (DESIGN.md §4.3). "Reachable" means the last sync
round got an answer that was not a server error: a refused token is still reachable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge import topics
from edge.bus import Bus
from sync.client import SyncClient

log = logging.getLogger(__name__)

UNREACHABLE_KINDS = ("offline", "server")


def reachable(client: SyncClient) -> bool | None:
    """True/False from the client's last round; None before its first round."""
    last = client.status.last_round
    if last is None:
        return None
    return last.error_kind not in UNREACHABLE_KINDS


class CentralWatch:
    """Polls ``client`` every ``interval`` s and publishes ``central/state`` on a change;
    ``on_change(reachable)`` is called too (e.g. for the agent's own status)."""

    def __init__(
        self,
        client: SyncClient,
        bus: Bus,
        interval: float = 0.25,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.client = client
        self.bus = bus
        self.interval = interval
        self.on_change = on_change
        self.reachable: bool | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool | None:
        """Look once; publish if the answer changed. Returns the current answer."""
        now = reachable(self.client)
        if now is None or now == self.reachable:
            return self.reachable
        self.reachable = now
        log.log(
            logging.INFO if now else logging.WARNING,
            "%s: central server %s",
            self.bus.device_id,
            "reachable again" if now else "unreachable",
        )
        self.bus.publish(topics.central_state(self.bus.site), {"reachable": now}, retain=True)
        if self.on_change is not None:
            self.on_change(now)
        return now

    def start(self) -> CentralWatch:
        """Watch on a daemon thread until ``stop``."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"central-watch-{self.bus.device_id}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the bus may be closing; never kill the agent
                log.exception("central watch failed")
