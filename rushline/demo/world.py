"""The people and things between the demo's stations.

``World`` plays the physical floor: a dropped tote is carried to the conveyor's induction point; a tote that
reaches a lane goes to the pack station, where a packer scans it and its items into the
station's scanner (express lane first); a packed parcel goes to the dock, where it is
scanned at handover. The agents do all the deciding; the world only moves things and
scans them, waiting for each station's display answer (heard by ``monitor``).

A packer scans what is in the tote. When the station says units are still to be picked
(a short pick whose rest comes in a top-up), the tote goes to the waiting shelf until the
top-up tote of that order arrives; when the station asks for the tote set aside, the
packer brings it over, and both go into one parcel. A second tote of one order set aside
(the station's view of the order lagging, e.g. after a central outage) is looked at
again a minute later.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rushline.demo.labels import parse_label
from rushline.demo.monitor import Display, packed_answer

if TYPE_CHECKING:
    from rushline.demo.stations import Stations

log = logging.getLogger(__name__)

# Simulated seconds for the people's moves.
WALK_TO_CONVEYOR_S = 90.0
# Time is compressed, the network is not: the tote reaches the induction point no sooner
# than the sorter can have heard of it (picker -> central -> sorter) in real seconds.
WALK_TO_CONVEYOR_MIN_REAL_S = 1.5
LANE_TO_PACK_S = 30.0
EXPRESS_TO_PACK_S = 10.0
EXCEPTION_HANDLING_S = 90.0
SCAN_TOTE_S = 3.0
SCAN_ITEM_S = 2.0
PACK_TO_DOCK_S = 120.0
DOCK_RETRY_S = 60.0
PACK_RETRY_S = 60.0
# A second tote of an order set aside (its top-up came, yet the station still waits for
# units: its view of the order lags) is looked at again this often, at most MAX_CHECKS
# times.
SET_ASIDE_CHECK_S = 60.0
MAX_CHECKS = 12
ANSWER_TIMEOUT = 3.0  # real seconds to wait for a station's display answer
MAX_TRIES = 40


def _bring_instruction(text: str) -> bool:
    """The station's answer asks for the tote(s) set aside for the order."""
    return "bring" in text and "set aside for this order" in text


@dataclass(order=True)
class _Job:
    due: float
    rank: int
    seq: int
    action: Callable[[], None] = field(compare=False)


@dataclass
class Tote:
    """A tote on its way: which order it holds and how its trip went."""

    tote: str
    order_id: str
    lane: int | None = None
    urgent: bool = False
    tries: int = 0
    trail: list[str] = field(default_factory=list)  # "HH:MM:SS what", floor time
    contents: dict[str, int] | None = None  # units per SKU; None: what the order asks
    # Units scanned out of it at packing (they stay with it until the parcel is closed).
    scanned: Counter[str] = field(default_factory=Counter)
    # Totes of the same order set aside earlier that the packer brought over to this one.
    brought: list[Tote] = field(default_factory=list)
    checks: int = 0  # times it was taken off the waiting shelf to be looked at again


