"""Simulated pickers: each drives the handheld's ``PickerSession`` (the app's own code,
without the UI) against its own ``LocalStore``, synced to central by a ``SyncClient``.

A picker takes the most urgent open task nobody else holds (the handhelds' task claims
on the floor bus; without a bus, a shared ``TaskBoard``), walks to each bin (simulated
time), scans the location and the item, confirms the quantity, scans a tote for each
order and drops the totes on the conveyor (``on_drop``, with what each tote holds).
Units come off the floor's ``Shelves``: a bin holding fewer than the line asks for is
picked empty, the rest reported short, and the bin put on the list to count.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from handheld_app.presenters.pick import PickView, Step
from handheld_app.session import PickerSession
from rushline.demo.shelves import Shelves
from sync.client import SyncClient
from sync.simclock import Clock
from sync.store import LocalStore

log = logging.getLogger(__name__)

# Simulated seconds per action (walking dominates).
WALK_S = (12.0, 35.0)
SCAN_S = (2.0, 5.0)
TOTE_S = (4.0, 8.0)
IDLE_S = 20.0
MAX_ACTIONS_PER_TASK = 400

# (tote, order_id, picker, units per SKU in the tote)
DropCallback = Callable[[str, str, str, dict[str, int]], None]


class TaskBoard:
    """Which picker holds which task, for pickers without the floor bus (they share the
    floor, not a store)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}

    def claim(self, task_id: str, picker: str) -> bool:
        """Take ``task_id`` for ``picker`` unless somebody else holds it."""
        with self._lock:
            holder = self._held.setdefault(task_id, picker)
            return holder == picker

    def held(self) -> dict[str, str]:
        """task -> picker."""
        with self._lock:
            return dict(self._held)


