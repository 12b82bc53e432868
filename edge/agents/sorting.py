"""The sorter's decisions, without I/O: its config, the tote cache, lane choice, misses.

Kept pure so the hot path (an ``IND`` frame answered by a ``DIV``) is a dict lookup and a
few comparisons, and so it can be tested without a conveyor.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from edge.settings import AgentSettings

URGENT_LEVELS = ("P1", "P2")
EXCEPTION_STATUSES = ("cancelled", "on_hold")
DONE_STATUSES = ("packed", "shipped", "delivered")


@dataclass(frozen=True)
class SorterConfig:
    """The ``[sorter]`` table: lanes, levels that go express, misses before exception."""

    conveyor_id: str
    express_lane: int = 1
    lanes: tuple[int, ...] = (2, 3)
    exception_lane: int = 4
    urgent_levels: tuple[str, ...] = URGENT_LEVELS
    max_misses: int = 3
    status_interval: float = 5.0

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> SorterConfig:
        """Read and check ``[sorter]``; errors name the file and key."""
        table: Mapping[str, Any] = settings.role_table("sorter")
        known = {
            "conveyor_id",
            "express_lane",
            "lanes",
            "exception_lane",
            "urgent_levels",
            "max_misses",
            "status_interval",
        }
        unknown = sorted(set(table) - known)
        if unknown:
            raise settings.fail(f"sorter.{unknown[0]}", "unknown key")

        def lane(key: str, default: int) -> int:
            value = table.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999:
                raise settings.fail(f"sorter.{key}", f"must be a lane number 1..999, got {value!r}")
            return value

        lanes_raw = table.get("lanes", [2, 3])
        if not isinstance(lanes_raw, list) or not lanes_raw:
            raise settings.fail("sorter.lanes", "must be a non-empty list of lane numbers")
        lanes = []
        for i, value in enumerate(lanes_raw):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999:
                raise settings.fail(f"sorter.lanes[{i}]", f"must be a lane number, got {value!r}")
            lanes.append(value)
        express, exception = lane("express_lane", 1), lane("exception_lane", 4)
        if exception in lanes or exception == express:
            raise settings.fail("sorter.exception_lane", "must differ from every other lane")
        levels = table.get("urgent_levels", list(URGENT_LEVELS))
        if not isinstance(levels, list) or not all(v in ("P1", "P2", "P3", "P4") for v in levels):
            raise settings.fail("sorter.urgent_levels", f"must be a list of P1..P4, got {levels!r}")
        misses = table.get("max_misses", 3)
        if isinstance(misses, bool) or not isinstance(misses, int) or not 1 <= misses <= 100:
            raise settings.fail("sorter.max_misses", f"must be 1..100, got {misses!r}")
        interval = table.get("status_interval", 5.0)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise settings.fail("sorter.status_interval", f"must be > 0 seconds, got {interval!r}")
        conveyor_id = table.get("conveyor_id", settings.device_id)
        if not isinstance(conveyor_id, str) or not conveyor_id or "/" in conveyor_id:
            raise settings.fail("sorter.conveyor_id", f"not a conveyor id: {conveyor_id!r}")
        return cls(
            conveyor_id=conveyor_id,
            express_lane=express,
            lanes=tuple(lanes),
            exception_lane=exception,
            urgent_levels=tuple(levels),
            max_misses=misses,
            status_interval=float(interval),
        )


@dataclass(frozen=True)
class ToteInfo:
    """What the sorter knows of the order in a tote."""

    order_id: str
    level: str
    status: str


def tote_info(order: Mapping[str, Any]) -> ToteInfo:
    """The sorter's view of an order row."""
    priority = order.get("priority") or {}
    return ToteInfo(
        order_id=str(order.get("id")),
        level=str(priority.get("level") or "P4"),
        status=str(order.get("status") or "received"),
    )