class World:
    """Moves totes and parcels between stations on the floor clock."""

    def __init__(self, stations: Stations) -> None:
        self.stations = stations
        self.floor = stations.floor
        self.clock = self.floor.clock
        self.totes: dict[str, Tote] = {}
        self.displays = {device: Display() for device in stations.scanners}
        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []
        self.shipped_tracking: dict[str, str] = {}
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._pack_queue: list[tuple[int, int, Tote]] = []
        self._shelf: list[Tote] = []
        self._waiting: dict[str, list[Tote]] = {}  # order -> totes waiting for its top-up
        self._dock_queue: list[tuple[int, int, str, int]] = []
        self.refusals: Counter[str] = Counter()  # what the stations answered, by text
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
            for device, display in self.displays.items():
                monitor.handlers[f"dev/{device}/display"] = display.put
        workers: list[tuple[Callable[..., None], str, tuple[Any, ...]]] = [
            (self._schedule, "world", ())
        ]
        for device, role in self.stations.devices:
            if role == "pack" and device in self.stations.scanners:
                workers.append((self._packer, f"packer-{device}", (device,)))
            elif role == "dock" and device in self.stations.scanners:
                workers.append((self._docker, f"worker-{device}", (device,)))
        for target, name, args in workers:
            thread = threading.Thread(target=target, name=name, args=args, daemon=True)
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
            return bool(
                self._jobs or self._pack_queue or self._dock_queue or self._working or self._shelf
            )

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

    def tote_dropped(
        self, tote: str, order_id: str, picker: str, contents: dict[str, int] | None = None
    ) -> None:
        """A picker finished a task and put ``tote`` down for the conveyor."""
        level = self.floor.order_level(order_id)
        entry = Tote(tote, order_id, urgent=level in ("P1", "P2"), contents=contents)
        self.totes[tote] = entry
        self.counts["totes_dropped"] += 1
        self._note(entry, f"dropped by {picker}")
        walk = max(WALK_TO_CONVEYOR_S, WALK_TO_CONVEYOR_MIN_REAL_S * self.clock.rate)
        if self.stations.role_running("sorter") and self.stations.conveyor is not None:
            self.later(walk, lambda: self._induct(entry))
        else:  # no sorter: the picker carries the tote to the pack station
            self.later(walk, lambda: self._to_pack(entry))

    def _note(self, entry: Tote, what: str) -> None:
        entry.trail.append(f"{self.clock.now():%H:%M:%S} {what}")

    def _induct(self, entry: Tote) -> None:
        self._note(entry, "inducted")
        self.counts["inducted"] += 1
        self.stations.conveyor.induct(entry.tote)

    def _conveyor_event(self, payload: dict[str, Any]) -> None:
        if payload.get("type") != "diverted":
            return
        entry = self.totes.get(str(payload.get("tote")))
        if entry is None:
            return
        entry.lane = int(payload.get("lane") or 0)
        self._note(entry, f"lane {entry.lane}")
        self.counts[f"lane_{entry.lane}"] += 1
        from rushline.demo.stations import EXCEPTION_LANE

        if entry.lane == EXCEPTION_LANE:
            # A person reads the tote's contents and brings it to the pack station.
            # Its pick slip says how urgent it is: urgent ones are walked over first.
            delay = EXCEPTION_HANDLING_S / 3 if entry.urgent else EXCEPTION_HANDLING_S
            self.later(delay, lambda: self._to_pack(entry))
        else:
            from rushline.demo.stations import EXPRESS_LANE

            walk = EXPRESS_TO_PACK_S if entry.lane == EXPRESS_LANE else LANE_TO_PACK_S
            self.later(walk, lambda: self._to_pack(entry))

    def _to_pack(self, entry: Tote) -> None:
        self._note(entry, "at pack")
        if not self.stations.role_running("pack"):
            return
        from rushline.demo.stations import EXPRESS_LANE

        first = 0 if entry.lane == EXPRESS_LANE or entry.urgent else 1
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

    def _packer(self, device: str) -> None:
        scanner = self.stations.scanners[device]
        display = self.displays[device]
        while not self._stop.is_set():
            item = self._take(self._pack_queue)
            if item is None:
                return
            try:
                self._pack(scanner, display, item[2])
            except Exception:
                log.exception("packing failed")
                self.failures.append(f"packing {item[2].order_id} failed (see log)")
            finally:
                self._done_working()

    def _pack(self, scanner: Any, display: Display, entry: Tote) -> None:
        self._note(entry, "packing")
        order_id = entry.order_id
        display.clear()
        self._wait_sim(SCAN_TOTE_S)
        scanner.scan(entry.tote)
        answer = display.wait(order_id, ANSWER_TIMEOUT)
        if answer.get("level") == "error" or not answer:
            # The station does not know the tote yet (e.g. central was away): the packer
            # scans the order barcode on the pick slip instead.
            display.clear()
            scanner.scan(f"ORD-{order_id}")
            answer = display.wait(order_id, ANSWER_TIMEOUT)
        if not answer or answer.get("level") == "error":
            self._retry_pack(entry, answer)
            return
        if "already" in str(answer.get("text")):
            self.counts["already_packed"] += 1
            self._to_dock(order_id, entry.urgent)
            return
        if _bring_instruction(str(answer.get("text"))):
            self._bring(entry)
        result = answer
        if not packed_answer(answer):
            for line in answer.get("remaining") or []:
                sku = str(line.get("sku"))
                gtin = self.floor.gtin_of(sku)
                for _ in range(self._in_hand(entry, sku, int(line.get("left") or 0))):
                    self._wait_sim(SCAN_ITEM_S)
                    scanner.scan(gtin)
                    result = display.wait(order_id, ANSWER_TIMEOUT)
                    if result.get("level") == "error":
                        break
            if "still to be picked" in str(result.get("text")) or (
                "also in tote" in str(answer.get("text")) and not packed_answer(result)
            ):
                # The rest comes in a top-up tote, or is in the order's other tote (a
                # task taken over halfway): this one waits on the shelf for it.
                self._set_aside(entry)
                return
            if result.get("level") != "error" and not packed_answer(result):
                result = display.wait(order_id, ANSWER_TIMEOUT, final=True)
        if packed_answer(result):
            self.counts["packed"] += 1
            self._note(entry, "packed")
            self._rejoin(entry)
            self._to_dock(order_id, entry.urgent)
        else:
            self._retry_pack(entry, result)

    @staticmethod
    def _in_hand(entry: Tote, sku: str, left: int) -> int:
        """Units of ``sku`` to scan (at most ``left``): out of the tote first, then units
        of the totes brought over that were scanned at an earlier station (a station
        whose view of the order lags asks for them again)."""
        if entry.contents is None:
            return left
        units = min(left, entry.contents.get(sku, 0))
        entry.contents[sku] = entry.contents.get(sku, 0) - units
        entry.scanned[sku] += units
        again = min(left - units, sum(b.scanned[sku] for b in entry.brought))
        return units + again

    def _bring(self, entry: Tote) -> None:
        """The station asked for the totes set aside for this order: the packer fetches
        them from the waiting shelf and puts them beside ``entry``."""
        with self._lock:
            waiting = self._waiting.pop(entry.order_id, [])
        for earlier in waiting:
            if earlier is entry:
                continue
            entry.brought.append(earlier)
            self._note(earlier, f"brought to {entry.tote} at packing")

    def _set_aside(self, entry: Tote) -> None:
        """Every unit in hand is verified and more are still to be picked: the tote (with
        any brought over to it) waits on the shelf for the order's top-up tote."""
        group = [entry, *entry.brought]
        entry.brought = []
        with self._lock:
            shelf = self._waiting.setdefault(entry.order_id, [])
            shelf.extend(group)
            second = len(shelf) > 1
        self.counts["set_aside"] += 1
        self._note(entry, "set aside for its top-up")
        if second and entry.checks < MAX_CHECKS:
            # The top-up came and the station still waits: look again once its view of
            # the order has caught up (e.g. after a central outage).
            self.later(SET_ASIDE_CHECK_S, lambda: self._check_aside(entry))

    def _check_aside(self, entry: Tote) -> None:
        """Take ``entry`` off the waiting shelf and offer it to a packer again."""
        with self._lock:
            shelf = self._waiting.get(entry.order_id) or []
            if entry not in shelf:
                return  # brought over to another tote meanwhile
            shelf.remove(entry)
            if not shelf:
                del self._waiting[entry.order_id]
        entry.checks += 1
        self._note(entry, "taken off the waiting shelf to look again")
        self._to_pack(entry)

    def _rejoin(self, entry: Tote) -> None:
        """The order is packed: the totes set aside for it went into its parcel."""
        with self._lock:
            waiting = self._waiting.pop(entry.order_id, [])
        for earlier in [*entry.brought, *waiting]:
            self.counts["rejoined"] += 1
            self._note(earlier, f"rejoined with {entry.tote}")
        entry.brought = []

    def _retry_pack(self, entry: Tote, answer: dict[str, Any]) -> None:
        entry.tries += 1
        self.counts["pack_refusals"] += 1
        self.refusals[str(answer.get("text") or "no answer")[:40]] += 1
        if entry.tries >= MAX_TRIES:
            self.failures.append(f"pack {entry.order_id}: {answer.get('text', 'no answer')}")
            return
        # Totes the station cannot pack yet wait on one shelf and are all offered again
        # together, so the packer's urgent-first rule still orders them.
        with self._lock:
            first = not self._shelf
            self._shelf.append(entry)
        if first:
            self.later(PACK_RETRY_S, self._offer_shelf)

    def _offer_shelf(self) -> None:
        with self._lock:
            shelf, self._shelf = self._shelf, []
        for entry in shelf:
            self._to_pack(entry)

    # --- the dock -----------------------------------------------------------------------

    def _to_dock(self, order_id: str, urgent: bool, tries: int = 0) -> None:
        if not self.stations.role_running("dock"):
            return

        def arrive() -> None:
            with self._lock:
                heapq.heappush(
                    self._dock_queue, (0 if urgent else 1, next(self._seq), order_id, tries)
                )
                self._lock.notify_all()

        self.later(PACK_TO_DOCK_S if tries == 0 else DOCK_RETRY_S * min(tries, 4), arrive)

    def tracking_of(self, order_id: str) -> str | None:
        """The tracking number on the parcel's printed label (read off the label)."""
        for device, printer in self.stations.printers.items():
            if not device.startswith("pack"):
                continue
            for job in reversed(list(printer.jobs)):
                label = parse_label(job.preview.render())
                if label is not None and label.order_id == order_id:
                    return label.tracking
        return None

    def _docker(self, device: str) -> None:
        scanner = self.stations.scanners[device]
        display = self.displays[device]
        while not self._stop.is_set():
            item = self._take(self._dock_queue)
            if item is None:
                return
            first, _, order_id, tries = item
            try:
                tracking = self.tracking_of(order_id)
                display.clear()
                self._wait_sim(SCAN_TOTE_S)
                scanner.scan(tracking or f"ORD-{order_id}")
                answer = display.wait(order_id, ANSWER_TIMEOUT)
                if answer and answer.get("level") != "error":
                    self.counts["handed_over"] += 1
                    if tracking:
                        self.shipped_tracking[order_id] = tracking
                elif tries + 1 < MAX_TRIES:
                    # The dock has not heard of the packing yet (it comes through central).
                    self.counts["dock_refusals"] += 1
                    self.refusals["dock: " + str(answer.get("text") or "no answer")[:34]] += 1
                    self._to_dock(order_id, first == 0, tries + 1)
                else:
                    self.failures.append(f"dock {order_id}: {answer.get('text', 'no answer')}")
            finally:
                self._done_working()

    def close_pickups(self) -> None:
        """Scan ``CLOSE-<carrier>`` for each carrier handed over (manifests print)."""
        docks = [d for d, r in self.stations.devices if r == "dock" and d in self.displays]
        if not docks or not self.stations.role_running("dock"):
            return
        scanner, display = self.stations.scanners[docks[0]], self.displays[docks[0]]
        for prefix in sorted({t.split("-")[0] for t in self.shipped_tracking.values()}):
            display.clear()
            scanner.scan(f"CLOSE-{prefix}")
            if display.wait("", ANSWER_TIMEOUT):
                self.counts["pickups_closed"] += 1

    def summary(self) -> dict[str, Any]:
        """Counts for the report."""
        return {
            "world": dict(self.counts),
            "waiting_for_top_up": sorted(self._waiting),
            "world_failures": self.failures[:20],
            "station_refusals": dict(self.refusals.most_common(10)),
            "tote_trails": {t.tote: [t.order_id, *t.trail] for t in self.totes.values()},
        }
