"""The people and things between the demo's stations.

``FloorMonitor`` listens to the whole site's bus (as ``monitor-1``). ``World`` plays the
physical floor: a dropped tote is carried to the conveyor's induction point; a tote that
reaches a lane goes to the pack station, where a packer scans it and its items into the
station's scanner (express lane first); a packed parcel goes to the dock, where it is
scanned at handover. The agents do all the deciding; the world only moves things and
scans them, waiting for each station's display answer.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from rushline.demo.labels import parse_label

if TYPE_CHECKING:
    from rushline.demo.services import BrokerInfo
    from rushline.demo.stations import Stations

log = logging.getLogger(__name__)

# Simulated seconds for the people's moves.
WALK_TO_CONVEYOR_S = 45.0
LANE_TO_PACK_S = 20.0
EXCEPTION_HANDLING_S = 90.0
SCAN_TOTE_S = 3.0
SCAN_ITEM_S = 2.0
PACK_TO_DOCK_S = 30.0
DOCK_RETRY_S = 60.0
PACK_RETRY_S = 60.0
ANSWER_TIMEOUT = 5.0  # real seconds to wait for a station's display answer
MAX_TRIES = 40


class FloorMonitor:
    """A subscriber to ``rushline/v1/{site}/#``; handlers by topic tail (e.g.
    ``conveyor/conveyor-1/event``)."""

    def __init__(self, broker: BrokerInfo, site: str) -> None:
        self.prefix = f"rushline/v1/{site}/"
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="demo-monitor", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set("monitor-1", broker.users["monitor-1"])
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host, self.port = broker.host, broker.port

    def start(self, timeout: float = 10.0) -> None:
        """Connect and subscribe (waits until subscribed, bounded)."""
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        self._ready.wait(timeout)

    def stop(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self.prefix + "#", qos=1)
        self._ready.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        tail = message.topic[len(self.prefix) :]
        kind = tail.split("/")[0]
        with self._lock:
            self._counts[kind] += 1
        handler = self.handlers.get(tail)
        if handler is None:
            return
        try:
            payload = json.loads(message.payload or b"{}")
        except ValueError:
            return
        try:
            handler(payload)
        except Exception:  # a handler bug must not stop the network thread
            log.exception("monitor handler failed for %s", tail)

    def counts(self) -> dict[str, int]:
        """Messages seen per first topic level."""
        with self._lock:
            return dict(self._counts)


@dataclass(order=True)
class _Job:
    due: float
    rank: int
    seq: int
    action: Callable[[], None] = field(compare=False)


class Display:
    """The answers a station shows after each scan (``dev/{id}/display``)."""

    def __init__(self) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()

    def put(self, payload: dict[str, Any]) -> None:
        """One message from the station."""
        self.messages.put(payload)

    def clear(self) -> None:
        """Forget answers nobody waited for."""
        while not self.messages.empty():
            self.messages.get_nowait()

    def wait(self, done: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """Messages until ``done`` accepts one or an error comes; {} after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return {}
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                return {}
            if message.get("level") == "error" or done(message):
                return message


@dataclass
class Tote:
    """A tote on its way: which order it holds and how its trip went."""

    tote: str
    order_id: str
    lane: int | None = None
    urgent: bool = False
    tries: int = 0


