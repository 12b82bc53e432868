"""``rushline demo``: the whole floor on loopback, on a simulated clock.

Starts Mosquitto, the central server (SQLite), the station agents on simulated devices,
simulated pickers on the handheld's own code, and an order stream; midway it posts a
disruption and stops central for a while; then it waits for the floor to finish, proves
that no op was lost and writes the end report. Every child process is stopped, always.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from config.models import SiteConfig
from rushline.demo import report as end_report
from rushline.demo.orders import generate_order_stream
from rushline.demo.pickers import OffAir, SimPicker, TaskBoard, ToteRack
from rushline.demo.processes import ProcessError, Supervisor
from rushline.demo.progress import Progress
from rushline.demo.readers import cursor_in
from rushline.demo.replenisher import SimReplenisher, start_some_pick_faces_low
from rushline.demo.services import BrokerInfo, CentralServer, start_broker
from rushline.demo.shelves import Shelves
from rushline.demo.stations import Stations
from rushline.demo.stream import OrderPoster
from sync.simclock import ScaledClock

log = logging.getLogger(__name__)

TERMINAL = ("shipped", "delivered", "cancelled", "on_hold")
ORDER_OF_STAGES = ("received", "allocated", "picking", "picked", "packed", "shipped", "delivered")


@dataclass(frozen=True)
class FloorOptions:
    """One demo run."""

    orders: int
    minutes: int
    outage_seconds: float
    out: Path
    seed: int
    rate: float
    start: datetime
    urgent_share: float
    pickers: int
    config: Path | None = None
    budget_s: float = 72.0  # real seconds from start to the end of the drain
    tick_seconds: float = 1.0  # central's re-prioritise/batch interval (real s)


@dataclass
class FloorRun:
    """What happened, for the report."""

    notes: list[str] = field(default_factory=list)
    outage: dict[str, Any] = field(default_factory=dict)
    disruption: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    low_at_start: list[str] = field(default_factory=list)  # SKUs whose pick bins start low
    phantoms: list[dict[str, Any]] = field(default_factory=list)  # bins holding less


# A handheld off the air stays away at least this long (simulated s): long enough for
# another picker to finish what is in hand and take its task over.
OFF_AIR_MIN_S = 600.0


def stage_counts(db_path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Orders by status, all and urgent (P1/P2), read straight from central's file."""
    if not db_path.exists():
        return {}, {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2)
    try:
        rows = conn.execute("SELECT status, level, count(*) FROM orders GROUP BY 1, 2").fetchall()
    finally:
        conn.close()
    stages: dict[str, int] = {}
    urgent: dict[str, int] = {}
    for status, level, n in rows:
        stages[status] = stages.get(status, 0) + n
        if level in ("P1", "P2"):
            urgent[status] = urgent.get(status, 0) + n
    return stages, urgent


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: through every ``finally``, so no child is left."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_term) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def stuck_orders(db_path: Path, site: str) -> int:
    """Orders nobody on this floor can work on: fulfilled by another warehouse, or not
    allocated (waiting for stock) with no open pick task."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2)
    try:
        row = conn.execute(
            # An allocated order here without a task yet is waiting for the next batch.
            "SELECT count(*) FROM orders o WHERE (o.status IN ('received', 'allocated') "
            "AND o.warehouse != ?) OR (o.status = 'received' AND NOT EXISTS (SELECT 1 FROM "
            "task_orders t JOIN tasks k ON k.id = t.task_id WHERE t.order_id = o.id "
            "AND k.status = 'open'))",
            [site],
        ).fetchone()
        return int(row[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


class Floor:
    """One run of the whole floor; ``run`` returns the report and the exit code."""

    def __init__(self, site: SiteConfig, options: FloorOptions, console: Console) -> None:
        self.site = site
        self.options = options
        self.console = console
        # Absolute: agents resolve relative paths against their settings file's folder.
        self.out = options.out.resolve()
        self.run_info = FloorRun()
        self.t0 = time.monotonic()
        self.clock = ScaledClock(start=options.start, epoch=time.time(), rate=options.rate)
        self.supervisor = Supervisor(self.out / "logs", env=None)
        self.supervisor.env.update(self.clock.env())
        self.central = CentralServer(
            self.supervisor, self.out / "central", options.config, options.tick_seconds
        )
        self.pickers: list[SimPicker] = []
        self.shelves: Shelves | None = None
        self.poster: OrderPoster | None = None
        self.stations: Stations | None = None
        self.broker: BrokerInfo | None = None

    # --- the run ---------------------------------------------------------------------

    def run(self) -> tuple[dict[str, Any], int]:
        """Run the floor and write the report; always stops every part."""
        self.out.mkdir(parents=True, exist_ok=True)
        with self.supervisor, _terminate_as_exit():
            try:
                self._start_parts()
                with Progress(self.console, self.snapshot):
                    self._shift()
                    self._drain()
            finally:
                self._stop_parts()
        return end_report.build_and_write(self)

    def elapsed(self) -> float:
        """Real seconds since the run began."""
        return time.monotonic() - self.t0

    def _start_parts(self) -> None:
        site = self.site.site_id
        self.central.admin_token = self.central.token("admin")
        self.central.start()
        masterdata = end_report.masterdata_document(self.site)
        self.run_info.low_at_start = start_some_pick_faces_low(masterdata, site)
        self.central.import_masterdata(masterdata)
        # The shelves hold what is really there: a few pick bins hold less than the
        # master data says, and pickers will find them short.
        self.shelves = Shelves(masterdata, site)
        self.run_info.phantoms = [
            asdict(p)
            for p in self.shelves.make_phantoms(masterdata, site, set(self.run_info.low_at_start))
        ]
        self.run_info.phases["central_up_s"] = round(self.elapsed(), 2)
        self.stations = Stations(self)
        try:
            self.broker = start_broker(
                self.supervisor, self.out / "broker", self.stations.broker_devices(), site
            )
            self.stations.start()
        except (ProcessError, OSError) as exc:
            self.run_info.notes.append(f"stations not running: {exc}".splitlines()[0])
        self.run_info.phases["stations_up_s"] = round(self.elapsed(), 2)
        board, rack, broker = TaskBoard(), ToteRack(), self.broker

        def worker(kind: type[SimPicker], device: str, seed: int) -> SimPicker:
            """A floor worker with a handheld: its store, token and (if any) bus."""
            return kind(
                device,
                site,
                self.out / "devices" / f"{device}.db",
                self.central.url,
                self.central.token("device", device, site),
                self.clock,
                board,
                rack,
                self._on_drop,
                seed=self.options.seed * 100 + seed,
                bus=(broker.host, broker.port, broker.users[device])
                if broker is not None and device in broker.users
                else None,
                shelves=self.shelves,
            )

        for i in range(self.options.pickers):
            self.pickers.append(worker(SimPicker, f"handheld-{i + 1}", i))
        # One worker keeps the pick bins stocked from the reserve bins (stock screen moves).
        self.pickers.append(worker(SimReplenisher, "replenisher-1", 99))
        for picker in self.pickers:
            picker.start()
        self._wait_first_pull()
        self.run_info.phases["floor_ready_s"] = round(self.elapsed(), 2)

    def _wait_first_pull(self, timeout: float = 20.0) -> None:
        """Start the shift once every device holds its first copy of central's data."""
        stations = self.stations
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stores = []
            if stations is not None:
                stations.check_alive()
                stores = [
                    s.path for s in stations.device_stores() if s.device_id in stations.running
                ]
            if all(p.store.cursor > 0 for p in self.pickers) and all(
                cursor_in(path) > 0 for path in stores
            ):
                return
            time.sleep(0.1)
        self.run_info.notes.append(f"not every device had pulled from central after {timeout} s")

    def order_level(self, order_id: str) -> str:
        """The order's level as central answered at intake ("?" if unknown)."""
        posted = self.poster.state.posted.get(order_id) if self.poster else None
        return posted.level if posted else "?"

    def gtin_of(self, sku: str) -> str:
        """The item barcode of ``sku`` (its GTIN from the site's master data)."""
        found = self.site.sku_by_id().get(sku)
        return found.gtin if found else sku

    def _on_drop(self, tote: str, order_id: str, picker: str, contents: dict[str, int]) -> None:
        if self.stations is not None:
            self.stations.tote_dropped(tote, order_id, picker, contents)

    def _shift(self) -> None:
        opts = self.options
        span = opts.minutes * 60.0
        now = self.clock.now()
        start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        stream = generate_order_stream(
            self.site, opts.orders, start, opts.seed, opts.urgent_share, span_s=span
        )
        self.poster = OrderPoster(stream, start, self.clock, self.central.client)
        self.poster.start()
        self.run_info.phases["stream_start_s"] = round(self.elapsed(), 2)
        middle = start + timedelta(seconds=span / 2)
        self._sleep_until(middle)
        self._disruption(middle)
        if opts.outage_seconds > 0:
            self._outage()
        end = start + timedelta(seconds=span)
        self._sleep_until(end, real_cap=self._remaining() - 10)
        self.poster.join(timeout=max(1.0, self._remaining() - 10))
        self.run_info.phases["stream_end_s"] = round(self.elapsed(), 2)

    def _remaining(self) -> float:
        return self.options.budget_s - self.elapsed()

    def _sleep_until(self, when: datetime, real_cap: float | None = None) -> None:
        ahead = (when - self.clock.now()).total_seconds() / self.clock.rate
        if real_cap is not None:
            ahead = min(ahead, max(0.0, real_cap))
        if ahead > 0:
            time.sleep(ahead)

    def _disruption(self, at: datetime) -> None:
        body = {
            "id": "demo-weather-1",
            "kind": "weather",
            "region": {"country": "DE"},
            "starts_at": at.isoformat(),
            "ends_at": (at + timedelta(hours=12)).isoformat(),
            "escalate_by": 1,
        }
        try:
            with self.central.client() as http:
                response = http.post("/v1/disruptions", json=body)
            answer = response.json() if response.status_code == 200 else response.text[:200]
            self.run_info.disruption = {
                "posted": body,
                "status": response.status_code,
                "answer": answer,
            }
        except Exception as exc:  # the demo goes on; the report says so
            self.run_info.notes.append(f"disruption not posted: {exc}")

    def _outage(self) -> None:
        seconds = min(self.options.outage_seconds, max(1.0, self._remaining() - 25))
        self.run_info.outage = {
            "from_s": round(self.elapsed(), 2),
            "planned_s": seconds,
            "sim_from": self.clock.now().isoformat(),
        }
        self.central.stop()
        drop = self._handheld_drops(seconds)
        time.sleep(seconds)
        drop.close()  # central is back: a pick made now would reach it at once
        self.central.start()
        self.run_info.outage.update(
            to_s=round(self.elapsed(), 2), sim_to=self.clock.now().isoformat()
        )

    def _handheld_drops(self, real_seconds: float) -> OffAir:
        """While central is away, one handheld loses its network halfway through a task
        (the first picker on the way to the next bin after a pick): its picks wait in its
        outbox, so central and the other handhelds know of them only from the claim's
        progress on the floor bus. A free picker takes the task over (a hot one is pushed
        to them) and is sent for the rest only; the first hands its units over when back."""
        outage = OffAir(max(real_seconds * self.clock.rate, OFF_AIR_MIN_S))
        for picker in self.pickers:
            if picker.push is not None and not isinstance(picker, SimReplenisher):
                picker.drop_off_air(outage)
        return outage

    def _drain(self) -> None:
        """Wait until the floor finished every order it can, or the budget is spent."""
        last_change, last_snap = time.monotonic(), None
        goal = self.stations.goal_stage() if self.stations is not None else "picked"
        while self._remaining() > 0:
            if self.stations is not None:
                self.stations.check_alive()
                goal = self.stations.goal_stage()
            stages, _ = stage_counts(self.central.db_path)
            posted = len(self.poster.state.posted) if self.poster else 0
            reached = sum(n for s, n in stages.items() if _at_or_beyond(s, goal))
            if posted and reached + stuck_orders(self.central.db_path, self.site.site_id) >= posted:
                break
            snap = (tuple(sorted(stages.items())), self._pending())
            if snap != last_snap:
                last_snap, last_change = snap, time.monotonic()
            elif time.monotonic() - last_change > 5.0 and not self._busy():
                self.run_info.notes.append("floor idle with orders unfinished (see report)")
                break
            time.sleep(0.25)
        self.run_info.phases["drained_s"] = round(self.elapsed(), 2)
        if self.stations is not None:
            self.stations.close_pickups()

    def _busy(self) -> bool:
        return any(p.current_task for p in self.pickers) or bool(
            self.stations and self.stations.busy()
        )

    def _pending(self) -> int:
        total = 0
        for picker in self.pickers:
            with contextlib.suppress(Exception):
                total += picker.pending
        return total

    def _stop_parts(self) -> None:
        for picker in self.pickers:
            picker.stop_picking()
        if self.poster is not None:
            self.poster.stop()
        # Let every device push what it still holds while central is up (bounded).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.central.running():
            if self._pending() == 0 and (self.stations is None or self.stations.pending() == 0):
                break
            for picker in self.pickers:
                picker.sync.wake()
            time.sleep(0.1)
        if self.stations is not None:
            self.stations.stop()
        for picker in self.pickers:
            picker.close()
        self.run_info.phases["stopped_s"] = round(self.elapsed(), 2)

    # --- live figures ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Figures for the progress display."""
        stages, urgent = stage_counts(self.central.db_path)
        state = self.poster.state if self.poster else None
        return {
            "clock": self.clock.now().strftime("%H:%M"),
            "stages": stages,
            "urgent_stages": urgent,
            "posted": len(state.posted) if state else 0,
            "total": self.options.orders,
            "central_up": self.central.running(),
            "pending": self._pending() + (self.stations.pending() if self.stations else 0),
            "note": "central outage: the floor works from its caches"
            if not self.central.running() and self.run_info.outage
            else "",
        }


def _at_or_beyond(status: str, goal: str) -> bool:
    if status in ("cancelled", "on_hold"):
        return True
    if status not in ORDER_OF_STAGES or goal not in ORDER_OF_STAGES:
        return False
    return ORDER_OF_STAGES.index(status) >= ORDER_OF_STAGES.index(goal)
