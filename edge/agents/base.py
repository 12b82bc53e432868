"""What every floor agent does: settings, the local store and its sync client, the bus,
its birth state, ``order/+/event`` and ``central/state``, and a clean shutdown.

Subclass ``Agent``, set ``role``, and override the hooks: ``on_start`` (open devices,
subscribe), ``on_stop`` (close them), ``on_order_event`` and ``metrics``. Run it with
``agent.run()`` (blocks until SIGTERM/SIGINT or ``request_stop``) or ``start``/``stop``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any, ClassVar

from domain.models import OrderStatus
from domain.status import status_rank
from domain.totes import totes_of
from edge import topics
from edge.bus import Bus, BusMessage
from edge.central_watch import CentralWatch
from edge.errors import BusError, EdgeError
from edge.settings import AgentSettings
from sync.client import SyncClient
from sync.errors import SyncError
from sync.simclock import Clock, clock_from_env
from sync.store import LocalStore

log = logging.getLogger(__name__)

# Fields of an ``order/{id}/event`` that are applied to the local view at once: the tote
# a handheld put the order in, status and priority changes (dispatcher), and the parcel
# of a packed/shipped order (stations).
ORDER_EVENT_FIELDS = (
    "tote",
    "status",
    "priority",
    "level",
    "carton",
    "weight_g",
    "carrier_service",
    "tracking",
)


def _rank(status: Any) -> int | None:
    """The status's place on the order path (cancelled counts as a place), None for
    on_hold or anything unknown: those are not ordered against the others."""
    try:
        rank = status_rank(OrderStatus(str(status)))
    except ValueError:
        return None
    return rank if rank >= 0 else None


def later_status(old: Any, new: Any) -> Any:
    """The status that wins when ``new`` news meets ``old``: the one further along the
    path (news may arrive late, or the store may have moved on); a hold or release
    (on_hold on either side) is taken as it comes."""
    a, b = _rank(old), _rank(new)
    if a is not None and b is not None and a > b:
        return old
    return new


def news_covered(row: dict[str, Any] | None, news: dict[str, Any]) -> bool:
    """True when the stored row already shows the news: the same values, or a status
    further along the path (then the news's status and parcel fields are old)."""
    row = row or {}
    row_rank, news_rank = _rank(row.get("status")), _rank(news.get("status"))
    moved_on = row_rank is not None and news_rank is not None and row_rank > news_rank
    for key, value in news.items():
        if key == "priority":
            if (row.get("priority") or {}).get("level") != (value or {}).get("level"):
                return False
        elif key == "tote":
            if value not in totes_of(row):  # a later tote in the store also covers it
                return False
        elif not moved_on and row.get(key) != value:
            return False
    return True


_floor_clock: Clock | None = None


def utc_now() -> datetime:
    """The floor's time, zone-aware UTC: the shared simulated clock when the environment
    names one (``sync.simclock``, as the demo does), else the wall clock."""
    global _floor_clock
    if _floor_clock is None:
        _floor_clock = clock_from_env()
    return _floor_clock.now().astimezone(UTC)


class Agent:
    """Base of the station agents. Not thread-hostile: hooks may be called from the bus
    network thread (``on_order_event``) and from the caller (``start``/``stop``)."""

    role: ClassVar[str] = ""
    status_interval: ClassVar[float] = 5.0

    def __init__(
        self,
        settings: AgentSettings,
        clock: Callable[[], datetime] = utc_now,
        start_sync: bool = True,
    ) -> None:
        if self.role and settings.role != self.role:
            raise settings.fail(
                "device.role", f"this is a {self.role} agent, not {settings.role!r}"
            )
        self.settings = settings
        self.site = settings.site
        self.device_id = settings.device_id
        self.clock = clock
        self.start_sync = start_sync
        self.store: LocalStore | None = None
        self.sync: SyncClient | None = None
        self.bus: Bus | None = None
        self.watch: CentralWatch | None = None
        self.central_reachable: bool | None = None
        self._overlay_lock = threading.Lock()
        self._overlay: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._status_thread: threading.Thread | None = None
        self._unsubscribe_store: Callable[[], None] | None = None
        self._started = False

    # --- lifecycle ----------------------------------------------------------------

    def start(self, bus_wait: float | None = None) -> Agent:
        """Open the store, start sync, bus and the central watch, then ``on_start``."""
        if self._started:
            return self
        self._started = True
        try:
            self.store = LocalStore(self.settings.store, self.device_id, self.site)
            self.sync = SyncClient(
                self.store,
                self.settings.sync.central_url,
                self.settings.sync.token,
                batch_size=self.settings.sync.batch_size,
                timeout=self.settings.sync.timeout,
                interval=self.settings.sync.interval,
                # A device that syncs often also retries often: the backoff is capped at
                # ten intervals (10 s with the default interval of 1 s).
                backoff_cap=min(10.0, max(1.0, 10 * self.settings.sync.interval)),
            )
        except SyncError as exc:
            self.stop()
            raise EdgeError(f"{self.settings.path}: {exc}") from exc
        self._unsubscribe_store = self.store.on_change(self._on_store_change)
        self.bus = Bus(self.settings, clock=self.clock)
        self.bus.subscribe(topics.any_of(self.site, "order_event"), self._on_order_message)
        self.bus.subscribe(topics.central_state(self.site), self._on_central_state)
        try:
            self.on_start()
            self.bus.start(wait=bus_wait)
        except BaseException:
            self.stop()
            raise
        if self.start_sync:
            self.sync.start()
        self.watch = CentralWatch(self.sync, self.bus, on_change=self._set_reachable).start()
        self._status_thread = threading.Thread(
            target=self._status_loop, name=f"status-{self.device_id}", daemon=True
        )
        self._status_thread.start()
        return self

    def stop(self) -> None:
        """Stop everything started, in reverse order; safe to call twice."""
        self._stop.set()
        if self._status_thread is not None:
            self._status_thread.join(timeout=5)
            self._status_thread = None
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        try:
            self.on_stop()
        except Exception:
            log.exception("%s: on_stop failed", self.device_id)
        if self.sync is not None:
            self.sync.close()
            self.sync = None
        if self.bus is not None:
            self.bus.stop()
            self.bus = None
        if self._unsubscribe_store is not None:
            self._unsubscribe_store()
            self._unsubscribe_store = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> Agent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def request_stop(self) -> None:
        """Ask ``run`` to return (thread- and signal-safe)."""
        self._stop.set()

    def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT (or ``request_stop``), stop; returns 0."""
        previous: dict[signal.Signals, Any] = {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("%s: signal %d, stopping", self.device_id, signum)
            self._stop.set()

        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, on_signal)
        try:
            self.start()
            self._check_broker_login()
            log.info("%s agent %s started at site %s", self.role, self.device_id, self.site)
            self._stop.wait()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _check_broker_login(self, timeout: float = 5.0) -> None:
        """A refused login is a settings mistake: fail with one line. A broker that is
        merely down is not: the agent works on and the bus keeps reconnecting."""
        if self.bus is None:
            return
        try:
            self.bus.wait_connected(timeout)
        except BusError as exc:
            if self.bus.refused_login:
                raise EdgeError(f"{self.settings.path}: [mqtt] {exc}") from exc
            log.warning("%s: %s; working on, the bus keeps reconnecting", self.device_id, exc)

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    # --- hooks ----------------------------------------------------------------------

    def on_start(self) -> None:
        """Open devices and subscribe (the bus is not connected yet); override."""

    def on_stop(self) -> None:
        """Close what ``on_start`` opened; override."""

    def on_order_event(self, order_id: str, event: dict[str, Any]) -> None:
        """An ``order/{id}/event`` arrived (the overlay is updated already); override."""

    def on_view_change(self, entity: str, ids: list[str]) -> None:
        """The local view changed (after a pull or a recorded op); override."""

    def metrics(self) -> dict[str, Any]:
        """Figures for the status payload (published in ``dev/{id}/state``); override."""
        return {}

    # --- order view -------------------------------------------------------------------

    def order_view(self, order_id: str) -> dict[str, Any] | None:
        """The order from the local store, with newer ``order/+/event`` news on top (a
        status the store has moved past is not taken back)."""
        row = self.store.order(order_id) if self.store is not None else None
        with self._overlay_lock:
            news = self._overlay.get(order_id)
            news = dict(news) if news else None
        if news is None:
            return row
        merged = dict(row or {"id": order_id})
        status = news.get("status")
        if (
            row is not None
            and status is not None
            and later_status(row.get("status"), status) != status
        ):
            # The store has moved past this news: only a priority change still counts.
            if "priority" in news:
                merged["priority"] = news["priority"]
            return merged
        merged.update(news)
        return merged

    def orders_in_news(self, key: str, match: Callable[[Any], bool]) -> list[str]:
        """Ids of orders whose ``order/+/event`` news has a ``key`` that ``match``es (e.g.
        the tracking number of a parcel packed while central is away)."""
        with self._overlay_lock:
            return [oid for oid, news in self._overlay.items() if key in news and match(news[key])]

    def order_news(self, order_id: str) -> dict[str, Any] | None:
        """What ``order/{id}/event`` said lately about the order, if anything."""
        with self._overlay_lock:
            news = self._overlay.get(order_id)
            return dict(news) if news else None

    def _on_order_message(self, message: BusMessage) -> None:
        order_id = message.id
        if order_id is None or message.sender == self.device_id:
            return  # our own news: the store shows it already
        news = {k: message.payload[k] for k in ORDER_EVENT_FIELDS if k in message.payload}
        if "level" in news and "priority" not in news:
            news["priority"] = {"level": news["level"]}
        news.pop("level", None)
        news = {k: v for k, v in news.items() if v is not None}
        if news:
            with self._overlay_lock:
                known = self._overlay.setdefault(order_id, {})
                if "status" in news and "status" in known:
                    news["status"] = later_status(known["status"], news["status"])
                known.update(news)
        if self.sync is not None:
            self.sync.wake()  # the central version is on its way: fetch it sooner
        try:
            self.on_order_event(order_id, dict(message.payload))
        except Exception:
            log.exception("%s: order event handler failed for %s", self.device_id, order_id)

    def _on_store_change(self, entity: str, ids: list[str]) -> None:
        if entity == "order" and self.store is not None:
            # The store caught up: drop news it already shows (or has moved past).
            with self._overlay_lock:
                for order_id in ids:
                    news = self._overlay.get(order_id)
                    if news is not None and news_covered(self.store.order(order_id), news):
                        del self._overlay[order_id]
        try:
            self.on_view_change(entity, ids)
        except Exception:
            log.exception("%s: view change handler failed", self.device_id)

    # --- central state and status ------------------------------------------------------

    def _on_central_state(self, message: BusMessage) -> None:
        if message.sender != self.device_id and isinstance(message.payload.get("reachable"), bool):
            log.debug(
                "%s: %s says central reachable=%s",
                self.device_id,
                message.sender,
                message.payload["reachable"],
            )

    def _set_reachable(self, reachable: bool) -> None:
        self.central_reachable = reachable

    def publish_status(self) -> None:
        """Publish the state with the current metrics now."""
        if self.bus is None:
            return
        extra = dict(self.metrics())
        extra["central_reachable"] = self.central_reachable
        if self.sync is not None:
            extra["sync_pending"] = self.sync.status.pending
        extra["bus_pending"] = self.bus.pending
        self.bus.publish_state(**extra)

    def on_tick(self) -> None:
        """Called every ``status_interval`` seconds, before the status is published."""

    def _status_loop(self) -> None:
        while not self._stop.wait(self.status_interval):
            try:
                self.on_tick()
            except Exception:
                log.exception("%s: periodic work failed", self.device_id)
            try:
                self.publish_status()
            except Exception:
                log.exception("%s: status publish failed", self.device_id)