class ToteCache:
    """tote -> ToteInfo, refreshed from the store's order rows (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_tote: dict[str, ToteInfo] = {}
        self._tote_of: dict[str, str] = {}  # order id -> tote

    def load(self, orders: Iterable[Mapping[str, Any]]) -> None:
        """Replace everything with these order rows."""
        with self._lock:
            self._by_tote.clear()
            self._tote_of.clear()
        for order in orders:
            self.put(str(order.get("id")), order)

    def put(self, order_id: str, order: Mapping[str, Any] | None) -> None:
        """Update one order (None: it is gone). A closed order does not take an open
        order's tote: totes are reused once the earlier order is packed."""
        with self._lock:
            old = self._tote_of.pop(order_id, None)
            held = self._by_tote.get(old) if old is not None else None
            if held is not None and held.order_id == order_id:
                del self._by_tote[old]  # type: ignore[arg-type]
            tote = (order or {}).get("tote")
            if order is None or not tote:
                return
            info = tote_info(order)
            current = self._by_tote.get(tote)
            if (
                current is not None
                and current.order_id != order_id
                and current.status not in DONE_STATUSES
                and info.status in DONE_STATUSES
            ):
                return
            self._by_tote[tote] = info
            self._tote_of[order_id] = tote

    def news(self, order_id: str, level: str | None, status: str | None) -> None:
        """Apply an ``order/{id}/event`` at once (priority change, cancellation)."""
        with self._lock:
            tote = self._tote_of.get(order_id)
            info = self._by_tote.get(tote) if tote else None
            if info is None or info.order_id != order_id or tote is None:
                return
            self._by_tote[tote] = ToteInfo(order_id, level or info.level, status or info.status)

    def get(self, tote: str) -> ToteInfo | None:
        """The order in ``tote``, or None."""
        return self._by_tote.get(tote)  # one dict read: atomic under the GIL

    def __len__(self) -> int:
        return len(self._by_tote)


@dataclass(frozen=True)
class Decision:
    """Where a tote goes and why."""

    tote: str
    lane: int
    reason: str  # urgent|balanced|joins|unknown|cancelled|on_hold|missed|closed
    order_id: str | None = None
    level: str | None = None


class LanePlanner:
    """Chooses lanes and keeps lane queue lengths and miss counts (thread-safe).

    A tote of an order whose earlier tote went down a pack lane follows it there
    (``joins``): that tote waits at the lane's pack station, set aside for the units this
    one brings (a top-up after a short pick), and the parcel closes only when both meet.
    """

    # Orders whose last pack lane is remembered (the oldest are forgotten first).
    REMEMBERED_ORDERS = 5_000

    def __init__(self, config: SorterConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self.queues: dict[int, int] = {
            lane: 0 for lane in (config.express_lane, *config.lanes, config.exception_lane)
        }
        self.misses: dict[str, int] = {}
        self._turn = 0
        self._order_lane: OrderedDict[str, int] = OrderedDict()

    def decide(self, tote: str, info: ToteInfo | None) -> Decision:
        """Pick the lane for ``tote`` and count it in that lane's queue."""
        cfg = self.config
        with self._lock:
            if self.misses.get(tote, 0) >= cfg.max_misses:
                decision = Decision(tote, cfg.exception_lane, "missed", *_ids(info))
            elif info is None:
                decision = Decision(tote, cfg.exception_lane, "unknown")
            elif info.status in EXCEPTION_STATUSES:
                decision = Decision(tote, cfg.exception_lane, info.status, *_ids(info))
            elif info.status in DONE_STATUSES:
                decision = Decision(tote, cfg.exception_lane, "closed", *_ids(info))
            elif (joined := self._order_lane.get(info.order_id)) is not None:
                decision = Decision(tote, joined, "joins", *_ids(info))
            elif info.level in cfg.urgent_levels:
                decision = Decision(tote, cfg.express_lane, "urgent", *_ids(info))
            else:
                lanes = cfg.lanes
                self._turn = (self._turn + 1) % len(lanes)
                order = lanes[self._turn :] + lanes[: self._turn]  # ties rotate
                lane = min(order, key=lambda n: self.queues.get(n, 0))
                decision = Decision(tote, lane, "balanced", *_ids(info))
            self.queues[decision.lane] = self.queues.get(decision.lane, 0) + 1
            return decision

    def left_lane(self, lane: int | None) -> None:
        """A tote left ``lane``'s queue (DONE, or it missed the gate)."""
        if lane is None:
            return
        with self._lock:
            if self.queues.get(lane, 0) > 0:
                self.queues[lane] -= 1

    def missed(self, tote: str) -> int:
        """Count a miss of ``tote``; returns how many it has now."""
        with self._lock:
            self.misses[tote] = self.misses.get(tote, 0) + 1
            return self.misses[tote]

    def diverted(self, tote: str, lane: int | None = None, order_id: str | None = None) -> None:
        """The tote reached ``lane``: forget its misses; a pack lane is remembered for
        the order's next tote."""
        with self._lock:
            self.misses.pop(tote, None)
            if order_id is None or lane is None or lane == self.config.exception_lane:
                return
            self._order_lane[order_id] = lane
            self._order_lane.move_to_end(order_id)
            while len(self._order_lane) > self.REMEMBERED_ORDERS:
                self._order_lane.popitem(last=False)


def _ids(info: ToteInfo | None) -> tuple[str | None, str | None]:
    return (info.order_id, info.level) if info else (None, None)
