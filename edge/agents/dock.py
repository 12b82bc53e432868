"""The dock agent (``rushline agent dock --config FILE``): carrier handover and pickups.

A handover scan (tracking number, ``ORD-`` or ``TOTE-`` code) of a packed order records
``order.shipped`` and adds the parcel to its carrier's open pickup; anything not packed is
refused with a clear message. ``CLOSE-<carrier>`` scanned, or ``{"cmd": "close_pickup",
"carrier": "dhl"}`` on ``dev/{id}/command``, closes the pickup and prints its manifest on
the dock printer (through the durable spool, job id ``manifest-<pickup id>``).

Parcels of open pickups are kept in the store file (table ``dock_parcels``), written
before ``order.shipped`` is recorded, so a restart neither forgets a parcel nor lists one
twice. ``[dock]`` table: ``site_config``, ``printer_id``, ``printer_profile`` (as pack).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from devices.barcodes import Scan, ScanKind
from devices.errors import DeviceError
from devices.printer.escpos import Printer
from devices.scanner.base import QueueScanner
from domain.cartons import parcel_weight_g
from edge.agents.base import utc_now
from edge.agents.station_shell import StationAgent, command_topic
from edge.bus import BusMessage
from edge.local_db import open_local_db
from edge.settings import AgentSettings
from edge.station.dock import DockDesk
from edge.station.feedback import Feedback
from edge.station.manifest import Manifest, Parcel, render_manifest
from edge.station.shipment import PlanError, order_items
from edge.tracking_numbers import is_tracking

log = logging.getLogger(__name__)

CLOSE_PREFIX = "CLOSE-"
# The spool job kind of a pickup manifest (also its kind on printer/{id}/job).
MANIFEST_SPOOL_KIND = "manifest"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dock_parcels (order_id TEXT PRIMARY KEY, carrier TEXT NOT NULL,"
    " tracking TEXT NOT NULL, service TEXT NOT NULL, weight_g INTEGER NOT NULL, at TEXT NOT NULL,"
    " pickup_id TEXT)",
    "CREATE TABLE IF NOT EXISTS dock_pickups (pickup_id TEXT PRIMARY KEY, carrier TEXT NOT NULL,"
    " closed_at TEXT NOT NULL, parcels INTEGER NOT NULL, weight_g INTEGER NOT NULL)",
)


class PickupBook:
    """Open pickups' parcels and closed pickups, in tables of the dock's store file."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._conn = open_local_db(Path(path), _SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def add(self, carrier: str, parcel: Parcel) -> None:
        """Keep a parcel of an open pickup (a second handover of it changes nothing)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO dock_parcels (order_id, carrier, tracking, service,"
                " weight_g, at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    parcel.order_id,
                    carrier,
                    parcel.tracking,
                    parcel.carrier_service,
                    parcel.weight_g,
                    parcel.at.isoformat(),
                ],
            )

    def open_parcels(self) -> list[tuple[str, Parcel]]:
        """(carrier, parcel) of every parcel not yet on a manifest, in handover order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT carrier, order_id, tracking, service, weight_g, at FROM dock_parcels"
                " WHERE pickup_id IS NULL ORDER BY at, rowid"
            ).fetchall()
        return [
            (r[0], Parcel(r[1], r[2], r[3], int(r[4]), datetime.fromisoformat(r[5]))) for r in rows
        ]

    def closed_counts(self) -> dict[str, int]:
        """Closed pickups per carrier."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT carrier, count(*) FROM dock_pickups GROUP BY carrier"
            ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def closed(self, manifest: Manifest) -> None:
        """Mark the manifest's parcels as closed, in one transaction."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT OR IGNORE INTO dock_pickups VALUES (?, ?, ?, ?, ?)",
                    [
                        manifest.pickup_id,
                        manifest.carrier,
                        manifest.closed_at.isoformat(),
                        manifest.count,
                        manifest.total_weight_g,
                    ],
                )
                for parcel in manifest.parcels:
                    conn.execute(
                        "UPDATE dock_parcels SET pickup_id = ? WHERE order_id = ?",
                        [manifest.pickup_id, parcel.order_id],
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


class DockAgent(StationAgent):
    """The dock: handover scans, pickups per carrier, manifests."""

    role = "dock"
    table_keys = frozenset({"site_config", "printer_id", "printer_profile"})

    def __init__(
        self,
        settings: AgentSettings,
        clock: Callable[[], datetime] = utc_now,
        start_sync: bool = True,
        scanner: QueueScanner | None = None,
        printer_factory: Callable[[], Printer] | None = None,
    ) -> None:
        super().__init__(settings, clock, start_sync, scanner, printer_factory)
        self.desk = DockDesk(self.site, {})
        self.book: PickupBook | None = None
        self.manifests: list[Manifest] = []
        self.shipped = 0

    def on_start(self) -> None:
        """Reload open pickups, open spool and scanner, listen for commands."""
        self.book = PickupBook(self.settings.store)
        self.desk.carriers = self._carrier_names()
        self.desk.restore(self.book.open_parcels(), self.book.closed_counts())
        if self.bus is not None:
            self.bus.subscribe(command_topic(self.site, self.device_id), self._on_command)
        self._open_devices()

    def on_stop(self) -> None:
        """Close devices and the pickup book."""
        self._close_devices()
        if self.book is not None:
            self.book.close()
            self.book = None

    def metrics(self) -> dict[str, Any]:
        """Adds parcels shipped and open pickups."""
        return {
            **super().metrics(),
            "shipped": self.shipped,
            "pickups": {p.carrier: len(p.parcels) for p in self.desk.pickups.values()},
        }

    def _carrier_names(self) -> dict[str, str]:
        return {s.id: s.carrier for s in self.carrier_services()}

    # --- inputs ----------------------------------------------------------------------

    def _on_scan(self, scan: Scan) -> Feedback:
        raw = scan.raw.strip()
        if raw.upper().startswith(CLOSE_PREFIX):
            return self.close_pickup(raw[len(CLOSE_PREFIX) :])
        order: dict[str, Any] | None = None
        if is_tracking(raw):  # first: a carrier code may look like a LOC-/ORD- prefix
            order = self._by_tracking(raw.upper())
            if order is not None or scan.kind is ScanKind.UNKNOWN:
                return self.handover(order, raw)
        if scan.kind is ScanKind.TOTE and self.store is not None:
            row = self.store.order_by_tote(str(scan.data.get("tote") or raw))
            order = self.order_view(str(row["id"])) if row else None
        elif scan.kind is ScanKind.ORDER:
            order = self.order_view(str(scan.data.get("order_id") or "")) or self.order_view(raw)
        elif scan.kind is ScanKind.UNKNOWN:
            order = self.order_view(raw)  # an order id printed without its prefix
            if order is None:
                return self.refuse(f"{raw!r} is not a parcel, order or CLOSE- code")
        else:
            return self.refuse(f"a {scan.kind.value} code is not used at the dock")
        return self.handover(order, raw)

    def _by_tracking(self, tracking: str) -> dict[str, Any] | None:
        if self.store is None:
            return None
        for status in ("packed", ("shipped", "delivered")):
            for row in self.store.orders(status=status, warehouse=self.site):
                if str(row.get("tracking") or "").upper() == tracking:
                    return self.order_view(str(row["id"]))
        # Packed at a station while central is away: known from its order/{id}/event.
        for order_id in self.orders_in_news("tracking", lambda t: str(t).upper() == tracking):
            view = self.order_view(order_id)
            if view is not None and str(view.get("tracking") or "").upper() == tracking:
                return view
        return None

    def _weight(self, order: Mapping[str, Any]) -> int:
        if isinstance(order.get("weight_g"), int):
            return int(order["weight_g"])
        cartons = {c.id: c for c in self.station.site.cartons}
        carton = cartons.get(str(order.get("carton") or ""))
        try:
            items = order_items(order, self.skus_for(order))
        except PlanError:
            return 0
        if carton is None:
            return sum(sku.weight_g * qty for sku, qty in items)
        return parcel_weight_g(items, carton)

    def handover(self, order: dict[str, Any] | None, ref: str) -> Feedback:
        """A parcel at handover: ship it if packed, else refuse."""
        if order is not None and self.desk.carriers == {}:
            self.desk.carriers = self._carrier_names()
        weight = self._weight(order) if order is not None else 0
        service = str((order or {}).get("carrier_service") or "")
        if service and service not in self.desk.carriers:
            self.desk.carriers = self._carrier_names()
        step, parcel = self.desk.handover(order, ref, self.now(), weight)
        if parcel is not None and self.book is not None:
            self.book.add(self.desk.carrier_of(parcel.carrier_service), parcel)
        feedback = self.carry_out(step)
        if parcel is not None:
            self.shipped += 1
        return feedback

    def close_pickup(self, carrier: str) -> Feedback:
        """Close the carrier's pickup and print its manifest."""
        step, manifest = self.desk.close(carrier.strip(), self.now())
        if manifest is None:
            return self.carry_out(step)
        if self.book is not None:
            self.book.closed(manifest)
        self.manifests.append(manifest)
        try:
            data = render_manifest(manifest, self.station.printer_profile)
            self.submit_job(
                manifest.job_id, MANIFEST_SPOOL_KIND, manifest.pickup_id, data, MANIFEST_SPOOL_KIND
            )
        except DeviceError as exc:
            return self.refuse(f"MANIFEST NOT PRINTED: {exc}")
        return self.carry_out(step)

    def _on_command(self, message: BusMessage) -> None:
        payload = message.payload
        if payload.get("cmd") != "close_pickup":
            log.warning("%s: unknown command %r", self.device_id, payload.get("cmd"))
            return
        carrier = payload.get("carrier")
        with self._work_lock:
            if not isinstance(carrier, str) or not carrier.strip():
                self.refuse("close_pickup: carrier is required")
                return
            self.close_pickup(carrier)


def run(settings: AgentSettings) -> int:
    """``rushline agent dock``: run the dock until SIGTERM/SIGINT."""
    from sync.simclock import clock_from_env

    floor = clock_from_env()
    return DockAgent(settings, clock=floor.now).run()