class World:
    """Moves totes and parcels between stations on the floor clock."""

    def __init__(self, stations: Stations) -> None:
        self.stations = stations
        self.floor = stations.floor
        self.clock = self.floor.clock
        self.totes: dict[str, Tote] = {}
        self.pack_display, self.dock_display = Display(), Display()
        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []
        self.shipped_tracking: dict[str, str] = {}
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._pack_queue: list[tuple[int, int, Tote]] = []
        self._dock_queue: list[tuple[int, int, str, int]] = []
        self._working = 0
        self._threads: list[threading.Thread] = []

    # --- scheduling ----------------------------------------------------------------------

    def later(self, sim_seconds: float, action: Callable[[], None], rank: int = 1) -> None:
        """Run ``action`` after ``sim_seconds`` of floor time."""
        due = time.monotonic() + sim_seconds / self.clock.rate
        with self._lock:
            heapq.heappush(self._jobs, _Job(due, rank, next(self._seq), action))
            self._lock.notify_all()

    def start(self) -> None:
        """Subscribe to the stations' news and start the scheduler, packer and dock."""
        monitor = self.stations.monitor
        if monitor is not None:
            monitor.handlers["conveyor/conveyor-1/event"] = self._conveyor_event
            monitor.handlers["dev/pack-1/display"] = self.pack_display.put
            monitor.handlers["dev/dock-1/display"] = self.dock_display.put
        for target, name in (
            (self._schedule, "world"),
            (self._packer, "packer"),
            (self._docker, "dock-worker"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop every worker (what is in flight stays where it is)."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def busy(self) -> bool:
        """True while anything is scheduled, queued or being worked on."""
        with self._lock:
            return bool(self._jobs or self._pack_queue or self._dock_queue or self._working)

    def _schedule(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._jobs:
                    self._lock.wait(0.2)
                    continue
                ahead = self._jobs[0].due - time.monotonic()
                if ahead > 0:
                    self._lock.wait(min(ahead, 0.2))
                    continue
                job = heapq.heappop(self._jobs)
                self._working += 1
            try:
                job.action()
            except Exception:  # keep the floor moving; the report counts failures
                log.exception("world action failed")
                self.failures.append("world action failed (see log)")
            finally:
                with self._lock:
                    self._working -= 1

    # --- totes: picker -> conveyor -> lane -> pack station ----------------------------------

    def tote_dropped(self, tote: str, order_id: str, picker: str) -> None:
        """A picker finished a task and put ``tote`` down for the conveyor."""
        level = self.floor.order_level(order_id)
        entry = Tote(tote, order_id, urgent=level in ("P1", "P2"))
        self.totes[tote] = entry
        self.counts["totes_dropped"] += 1
        if "sorter" in self.stations.running and self.stations.conveyor is not None:
            self.later(WALK_TO_CONVEYOR_S, lambda: self._induct(entry))
        else:  # no sorter: the picker carries the tote to the pack station
            self.later(WALK_TO_CONVEYOR_S, lambda: self._to_pack(entry))

    def _induct(self, entry: Tote) -> None:
        self.counts["inducted"] += 1
        self.stations.conveyor.induct(entry.tote)

    def _conveyor_event(self, payload: dict[str, Any]) -> None:
        if payload.get("type") != "diverted":
            return
        entry = self.totes.get(str(payload.get("tote")))
        if entry is None:
            return
        entry.lane = int(payload.get("lane") or 0)
        self.counts[f"lane_{entry.lane}"] += 1
        from rushline.demo.stations import EXCEPTION_LANE

        if entry.lane == EXCEPTION_LANE:
            # A person reads the tote's contents and brings it to the pack station.
            self.later(EXCEPTION_HANDLING_S, lambda: self._to_pack(entry))
        else:
            self.later(LANE_TO_PACK_S, lambda: self._to_pack(entry))

    def _to_pack(self, entry: Tote) -> None:
        if "pack" not in self.stations.running:
            return
        from rushline.demo.stations import EXPRESS_LANE

        first = 0 if entry.lane == EXPRESS_LANE or (entry.lane is None and entry.urgent) else 1
        with self._lock:
            heapq.heappush(self._pack_queue, (first, next(self._seq), entry))
            self._lock.notify_all()

    def _take(self, line: list[Any]) -> Any:
        with self._lock:
            while not self._stop.is_set():
                if line:
                    self._working += 1
                    return heapq.heappop(line)
                self._lock.wait(0.2)
        return None

    def _done_working(self) -> None:
        with self._lock:
            self._working -= 1

    def _wait_sim(self, seconds: float) -> None:
        self._stop.wait(seconds / self.clock.rate)

    # --- the packer ---------------------------------------------------------------------

    def _packer(self) -> None:
        scanner = self.stations.scanners.get("pack")
        while scanner is not None and not self._stop.is_set():
            item = self._take(self._pack_queue)
            if item is None:
                return
            try:
                self._pack(scanner, item[2])
            except Exception:
                log.exception("packing failed")
                self.failures.append(f"packing {item[2].order_id} failed (see log)")
            finally:
                self._done_working()

    def _pack(self, scanner: Any, entry: Tote) -> None:
        display = self.pack_display
        display.clear()
        self._wait_sim(SCAN_TOTE_S)
        scanner.scan(entry.tote)
        answer = display.wait(lambda m: True, ANSWER_TIMEOUT)
        if answer.get("level") == "error":
            # The station does not know the tote yet (e.g. central was away): the packer
            # scans the order barcode on the pick slip instead.
            display.clear()
            scanner.scan(f"ORD-{entry.order_id}")
            answer = display.wait(lambda m: True, ANSWER_TIMEOUT)
        if not answer or answer.get("level") == "error":
            self._retry_pack(entry, answer)
            return
        if "already" in str(answer.get("text")):
            self.counts["already_packed"] += 1
            self._to_dock(entry.order_id, entry.urgent)
            return
        result = answer
        if not str(answer.get("text", "")).startswith("PACKED"):
            for line in answer.get("remaining") or []:
                gtin = self.floor.gtin_of(str(line.get("sku")))
                for _ in range(int(line.get("left") or 0)):
                    self._wait_sim(SCAN_ITEM_S)
                    scanner.scan(gtin)
                    result = display.wait(lambda m: True, ANSWER_TIMEOUT)
                    if result.get("level") == "error":
                        break
            if result and not str(result.get("text", "")).startswith("PACKED"):
                result = display.wait(
                    lambda m: str(m.get("text", "")).startswith("PACKED"), ANSWER_TIMEOUT
                )
        if str(result.get("text", "")).startswith("PACKED"):
            self.counts["packed"] += 1
            self._to_dock(entry.order_id, entry.urgent)
        else:
            self._retry_pack(entry, result)

    def _retry_pack(self, entry: Tote, answer: dict[str, Any]) -> None:
        entry.tries += 1
        self.counts["pack_refusals"] += 1
        if entry.tries >= MAX_TRIES:
            self.failures.append(f"pack {entry.order_id}: {answer.get('text', 'no answer')}")
            return
        self.later(PACK_RETRY_S, lambda: self._to_pack(entry))

    # --- the dock -----------------------------------------------------------------------

    def _to_dock(self, order_id: str, urgent: bool, tries: int = 0) -> None:
        if "dock" not in self.stations.running:
            return

        def arrive() -> None:
            with self._lock:
                heapq.heappush(
                    self._dock_queue, (0 if urgent else 1, next(self._seq), order_id, tries)
                )
                self._lock.notify_all()

        self.later(PACK_TO_DOCK_S if tries == 0 else DOCK_RETRY_S, arrive)

    def tracking_of(self, order_id: str) -> str | None:
        """The tracking number on the parcel's printed label (read off the label)."""
        printer = self.stations.printers.get("pack")
        for job in reversed(list(printer.jobs) if printer is not None else []):
            label = parse_label(job.preview.render())
            if label is not None and label.order_id == order_id:
                return label.tracking
        return None

    def _docker(self) -> None:
        scanner = self.stations.scanners.get("dock")
        while scanner is not None and not self._stop.is_set():
            item = self._take(self._dock_queue)
            if item is None:
                return
            first, _, order_id, tries = item
            try:
                tracking = self.tracking_of(order_id)
                self.dock_display.clear()
                self._wait_sim(SCAN_TOTE_S)
                scanner.scan(tracking or f"ORD-{order_id}")
                answer = self.dock_display.wait(lambda m: True, ANSWER_TIMEOUT)
                if answer and answer.get("level") != "error":
                    self.counts["handed_over"] += 1
                    if tracking:
                        self.shipped_tracking[order_id] = tracking
                elif tries + 1 < MAX_TRIES:
                    self.counts["dock_refusals"] += 1
                    self._to_dock(order_id, first == 0, tries + 1)
                else:
                    self.failures.append(f"dock {order_id}: {answer.get('text', 'no answer')}")
            finally:
                self._done_working()

    def close_pickups(self) -> None:
        """Scan ``CLOSE-<carrier>`` for each carrier handed over (manifests print)."""
        scanner = self.stations.scanners.get("dock")
        if scanner is None or "dock" not in self.stations.running:
            return
        for prefix in sorted({t.split("-")[0] for t in self.shipped_tracking.values()}):
            self.dock_display.clear()
            scanner.scan(f"CLOSE-{prefix}")
            if self.dock_display.wait(lambda m: True, ANSWER_TIMEOUT):
                self.counts["pickups_closed"] += 1

    def summary(self) -> dict[str, Any]:
        """Counts for the report."""
        return {"world": dict(self.counts), "world_failures": self.failures[:20]}
