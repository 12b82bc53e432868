"""The status bar on every screen: online or offline, ops waiting, last sync."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handheld_app.presenters.timefmt import age


class SyncState(Protocol):
    """The parts of ``sync.client.SyncStatus`` the bar shows."""

    @property
    def online(self) -> bool: ...

    @property
    def pending(self) -> int: ...

    @property
    def last_success_at(self) -> datetime | None: ...

    @property
    def last_error(self) -> str | None: ...


_PROBLEMS = {
    "unauthorized": "TOKEN REFUSED",
    "server": "CENTRAL ERROR",
    "protocol": "SYNC ERROR",
    "bug": "SYNC ERROR",
}


@dataclass(frozen=True)
class StatusView:
    """The bar's text pieces."""

    online: bool
    text: str
    pending: int
    last_sync: str
    operator: str = ""


class StatusPresenter:
    """Reads the sync client's status (None = no sync configured: offline)."""

    def __init__(
        self,
        status: Callable[[], SyncState | None],
        pending: Callable[[], int],
        clock: Callable[[], datetime],
    ) -> None:
        self.status = status
        self.pending = pending
        self.clock = clock

    def view(self, operator: str = "") -> StatusView:
        """The bar as of now; the pending count is read from the store itself."""
        state = self.status()
        online = bool(state is not None and state.online)
        pending = self.pending()
        last = age(state.last_success_at if state else None, self.clock())
        # Reachable but refusing (bad token, server error) is not "online" for the picker.
        kind = getattr(getattr(state, "last_round", None), "error_kind", None)
        problem = _PROBLEMS.get(str(kind), "") if online else ""
        head = problem or ("ONLINE" if online else "OFFLINE")
        text = f"{head}  |  {pending} to send  |  sync {last}"
        return StatusView(online and not problem, text, pending, last, operator)
