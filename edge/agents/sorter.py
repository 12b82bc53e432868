"""The sorter agent: induction -> divert by priority (DESIGN.md §1.4).

On ``IND`` (in the conveyor adapter's I/O thread) the tote is looked up in an in-memory
cache (refreshed on store changes; the indexed store lookup only on a cache miss), a lane
is chosen and ``DIV`` is sent at once. Everything else happens on the agent's worker
thread: the ``conveyor/{id}/event`` messages (durable) and, on ``DONE``, the
``tote.diverted`` op in the sync outbox. A tote that misses its gate recirculates; after
``max_misses`` passes it goes to the exception lane and ``exception.raised``
missed_divert is recorded for its order.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import deque
from typing import Any

from devices.conveyor import Conveyor, ConveyorEvent, EventType, open_conveyor
from devices.errors import DeviceError
from devices.url import parse_device_url
from edge import topics
from edge.agents.base import Agent
from edge.agents.sorting import Decision, LanePlanner, SorterConfig, ToteCache
from edge.errors import EdgeError
from edge.settings import AgentSettings
from sync.errors import SyncError

log = logging.getLogger(__name__)

_STOP = object()


class SorterAgent(Agent):
    """Commands diverts for totes read at the induction scanner."""

    role = "sorter"

    def __init__(self, settings: AgentSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.config = SorterConfig.from_settings(settings)
        self.status_interval = self.config.status_interval  # type: ignore[misc]
        if not settings.devices.conveyor:
            raise settings.fail("devices.conveyor", "the sorter needs a conveyor URL")
        self.cache = ToteCache()
        self.planner = LanePlanner(self.config)
        self.conveyor: Conveyor | None = None
        self.conveyor_sim: Any = None  # a ConveyorSim when the URL is sim://
        self.scanner: Any = None
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._scan_thread: threading.Thread | None = None
        self._unsubscribe_conveyor: Any = None
        # The MQTT conveyor bridge publishes the conveyor's events itself.
        self._publish_events = parse_device_url(settings.devices.conveyor).scheme != "mqtt"
        self.latencies_us: deque[float] = deque(maxlen=2000)
        self.counts = {
            "inducted": 0,
            "diverted": 0,
            "missed": 0,
            "exception_lane": 0,
            "unknown": 0,
            "faults": 0,
            "naks": 0,
            "divert_errors": 0,
        }
        self.last_fault: dict[str, Any] | None = None

    # --- lifecycle ----------------------------------------------------------------

    def on_start(self) -> None:
        if self.store is not None:
            self.cache.load(self.store.orders())
            # The lanes the orders' totes went down before a restart (see ``joins``).
            for op in self.store.recent_ops("tote.diverted", self.planner.REMEMBERED_ORDERS):
                lane, order_id = op.data.get("lane"), op.data.get("order_id")
                if isinstance(lane, int) and isinstance(order_id, str):
                    self.planner.diverted(str(op.data.get("tote")), lane, order_id)
        self._worker = threading.Thread(target=self._work, name="sorter-worker", daemon=True)
        self._worker.start()
        url = self.settings.devices.conveyor or ""
        try:
            if url.startswith("sim://"):
                url = self._start_sim(url)
            self.conveyor = open_conveyor(url, client_id=f"{self.device_id}-conveyor")
        except DeviceError as exc:
            raise EdgeError(f"{self.settings.path}: [devices] conveyor: {exc}") from exc
        self._unsubscribe_conveyor = self.conveyor.on_event(self._on_conveyor_event)
        if self.settings.devices.scanner:
            from devices.scanner import open_scanner

            try:
                self.scanner = open_scanner(self.settings.devices.scanner, self.device_id)
            except DeviceError as exc:
                raise EdgeError(f"{self.settings.path}: [devices] scanner: {exc}") from exc
            self._scan_thread = threading.Thread(
                target=self._read_scanner, name="sorter-scanner", daemon=True
            )
            self._scan_thread.start()

    def _start_sim(self, url: str) -> str:
        """``sim://?speed=2&spacing=1`` runs a ConveyorSim on a pty in this process (the
        demo and users without hardware drive it via ``conveyor_sim.induct``)."""
        from devices.conveyor.sim import ConveyorSim

        parsed = parse_device_url(url)
        cfg = self.config
        lanes = max(cfg.express_lane, cfg.exception_lane, *cfg.lanes)
        try:
            speed = float(parsed.option("speed", "2.0") or 2.0)
            spacing = float(parsed.option("spacing", "1.0") or 1.0)
        except ValueError:
            raise DeviceError(f"{url}: speed and spacing must be numbers") from None
        self.conveyor_sim = ConveyorSim(lanes=lanes, speed_m_s=speed, gate_spacing_m=spacing)
        self.conveyor_sim.start()
        return f"serial://{self.conveyor_sim.path}"

    def on_stop(self) -> None:
        if self._unsubscribe_conveyor is not None:
            self._unsubscribe_conveyor()
        if self.scanner is not None:
            self.scanner.close()
        if self._scan_thread is not None:
            self._scan_thread.join(timeout=5)
        if self.conveyor is not None:
            self.conveyor.close()
            self.conveyor = None
        if self.conveyor_sim is not None:
            self.conveyor_sim.stop()
            self.conveyor_sim = None
        if self._worker is not None:
            self._jobs.put(_STOP)
            self._worker.join(timeout=10)
            self._worker = None

    # --- the hot path (conveyor I/O thread) ----------------------------------------

    def induct(self, tote: str) -> Decision:
        """Decide the lane for ``tote`` and send the divert; the rest is queued."""
        started = time.perf_counter()
        info = self.cache.get(tote)
        if info is None and self.store is not None:
            row = self.store.order_by_tote(tote)  # an indexed lookup: the cache may lag
            if row is not None:
                self.cache.put(str(row.get("id")), row)
                info = self.cache.get(tote)
        decision = self.planner.decide(tote, info)
        conveyor = self.conveyor
        error: str | None = None
        try:
            if conveyor is None:
                raise DeviceError("conveyor is not open")
            conveyor.divert(tote, decision.lane, decision.order_id)
        except DeviceError as exc:
            error = str(exc)
            self.planner.left_lane(decision.lane)
        self.latencies_us.append((time.perf_counter() - started) * 1e6)
        self._jobs.put(("inducted", decision, error))
        return decision

    def _on_conveyor_event(self, event: ConveyorEvent) -> None:
        if event.type is EventType.INDUCTED and event.tote:
            self.induct(event.tote)
        elif event.type in (
            EventType.DIVERTED,
            EventType.MISSED,
            EventType.FAULT,
            EventType.NAK,
            EventType.HEARTBEAT_LOST,
            EventType.RECONNECTED,
        ):
            self._jobs.put(("event", event))

    def _read_scanner(self) -> None:
        scanner = self.scanner
        while not self.stopping and scanner is not None:
            try:
                scan = scanner.read(timeout=0.2)
            except DeviceError as exc:
                log.warning("%s: induction scanner: %s", self.device_id, exc)
                time.sleep(0.5)
                continue
            if scan is None:
                if getattr(scanner, "closed", False):
                    return
                continue
            if str(getattr(scan.kind, "value", scan.kind)) == "tote":
                self.induct(scan.raw)
            else:
                log.warning("%s: induction scan %r is not a tote", self.device_id, scan.raw)

    # --- the worker: events and ops off the hot path ----------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            try:
                if job[0] == "inducted":
                    self._after_induct(job[1], job[2])
                else:
                    self._after_event(job[1])
            except (EdgeError, SyncError, DeviceError):
                log.exception("%s: sorter worker failed on %s", self.device_id, job[0])
            except Exception:  # a bug must not stop the sorter
                log.exception("%s: sorter worker bug on %s", self.device_id, job[0])

    def _event(self, payload: dict[str, Any]) -> None:
        if self._publish_events and self.bus is not None:
            self.bus.publish(topics.conveyor_event(self.site, self.config.conveyor_id), payload)

    def _after_induct(self, decision: Decision, error: str | None) -> None:
        self.counts["inducted"] += 1
        if decision.lane == self.config.exception_lane:
            self.counts["exception_lane"] += 1
        if decision.reason == "unknown":
            self.counts["unknown"] += 1
        if error is not None:
            self.counts["divert_errors"] += 1
            log.error("%s: divert of %s failed: %s", self.device_id, decision.tote, error)
        payload: dict[str, Any] = {
            "type": "inducted",
            "tote": decision.tote,
            "lane": decision.lane,
            "reason": decision.reason,
        }
        if decision.order_id:
            payload["order_id"] = decision.order_id
            payload["level"] = decision.level
        if error is not None:
            payload["error"] = error
        self._event(payload)

    def _after_event(self, event: ConveyorEvent) -> None:
        if event.type is EventType.DIVERTED and event.tote:
            self.planner.left_lane(event.lane)
            info = self.cache.get(event.tote)
            self.planner.diverted(event.tote, event.lane, info.order_id if info else None)
            self.counts["diverted"] += 1
            data: dict[str, Any] = {
                "tote": event.tote,
                "lane": event.lane,
                "conveyor": self.config.conveyor_id,
            }
            if info is not None:
                data["order_id"] = info.order_id
            if self.store is not None:
                self.store.record("tote.diverted", data, at=self.clock())
            self._event({"type": "diverted", **data})
        elif event.type is EventType.MISSED and event.tote:
            if event.lane:
                self.planner.left_lane(event.lane)
            misses = self.planner.missed(event.tote)
            self.counts["missed"] += 1
            info = self.cache.get(event.tote)
            self._event(
                {"type": "missed", "tote": event.tote, "lane": event.lane, "misses": misses}
            )
            if misses == self.config.max_misses and info is not None and self.store is not None:
                self.store.record(
                    "exception.raised",
                    {
                        "order_id": info.order_id,
                        "kind": "missed_divert",
                        "detail": f"tote {event.tote} missed its divert {misses} times "
                        f"on {self.config.conveyor_id}; sent to lane {self.config.exception_lane}",
                    },
                    at=self.clock(),
                )
        elif event.type is EventType.FAULT:
            self.counts["faults"] += 1
            self.last_fault = {"code": event.code, "text": event.text, "at": event.at.isoformat()}
            self._event({"type": "fault", "code": event.code, "text": event.text})
            self.publish_status()
        elif event.type is EventType.NAK:
            self.counts["naks"] += 1
            self.planner.left_lane(event.lane)
            log.warning("%s: divert %s refused: %s", self.device_id, event.tote, event.text)
        elif event.type in (EventType.HEARTBEAT_LOST, EventType.RECONNECTED):
            self.publish_status()

    # --- store and bus news ------------------------------------------------------------

    def on_view_change(self, entity: str, ids: list[str]) -> None:
        if self.store is None:
            return
        if entity == "*":
            self.cache.load(self.store.orders())
            ids = self.orders_in_news("tote", lambda tote: True)
        if entity in ("*", "order"):
            # With the floor's news on top: a tote a handheld announced that the store
            # does not show yet stays known.
            for order_id in ids:
                self.cache.put(order_id, self.order_view(order_id))

    def on_order_event(self, order_id: str, event: dict[str, Any]) -> None:
        if isinstance(event.get("tote"), str):
            # A handheld put the order in a tote: known here before central hears of it.
            self.cache.put(order_id, self.order_view(order_id))
            return
        level = event.get("level") or (event.get("priority") or {}).get("level")
        status = event.get("status")
        self.cache.news(
            order_id,
            level if isinstance(level, str) else None,
            status if isinstance(status, str) else None,
        )

    def metrics(self) -> dict[str, Any]:
        lat = sorted(self.latencies_us)
        conveyor = self.conveyor
        link = conveyor.status if conveyor is not None else None
        return {
            "sorter": {
                **self.counts,
                "lane_queues": {str(k): v for k, v in self.planner.queues.items()},
                "decide_us_p50": round(lat[len(lat) // 2], 1) if lat else None,
                "decide_us_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1)
                if lat
                else None,
                "cached_totes": len(self.cache),
                "conveyor_connected": link.connected if link else False,
                "last_fault": self.last_fault,
            }
        }


# The IND -> DIV answer runs in the conveyor thread while the worker, the MQTT and the
# sync threads also want the GIL; with Python's default 5 ms switch interval a busy
# neighbour can hold the divert up for a whole interval. The sorter process trades a
# little throughput for a short, predictable reaction.
SWITCH_INTERVAL_S = 0.0005


def run(settings: AgentSettings) -> int:
    """``rushline agent sorter``: run until SIGTERM/SIGINT."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return SorterAgent(settings).run()
