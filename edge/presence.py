"""Who is on the floor bus, from retained ``dev/+/state`` messages."""

from __future__ import annotations

import threading
from typing import Any


class Presence:
    """Who is online, from retained ``dev/+/state`` messages; a will (online false)
    whose epoch differs from the live one is stale and ignored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: dict[str, dict[str, Any]] = {}

    def update(self, device_id: str, state: dict[str, Any]) -> bool:
        """Apply one state message; returns True when it changed anything."""
        with self._lock:
            known = self._devices.get(device_id)
            online = bool(state.get("online"))
            if not online and known is not None and known.get("epoch") != state.get("epoch"):
                return False  # a stale will of an earlier process
            if known == state:
                return False
            self._devices[device_id] = dict(state)
            return True

    def online(self, role: str | None = None) -> list[str]:
        """Ids of devices online now (optionally of one role), sorted."""
        with self._lock:
            return sorted(
                d
                for d, s in self._devices.items()
                if s.get("online") and (role is None or s.get("role") == role)
            )

    def state(self, device_id: str) -> dict[str, Any] | None:
        """The last state of a device, or None."""
        with self._lock:
            found = self._devices.get(device_id)
            return dict(found) if found else None