class OffAir:
    """One handheld's network outage of ``sim_seconds``, taken by the first picker on
    the way to the next bin after a pick, until it is closed (a free picker then takes
    the task off the list; a hot one the dispatcher pushes to them)."""

    def __init__(self, sim_seconds: float) -> None:
        self.sim_seconds = sim_seconds
        self._lock = threading.Lock()
        self._taken = False

    def take(self) -> bool:
        """True for the first caller only."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken

    def close(self) -> None:
        """Nobody takes it any more."""
        with self._lock:
            self._taken = True


class ToteRack:
    """Empty totes: ``TOTE-<digits>``, each used once per demo run."""

    def __init__(self, first: int = 10001) -> None:
        self._next = first
        self._lock = threading.Lock()

    def take(self) -> str:
        """The next free tote id."""
        with self._lock:
            tote = f"TOTE-{self._next:05d}"
            self._next += 1
            return tote


@dataclass
class PickerStats:
    """What one picker did."""

    tasks: int = 0
    picks: int = 0
    units: int = 0
    shorts: int = 0
    totes: int = 0
    refusals: int = 0
    taken_first: int = 0  # tasks another picker opened a moment earlier (left to them)
    off_air: int = 0  # times the handheld dropped off the floor bus halfway through a task
    handed_over: int = 0  # tasks taken over meanwhile: the units picked went into a tote
    off_air_orders: list[str] = field(default_factory=list)  # of the task then in hand
    pushed: int = 0
    pushed_taken: int = 0
    moves: int = 0  # bin-to-bin moves (a replenisher's work)
    counts: int = 0  # bins counted after a picker found them short (the replenisher)
    errors: list[str] = field(default_factory=list)


def gs1_item(gtin: str, lot: str | None, expiry: str | None) -> str:
    """The bracketed GS1 string a picker scans: GTIN-14 plus lot and expiry if known."""
    text = f"(01){gtin.zfill(14)}"
    if expiry:
        digits = expiry.replace("-", "")
        if len(digits) == 8:
            text += f"(17){digits[2:]}"
    if lot:
        text += f"(10){lot}"
    return text


class SimPicker:
    """One picker with a handheld: store, sync client and session, on its own thread."""

    def __init__(
        self,
        device_id: str,
        site: str,
        store_path: Path,
        central_url: str,
        token: str,
        clock: Clock,
        board: TaskBoard,
        rack: ToteRack,
        on_drop: DropCallback,
        seed: int,
        sync_interval: float = 0.3,
        bus: tuple[str, int, str] | None = None,
        shelves: Shelves | None = None,
    ) -> None:
        self.device_id = device_id
        self.shelves = shelves
        self.operator = f"OP-{device_id}"
        self.clock = clock
        self.board = board
        self.rack = rack
        self.on_drop = on_drop
        self.rng = random.Random(seed)
        self.stats = PickerStats()
        self.store = LocalStore(store_path, device_id, site)
        self.sync = SyncClient(
            self.store,
            central_url,
            token,
            timeout=2.0,
            clock=clock.now,
            interval=sync_interval,
            backoff_base=0.1,
            backoff_cap=1.0,
        )
        self._pushed: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.push: Any = None
        if bus is not None:
            self.push = self._task_push(site, *bus)
        self.session = PickerSession(
            self.store,
            self.operator,
            clock.now,
            last_sync=lambda: self.sync.status.last_success_at,
            on_tote=self._announce_tote,
            claims=self.push,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current_task: str | None = None
        self._off_air: OffAir | None = None  # a network outage this handheld may take
        self._picks_armed = 0  # picks on the task in hand since the outage was offered
        self._in_totes: dict[str, dict[str, int]] = {}  # per order: units per SKU
        self._got = 0  # units in hand at the current bin (taken off the shelf)

    def _announce_tote(self, order_id: str, tote: str) -> None:
        """The handheld tells the floor bus the order's tote (as the app does)."""
        if self.push is not None:
            self.push.announce_tote(order_id, tote)

    def _task_push(self, site: str, host: str, port: int, password: str) -> Any:
        """Hot picks pushed by the dispatcher to this handheld (None without that part)."""
        try:
            from handheld_app.tasks_push import TaskPush
        except ImportError:
            return None
        return TaskPush(
            host,
            port,
            site,
            self.device_id,
            self._pushed.put,
            username=self.device_id,
            password=password,
        )

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start syncing and picking."""
        self.sync.start()
        if self.push is not None:
            self.push.start()
            self.push.set_available(True, self.operator)
        self._thread = threading.Thread(target=self._run, name=f"picker-{self.device_id}")
        self._thread.daemon = True
        self._thread.start()

    def stop_picking(self) -> None:
        """Finish no new task (the current action ends first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def close(self) -> None:
        """Stop picking and syncing; close the store."""
        self.stop_picking()
        if self.push is not None:
            self.push.stop()
        self.sync.close()
        self.store.close()

    @property
    def pending(self) -> int:
        """Ops waiting to be pushed."""
        return self.store.pending_count()

    def drop_off_air(self, outage: OffAir) -> None:
        """The handheld may lose its network (``outage``, if no other handheld took it
        first) on the way to the next bin after a pick made from now on; the picker
        waits meanwhile. When it is back, a task another picker took over is handed over
        (a tote for the units picked)."""
        self._off_air = outage

    def _go_off_air(self, task: dict[str, Any]) -> None:
        """No network at all for a while: the bus connection is cut without a goodbye
        (the broker sends the will) and sync to central stops (the picks so far stay in
        the outbox); then both come back and the picker walks back into the aisle."""
        assert self._off_air is not None
        seconds, self._off_air = self._off_air.sim_seconds, None
        client = self.push.client
        before = self.push.connects
        client.loop_stop()
        sock = client.socket()
        if sock is not None:
            sock.close()
        self.sync.stop()
        self.stats.off_air += 1
        self.stats.off_air_orders.extend(str(o) for o in task.get("order_ids") or [])
        if self._wait(seconds):
            return
        self.sync.start()
        client.loop_start()
        deadline = time.monotonic() + 15.0  # bounded: a broker that does not come back
        while self.push.connects == before and time.monotonic() < deadline:
            if self._stop.wait(0.05):
                return
        self._wait(WALK_S)  # the retained claims arrive meanwhile

    # --- the work --------------------------------------------------------------------

    def _wait(self, span: tuple[float, float] | float) -> bool:
        """Spend simulated time; True when asked to stop meanwhile."""
        seconds = span if isinstance(span, float) else self.rng.uniform(*span)
        return self._stop.wait(seconds / max(self.clock.rate, 1e-9))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                task = self._next_task()
                if task is None:
                    if self._wait(IDLE_S):
                        return
                    continue
                self._pick(task)
            except Exception as exc:  # a picker must not die silently; note it and go on
                log.exception("%s: picking failed", self.device_id)
                self.stats.errors.append(f"{exc.__class__.__name__}: {exc}")
                if self._wait(IDLE_S):
                    return

    def _next_task(self) -> dict[str, Any] | None:
        self.session.tidy_claims()  # tasks central closed since: their claims go
        # A hot pick pushed to this handheld comes first (the banner on the screen).
        while not self._pushed.empty():
            pushed = self._pushed.get_nowait()
            self.session.pushed_task(pushed)
            self.stats.pushed += 1
            task = self.session.tasks.find(str(pushed.get("id")))
            if task is not None and self._free(str(task["id"])):
                self.stats.pushed_taken += 1
                return task
        for task in self.session.tasks.open_tasks():  # without those other handhelds hold
            if self._free(str(task["id"])):
                return task
        return None

    def _free(self, task_id: str) -> bool:
        """Nobody else holds the task: on the bus, the session claims it when it opens
        it; without one, the shared board is asked."""
        if self.push is not None:
            return self.push.holder(task_id) is None
        return self.board.claim(task_id, self.device_id)

    def _pick(self, task: dict[str, Any]) -> None:
        task_id = str(task["id"])
        self.current_task = task_id
        feedback = self.session.start(task_id)
        if not feedback.ok:
            self.stats.refusals += 1
            self.current_task = None
            return
        dropped: dict[str, str] = {}
        self._in_totes = {}
        self._picks_armed = 0
        for _ in range(MAX_ACTIONS_PER_TASK):
            view = self.session.current_view()
            if self.session.mode != "pick" or not isinstance(view, PickView):
                break  # finished: the session went back to the task list
            if view.step is Step.DONE:
                break
            if self._stop.is_set() and view.step is not Step.TOTE:
                return  # shift over; the task stays open for the next shift
            if self._off_air is not None and self._drops_now(view):
                self._go_off_air(task)
                continue
            if not self._act(view, dropped):
                break
        self.current_task = None
        if self.session.last.code == "task_taken":
            self.stats.taken_first += 1  # two handhelds opened it; the earlier claim has it
            return
        if self.session.last.code == "handed_over":
            self.stats.handed_over += 1  # another picker has the rest
        else:
            self.stats.tasks += 1
        for order_id, tote in dropped.items():
            self.on_drop(tote, order_id, self.device_id, self._in_totes.get(order_id, {}))

    def _drops_now(self, view: PickView) -> bool:
        """This handheld takes the network outage now: on the bus, on the way to the next
        bin after a pick made on the task since the outage was offered (central is away:
        only the claim's progress tells of it), and no other handheld took the outage
        first."""
        outage = self._off_air
        if outage is None or self.push is None or not self._picks_armed:
            return False
        if view.step is not Step.LOCATION:
            return False
        if outage.take():
            return True
        self._off_air = None  # another handheld has it
        return False

    def _act(self, view: PickView, dropped: dict[str, str]) -> bool:
        """One action for the screen's step; False to give the task up."""
        if view.step is Step.LOCATION:
            self._wait(WALK_S)
            feedback = self.session.scan(f"LOC-{view.location}")
        elif view.step is Step.ITEM:
            self._wait(SCAN_S)
            self._got = self._from_shelf(view)
            if self._got == 0:
                return self._short(view)
            feedback = self.session.scan(self._item_code(view))
            if feedback.ok and feedback.code == "picked":
                self._picked(view, 1)
                self._got = 0
            elif not feedback.ok:
                self._put_back(view, self._got)
                self._got = 0
        elif view.step is Step.QTY:
            if self._got <= 0:  # nothing in hand (a resumed task): to the shelf again
                self._got = self._from_shelf(view)
                if self._got == 0:
                    return self._short(view)
            got = min(view.left, self._got)
            feedback = self.session.enter_qty(got)
            if feedback.ok:
                self._picked(view, got)
                self._put_back(view, self._got - got)
            else:
                self._put_back(view, self._got)
            self._got = 0
        elif view.step is Step.TOTE:
            self._wait(TOTE_S)
            tote = self.rack.take()
            feedback = self.session.scan(tote)
            if feedback.ok:
                self.stats.totes += 1
                dropped[view.order_id] = tote
        else:
            return False
        if not feedback.ok:
            self.stats.refusals += 1
            if feedback.code in ("unknown_item", "unknown_barcode", "wrong_item"):
                # The catalogue does not know the item here: report the line short.
                short = self.session.short("not_found")
                if short.ok:
                    self.stats.shorts += 1
                    return True
            if self.stats.refusals > 50:
                self.stats.errors.append(f"{view.task_id}: {feedback.message}")
                return False
        return True

    def _from_shelf(self, view: PickView) -> int:
        """Units of the line the bin really holds, taken off it (all the line asks for
        when the floor has no shelves)."""
        if self.shelves is None:
            return view.left
        return self.shelves.take(view.location, view.sku, view.left)

    def _put_back(self, view: PickView, units: int) -> None:
        """Units taken off the shelf but not picked go back."""
        if units > 0 and self.shelves is not None:
            self.shelves.put(view.location, view.sku, units)

    def _picked(self, view: PickView, units: int) -> None:
        self.stats.picks += 1
        self.stats.units += units
        if self._off_air is not None:
            self._picks_armed += 1
        held = self._in_totes.setdefault(view.order_id, {})
        held[view.sku] = held.get(view.sku, 0) + units

    def _short(self, view: PickView) -> bool:
        """The bin is empty: report the rest of the line short and ask for a count."""
        feedback = self.session.short("bin_empty")
        if not feedback.ok:
            self.stats.refusals += 1
            return False
        self.stats.shorts += 1
        if self.shelves is not None:
            self.shelves.ask_count(view.location, view.sku)
        return True

    def _item_code(self, view: PickView) -> str:
        sku = self.store.sku(view.sku) or {}
        gtin = str(sku.get("gtin") or "")
        lot, expiry = self._lot_of(view.order_id, view.sku, view.location)
        return gs1_item(gtin, lot, expiry) if gtin else f"SKU?{view.sku}"

    def _lot_of(self, order_id: str, sku: str, location: str) -> tuple[str | None, str | None]:
        order = self.store.order(order_id) or {}
        for alloc in order.get("allocations") or []:
            if alloc.get("sku") == sku and alloc.get("location") == location:
                return alloc.get("lot") or None, alloc.get("expiry") or None
        return None, None


def now_of(clock: Clock) -> Callable[[], datetime]:
    """The clock's ``now`` as a plain callable."""
    return clock.now
