"""The shell shared by the pack station and dock agents: their settings table, the
scanner thread, the print spool, display and printer topics, master data from the store.

``[pack]``/``[dock]`` table keys common to both: ``site_config`` (site file with cartons,
carriers and carrier-choice settings; default: the shipped one), ``printer_id`` (the id in
``printer/{id}/...`` topics; default: the device id), ``printer_profile``.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.errors import ConfigError
from config.loader import load_site
from config.models import SiteConfig
from devices.barcodes import Scan
from devices.errors import DeviceError
from devices.printer import open_printer
from devices.printer.escpos import Printer
from devices.printer.spool import Spool
from devices.printer.status import PrinterStatus
from devices.scanner import open_scanner
from devices.scanner.base import QueueScanner
from domain.models import Sku
from edge import topics
from edge.agents.base import Agent, utc_now
from edge.errors import BusError, EdgeError
from edge.settings import AgentSettings
from edge.station.feedback import Feedback, FeedbackLevel, Remaining, Step
from edge.station.shipment import (
    PlanError,
    carrier_from_row,
    sku_from_row,
)
from sync.errors import SyncError

log = logging.getLogger(__name__)

_KNOWN_KEYS = {
    "site_config",
    "printer_id",
    "printer_profile",
    "tracking_tag",
    "tracking_base_url",
}


@dataclass(frozen=True)
class StationSettings:
    """The role table of a pack or dock station, checked."""

    site: SiteConfig
    printer_id: str
    printer_profile: str = "default"
    tracking_tag: str | None = None
    tracking_base_url: str = ""


def station_settings(
    settings: AgentSettings, known: frozenset[str] = frozenset(_KNOWN_KEYS)
) -> StationSettings:
    """Read the ``[pack]``/``[dock]`` table; errors name the file and key."""
    table = settings.role_table()
    role = settings.role
    unknown = sorted(set(table) - known)
    if unknown:
        raise settings.fail(f"{role}.{unknown[0]}", "unknown key")

    def text(key: str, default: str | None) -> str | None:
        value = table.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise settings.fail(f"{role}.{key}", f"must be a non-empty string, got {value!r}")
        return value.strip() if isinstance(value, str) else None

    site_path = text("site_config", None)
    path: Path | None = None
    if site_path is not None:
        path = Path(site_path)
        if not path.is_absolute():
            path = settings.path.parent / path
    try:
        site = load_site(path)
    except ConfigError as exc:
        raise settings.fail(f"{role}.site_config", str(exc)) from exc
    return StationSettings(
        site=site,
        printer_id=text("printer_id", settings.device_id) or settings.device_id,
        printer_profile=text("printer_profile", "default") or "default",
        tracking_tag=text("tracking_tag", None),
        tracking_base_url=text("tracking_base_url", settings.sync.central_url) or "",
    )


def display_topic(site: str, device_id: str) -> str:
    """``rushline/v1/{site}/dev/{id}/display``: what the station screen shows."""
    return topics.dev_display(site, device_id)


def command_topic(site: str, device_id: str) -> str:
    """``rushline/v1/{site}/dev/{id}/command``: commands for a station."""
    return topics.dev_command(site, device_id)


# The status an op moves an order to, and the op fields its order event carries.
_ORDER_NEWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "order.packed": ("packed", ("carton", "weight_g", "carrier_service", "tracking")),
    "order.shipped": ("shipped", ("carrier_service", "tracking")),
}


def order_news_of(kind: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``order/{id}/event`` body announcing a recorded op, or None for ops that are
    not news: {order_id, status, carton?, weight_g?, carrier_service, tracking}."""
    spec = _ORDER_NEWS.get(kind)
    if spec is None or not data.get("order_id"):
        return None
    status, fields = spec
    body: dict[str, Any] = {"order_id": str(data["order_id"]), "status": status}
    body.update({k: data[k] for k in fields if data.get(k) is not None})
    return body


def site_zone(site: SiteConfig) -> ZoneInfo | None:
    """The warehouse's time zone (cutoffs are local wall-clock times)."""
    try:
        return ZoneInfo(site.warehouse().timezone)
    except (KeyError, ZoneInfoNotFoundError, ValueError):
        return None


