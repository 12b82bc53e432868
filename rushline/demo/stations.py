"""The stations of the demo floor: sorter, pack station, dock and dispatcher as
``rushline agent`` subprocesses on simulated devices (conveyor and scanners on
pseudo-terminals, printers on TCP), and the people between them (``world``).

A station whose agent is not installed is left out with a note in the report.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rushline.demo.monitor import FloorMonitor
from rushline.demo.processes import ProcessError, rushline_argv
from rushline.demo.world import World

if TYPE_CHECKING:
    from rushline.demo.floor import Floor

ROLES = ("sorter", "pack", "dock", "dispatch")
# (device id, role): two pack stations share the lanes, one dock, one dispatcher.
DEVICES = (
    ("sorter-1", "sorter"),
    ("pack-1", "pack"),
    ("pack-2", "pack"),
    ("dock-1", "dock"),
    ("dispatch-1", "dispatch"),
)
CONVEYOR_ID = "conveyor-1"
EXPRESS_LANE, LANES, EXCEPTION_LANE = 1, (2, 3), 4


@dataclass(frozen=True)
class DeviceStore:
    """A device's store file and who it belongs to."""

    path: Path
    device_id: str
    site: str


def agent_available(role: str) -> bool:
    """True when ``rushline agent <role>`` is installed."""
    return importlib.util.find_spec(f"edge.agents.{role}") is not None


class ScannerPty:
    """A pseudo-terminal pair: the agent opens ``path`` as a serial scanner; the demo
    types barcodes into the master side."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The scanner URL for the agent's settings."""
        return f"serial://{self.path}?baudrate=9600&suffix=CR"

    def scan(self, code: str) -> None:
        """Type ``code`` and CR, as a serial scanner does."""
        with self._lock:
            os.write(self.master, code.encode("utf-8") + b"\r")

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def toml_text(doc: dict[str, dict[str, Any]]) -> str:
    """A small TOML writer for the agents' settings (tables of scalars and lists)."""
    out = []
    for table, values in doc.items():
        out.append(f"[{table}]")
        out += [f"{k} = {_toml(v)}" for k, v in values.items()]
        out.append("")
    return "\n".join(out)


class Stations:
    """The agents, their simulated devices and the people moving things between them."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.site = floor.site.site_id
        self.roles = [r for r in ROLES if agent_available(r)]
        self.devices = [(d, r) for d, r in DEVICES if r in self.roles]
        self.running: list[str] = []  # device ids
        self.conveyor: Any = None
        self.printers: dict[str, Any] = {}
        self.scanners: dict[str, ScannerPty] = {}
        self.monitor: FloorMonitor | None = None
        self.dispatch: dict[str, Any] = {}  # the dispatcher's last published metrics
        self.world: World | None = None

    # --- broker users ------------------------------------------------------------------

    def broker_devices(self) -> list[dict[str, str]]:
        """The MQTT users (id, role, conveyor/printer) the broker needs."""
        devices = []
        for device, role in self.devices:
            entry = {"id": device, "role": role}
            if role == "sorter":
                entry["conveyor"] = CONVEYOR_ID
            if role in ("pack", "dock"):
                entry["printer"] = f"printer-{device}"
            devices.append(entry)
        devices.append({"id": "monitor-1", "role": "monitor"})
        devices += [
            {"id": f"handheld-{i + 1}", "role": "handheld"}
            for i in range(self.floor.options.pickers)
        ]
        return devices

    # --- start -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the simulated devices, the agents that are installed, and the world."""
        floor = self.floor
        missing = [r for r in ROLES if r not in self.roles]
        if missing:
            floor.run_info.notes.append(
                "station agents not installed: " + ", ".join(missing) + " (orders stop earlier)"
            )
        if floor.broker is None:
            raise ProcessError("no broker")
        self.monitor = FloorMonitor(floor.broker, self.site)
        for device, role in self.devices:
            if role == "dispatch":  # its metrics ride on its retained state
                self.monitor.handlers[f"dev/{device}/state"] = self._dispatch_state
        self.monitor.start()
        self._start_devices()
        for device, role in self.devices:
            self._start_agent(device, role)
        self.world = World(self)
        self.world.start()

    def _dispatch_state(self, payload: dict[str, Any]) -> None:
        metrics = payload.get("dispatch")
        if isinstance(metrics, dict):
            self.dispatch = metrics

    def _start_devices(self) -> None:
        from devices.conveyor.sim import ConveyorSim
        from devices.printer.sim import PrinterSim

        if "sorter" in self.roles:
            self.conveyor = ConveyorSim(
                lanes=4, speed_m_s=10.0, gate_spacing_m=1.0, gate_window_s=0.02
            ).start()
        for device, role in self.devices:
            if role in ("pack", "dock"):
                folder = "labels" if role == "pack" else "manifests"
                sim = PrinterSim(port=0, out_dir=self.floor.out / folder / device)
                sim.start()
                self.printers[device] = sim
                self.scanners[device] = ScannerPty()

    def _settings(self, device: str, role: str) -> Path:
        floor = self.floor
        broker = floor.broker
        if broker is None:
            raise ProcessError("no broker")
        folder = floor.out / "agents"
        folder.mkdir(parents=True, exist_ok=True)
        secret = folder / f"{device}.pw"
        secret.write_text(broker.users[device] + "\n")
        secret.chmod(0o600)
        doc: dict[str, dict[str, Any]] = {
            "device": {
                "id": device,
                "site": self.site,
                "role": role,
                "store": str(floor.out / "devices" / f"{device}.db"),
            },
            "central": {
                "url": floor.central.url,
                "token": floor.central.token("device", device, self.site),
            },
            "sync": {"interval": 0.3, "timeout": 2.0},
            "mqtt": {
                "host": "127.0.0.1",
                "port": broker.port,
                "username": device,
                "password_file": str(secret),
                "keepalive": 5,
            },
        }
        devices: dict[str, Any] = {}
        site_config = str(floor.options.config or floor.site.path)
        if role == "sorter":
            devices["conveyor"] = f"serial://{self.conveyor.path}"
            doc["sorter"] = {
                "conveyor_id": CONVEYOR_ID,
                "express_lane": EXPRESS_LANE,
                "lanes": list(LANES),
                "exception_lane": EXCEPTION_LANE,
                "status_interval": 2.0,
            }
        elif role in ("pack", "dock"):
            devices["scanner"] = self.scanners[device].url
            host, port = self.printers[device].address
            devices["printer"] = f"tcp://{host}:{port}?timeout=2"
            doc[role] = {"site_config": site_config, "printer_id": f"printer-{device}"}
        if devices:
            doc["devices"] = devices
        path = folder / f"{device}.toml"
        path.write_text(toml_text(doc), encoding="utf-8")
        return path

    def _start_agent(self, device: str, role: str) -> None:
        try:
            path = self._settings(device, role)
            self.floor.supervisor.start(device, rushline_argv("agent", role, "--config", str(path)))
            self.running.append(device)
        except (ProcessError, OSError) as exc:
            self.floor.run_info.notes.append(f"{device} agent not started: {exc}")

    def role_running(self, role: str) -> bool:
        """True while at least one agent of ``role`` runs."""
        return any(r == role and d in self.running for d, r in self.devices)

    # --- what the floor asks -----------------------------------------------------------

    def check_alive(self) -> None:
        """Note agents that died (their log says why)."""
        for device in list(self.running):
            child = self.floor.supervisor.children.get(device)
            if child is not None and not child.alive():
                self.running.remove(device)
                tail = child.log_tail(300).strip().splitlines()
                self.floor.run_info.notes.append(
                    f"{device} agent exited ({child.popen.returncode}): {tail[-1] if tail else ''}"
                )

    def goal_stage(self) -> str:
        """The furthest stage the running stations can bring an order to."""
        if self.role_running("dock") and self.role_running("pack"):
            return "shipped"
        if self.role_running("pack"):
            return "packed"
        return "picked"

    def tote_dropped(
        self, tote: str, order_id: str, picker: str, contents: dict[str, int] | None = None
    ) -> None:
        """A picker dropped ``tote`` (holding ``order_id``: ``contents`` units per SKU)
        on the conveyor."""
        if self.world is not None:
            self.world.tote_dropped(tote, order_id, picker, contents)

    def busy(self) -> bool:
        """True while a tote or parcel is still moving between stations."""
        return self.world is not None and self.world.busy()

    def pending(self) -> int:
        """Ops the agents still hold (read from their store files)."""
        from rushline.demo.readers import pending_in

        return sum(pending_in(s.path) for s in self.device_stores() if s.path.exists())

    def close_pickups(self) -> None:
        """End of shift at the dock: close every carrier's pickup (prints manifests)."""
        if self.world is not None:
            self.world.close_pickups()

    def stop(self) -> None:
        """Stop the world, the agents (SIGTERM) and the simulated devices."""
        if self.world is not None:
            self.world.stop()
        # SIGTERM to every agent first, so they stop side by side, then wait for each.
        for device in self.running:
            child = self.floor.supervisor.children.get(device)
            if child is not None and child.alive():
                child.popen.send_signal(signal.SIGTERM)
        for device in reversed(self.running):
            self.floor.supervisor.stop(device, grace=8)
        if self.monitor is not None:
            self.monitor.stop()
        if self.conveyor is not None:
            self.conveyor.stop()
        for sim in self.printers.values():
            sim.stop()
        for scanner in self.scanners.values():
            scanner.close()

    def device_stores(self) -> list[DeviceStore]:
        """The store files of the station agents that ran."""
        return [
            DeviceStore(self.floor.out / "devices" / f"{d}.db", d, self.site)
            for d, _ in self.devices
        ]

    def summary(self) -> dict[str, Any]:
        """What the stations did, for the report."""
        out: dict[str, Any] = {"agents": self.running}
        if self.dispatch:
            out["dispatch"] = dict(self.dispatch)
        if self.world is not None:
            out.update(self.world.summary())
        if self.monitor is not None:
            out["bus_messages"] = self.monitor.counts()
        return out