class NoDelayPrinter:
    """A printer port whose TCP connection sends small writes at once (TCP_NODELAY).

    The spool writes a job and then a 3-byte status query; with Nagle's algorithm the
    query waits for the job's ACK, which the printer delays (~40 ms on Linux), so every
    label would take 40 ms longer than it needs to.
    """

    def __init__(self, inner: Printer) -> None:
        self.inner = inner
        self.url = inner.url

    def _tune(self) -> None:
        sock = getattr(getattr(self.inner, "device", None), "device", None)
        if isinstance(sock, socket.socket):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not a TCP socket after all: nothing to tune

    def send(self, job: bytes) -> None:
        """Write the job (see ``Printer.send``)."""
        self._tune()
        self.inner.send(job)

    def status(self) -> PrinterStatus:
        """Ask the printer (see ``Printer.status``); the connection is tuned once open."""
        answer = self.inner.status()
        self._tune()
        return answer

    def close(self) -> None:
        """Release the connection."""
        self.inner.close()

    def __enter__(self) -> NoDelayPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StationAgent(Agent):
    """Common shell of the pack and dock stations: a scanner thread, a spool, display."""

    table_keys: ClassVar[frozenset[str]] = frozenset(_KNOWN_KEYS)

    def __init__(
        self,
        settings: AgentSettings,
        clock: Callable[[], datetime] = utc_now,
        start_sync: bool = True,
        scanner: QueueScanner | None = None,
        printer_factory: Callable[[], Printer] | None = None,
    ) -> None:
        super().__init__(settings, clock=clock, start_sync=start_sync)
        self.station = station_settings(settings, self.table_keys)
        self._scanner = scanner
        self._own_scanner = scanner is None
        self._printer_factory = printer_factory
        self.spool: Spool | None = None
        self._scan_thread: threading.Thread | None = None
        # One input at a time (scanner, commands, events); re-entrant because recording an
        # op notifies view changes in the recording thread.
        self._work_lock = threading.RLock()
        self.last_feedback: Feedback | None = None
        self.scans = 0
        self.refused = 0

    # --- devices --------------------------------------------------------------------

    def _open_devices(self) -> None:
        url = self.settings.devices.printer
        if self._printer_factory is None:
            if url is None:
                raise self.settings.fail("devices.printer", "a printer URL is required")
            try:
                open_printer(url, self.station.printer_profile)  # checks the URL now
            except DeviceError as exc:
                raise self.settings.fail("devices.printer", str(exc)) from exc
            profile = self.station.printer_profile
            self._printer_factory = lambda: NoDelayPrinter(open_printer(url, profile))
        self.spool = Spool(
            self.settings.store.with_name(self.settings.store.name + ".spool"),
            self._printer_factory,
            on_printed=self._printed,
            retry_base=0.2,
            retry_cap=5.0,  # a printer back from a paper change prints within seconds
        )
        self.spool.start()
        if self._scanner is None:
            scanner_url = self.settings.devices.scanner
            if scanner_url is None:
                raise self.settings.fail("devices.scanner", "a scanner URL is required")
            try:
                self._scanner = open_scanner(scanner_url, device_id=self.device_id)
            except DeviceError as exc:
                raise self.settings.fail("devices.scanner", str(exc)) from exc
        self._scan_thread = threading.Thread(
            target=self._scan_loop, name=f"scans-{self.device_id}", daemon=True
        )
        self._scan_thread.start()

    def _close_devices(self) -> None:
        if self._scanner is not None and self._own_scanner:
            self._scanner.close()
        if self._scan_thread is not None:
            self._scan_thread.join(timeout=5)
            self._scan_thread = None
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def _scan_loop(self) -> None:
        scanner = self._scanner
        while scanner is not None and not self.stopping:
            scan = scanner.read(timeout=0.2)
            if scan is None:
                if getattr(scanner, "closed", False):
                    return
                continue
            try:
                self.handle_scan(scan)
            except Exception:  # one bad scan must not stop the station
                log.exception("%s: scan %r failed", self.device_id, scan.raw)

    def handle_scan(self, scan: Scan) -> Feedback:
        """Handle one decoded scan (the scanner thread calls this; tests may too)."""
        with self._work_lock:
            self.scans += 1
            self._publish_scan(scan)
            return self._on_scan(scan)

    def _on_scan(self, scan: Scan) -> Feedback:  # pragma: no cover - overridden
        raise NotImplementedError

    # --- output ---------------------------------------------------------------------

    def now(self) -> datetime:
        """The floor clock."""
        return self.clock()

    def carry_out(self, step: Step) -> Feedback:
        """Record the step's ops (each its own transaction) and show its message. A
        recorded ``order.packed``/``order.shipped`` is also announced on
        ``order/{id}/event`` (durable), so the other stations learn it without central."""
        if self.store is None:
            raise EdgeError(f"{self.device_id}: agent is not started")
        for op in step.ops:
            try:
                self.store.record(op.kind, dict(op.data), self.now())
            except SyncError as exc:
                log.error("%s: could not record %s: %s", self.device_id, op.kind, exc)
                continue
            news = order_news_of(op.kind, op.data)
            if news is not None:
                self.publish_raw(
                    topics.order_event(self.site, str(news["order_id"])), news, durable=True
                )
        if not step.accepted:
            self.refused += 1
        self.show(step.feedback)
        return step.feedback

    def refuse(
        self, text: str, order_id: str | None = None, remaining: tuple[Remaining, ...] = ()
    ) -> Feedback:
        """Show an error message for an input that changed nothing, and count it refused."""
        feedback = Feedback(FeedbackLevel.ERROR, text, order_id, remaining)
        self.refused += 1
        self.show(feedback)
        return feedback

    def show(self, feedback: Feedback) -> None:
        """Publish the message on ``dev/{id}/display`` (not durable: a screen shows the
        latest message; a lost one is replaced by the next)."""
        self.last_feedback = feedback
        log.info("%s display [%s] %s", self.device_id, feedback.level.value, feedback.text)
        self.publish_raw(display_topic(self.site, self.device_id), feedback.to_payload())

    def publish_raw(self, topic: str, payload: Mapping[str, Any], durable: bool = False) -> None:
        """Publish on the bus (``Bus.publish``: envelope, seq, QoS 1), never raising: a
        screen or an observer must not stop a station."""
        bus = self.bus
        if bus is None:
            return
        try:
            bus.publish(topic, dict(payload), durable=durable)
        except (BusError, ValueError, OSError) as exc:
            log.warning("%s: not published on %s: %s", self.device_id, topic, exc)

    def _publish_scan(self, scan: Scan) -> None:
        self.publish_raw(topics.dev_scan(self.site, self.device_id), scan.to_payload())

    def publish_printer_status(self) -> None:
        """``printer/{id}/status`` retained {online, paper, queued}."""
        if self.bus is None or self.spool is None:
            return
        status = self.spool.last_status
        paper = "out" if "paper=out" in status else "low" if "paper=low" in status else "ok"
        online = status in ("idle", "printing")
        body = {"online": online, "paper": paper, "queued": self.spool.pending()}
        try:
            self.bus.publish(
                topics.printer_status(self.site, self.station.printer_id),
                body,
                durable=False,
                retain=True,
            )
        except BusError as exc:
            log.warning("%s: printer status not published: %s", self.device_id, exc)

    def submit_job(self, job_id: str, kind: str, order_id: str, data: bytes, shown: str) -> bool:
        """Spool a print job and announce it on ``printer/{id}/job`` (durable)."""
        if self.spool is None:
            raise EdgeError(f"{self.device_id}: spool is not open")
        added = self.spool.submit(job_id, kind, order_id, data)
        if added and self.bus is not None:
            body = {"job_id": job_id, "kind": shown, "order_id": order_id, "state": "queued"}
            try:
                self.bus.publish(topics.printer_job(self.site, self.station.printer_id), body)
            except BusError as exc:
                log.warning("%s: job event not published: %s", self.device_id, exc)
        return added

    def _printed(self, job_id: str) -> None:
        """Spool hook (its worker thread): a job was acknowledged by the printer."""
        try:
            self.on_printed(job_id)
        finally:
            self.publish_printer_status()

    def on_printed(self, job_id: str) -> None:
        """A job printed; override."""

    def metrics(self) -> dict[str, Any]:
        """Scans, refusals and the spool's queue for the state payload."""
        queued = self.spool.pending() if self.spool is not None else None
        return {"scans": self.scans, "refused": self.refused, "print_queued": queued}

    def publish_status(self) -> None:
        """State and printer status."""
        super().publish_status()
        self.publish_printer_status()

    # --- master data --------------------------------------------------------------------

    def skus_for(self, order: Mapping[str, Any]) -> dict[str, Sku]:
        """Master data of the order's SKUs: the store's rows, else the site file's."""
        skus: dict[str, Sku] = {}
        site_skus = self.station.site.sku_by_id()
        for line in order.get("lines") or []:
            sku_id = str(line.get("sku"))
            row = self.store.sku(sku_id) if self.store is not None else None
            if row is not None:
                try:
                    skus[sku_id] = sku_from_row(row)
                    continue
                except (PlanError, KeyError, TypeError, ValueError):
                    pass
            if sku_id in site_skus:
                skus[sku_id] = site_skus[sku_id]
        return skus

    def carrier_services(self) -> list[Any]:
        """Carrier services: the store's rows, else the site file's."""
        rows = self.store.carriers() if self.store is not None else []
        services = []
        for row in rows:
            try:
                services.append(carrier_from_row(row))
            except (PlanError, KeyError, TypeError, ValueError):
                log.warning("%s: carrier row %r ignored", self.device_id, row.get("id"))
        return services or list(self.station.site.carriers)
