"""The pack station agent (``rushline agent pack --config FILE``).

A scanner (by URL) feeds :class:`edge.station.pack_session.PackSession`; a verified order
gets a carton, a carrier service and a tracking number, its shipping label and packing
slip go to the printer through the durable spool (job ids ``<order>-label`` and
``<order>-slip``), and ``order.packed`` is recorded. Everything works from the local
store: the central server may be away, the outbox catches up later.

Order of writes for a parcel, so a crash at any point repeats nothing and loses nothing:
tracking number (committed per order) -> both print jobs (spool, idempotent ids) ->
``order.packed``. Scanning the tote again after a crash redoes the missing tail only.

``[pack]`` table of the agent settings (all optional)::

    site_config = "site.toml"   # cartons, carriers, carrier-choice settings (default: shipped)
    printer_id = "pack-1"       # id in printer/{id}/... topics (default: the device id)
    printer_profile = "default" # python-escpos profile of the printer
    tracking_tag = "PACK1"      # station part of tracking numbers (default: from the id)
    tracking_base_url = "https://track.example"  # QR code base (default: central url)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from devices.barcodes import Scan, ScanKind
from devices.errors import DeviceError
from devices.printer.escpos import Printer
from devices.scanner.base import QueueScanner
from domain.models import ExceptionKind
from edge import topics
from edge.agents.base import utc_now
from edge.agents.station_shell import StationAgent, site_zone
from edge.errors import BusError, EdgeError
from edge.settings import AgentSettings
from edge.station.documents import render_documents, tracking_url
from edge.station.feedback import Feedback
from edge.station.pack_session import PackSession, PackState
from edge.station.shipment import (
    PlanError,
    ShipmentPlan,
    plan_shipment,
    rates_from_stats,
)
from edge.tracking_numbers import TrackingCounter, TrackingError
from sync.errors import SyncError

log = logging.getLogger(__name__)


# --- the pack station ------------------------------------------------------------------


def _job_order(job_id: str) -> tuple[str, str] | None:
    order_id, _, suffix = job_id.rpartition("-")
    if suffix in ("label", "slip") and order_id:
        return order_id, suffix
    return None


class PackAgent(StationAgent):
    """The pack station: verify by scan, plan, print, record."""

    role = "pack"

    def __init__(
        self,
        settings: AgentSettings,
        clock: Callable[[], datetime] = utc_now,
        start_sync: bool = True,
        scanner: QueueScanner | None = None,
        printer_factory: Callable[[], Printer] | None = None,
    ) -> None:
        super().__init__(settings, clock, start_sync, scanner, printer_factory)
        self.session = PackSession(self.device_id)
        self.tracking: TrackingCounter | None = None
        self.packed = 0

    def on_start(self) -> None:
        """Open the tracking counter, the spool and the scanner."""
        try:
            self.tracking = TrackingCounter(
                self.settings.store, self.device_id, self.station.tracking_tag
            )
        except TrackingError as exc:
            raise self.settings.fail("pack.tracking_tag", str(exc)) from exc
        self._open_devices()

    def on_stop(self) -> None:
        """Close the scanner, the spool and the counter."""
        self._close_devices()
        if self.tracking is not None:
            self.tracking.close()
            self.tracking = None

    def metrics(self) -> dict[str, Any]:
        """Adds parcels packed and the session's state."""
        return {
            **super().metrics(),
            "packed": self.packed,
            "session": self.session.state.value,
            "order_id": self.session.order_id,
        }

    # --- inputs ----------------------------------------------------------------------

    def _find_order(self, scan: Scan) -> tuple[dict[str, Any] | None, str]:
        if self.store is None:
            return None, scan.raw
        if scan.kind is ScanKind.TOTE:
            tote = str(scan.data.get("tote") or scan.raw)
            row = self.store.order_in_tote(tote)  # also a tote set aside for a top-up
            if row is None:  # bound on a handheld whose op has not come through central yet
                told = self.orders_in_news("tote", lambda t: t == tote)
                return (self.order_view(told[-1]) if told else None), tote
            return self.order_view(str(row["id"])), tote
        order_id = str(scan.data.get("order_id") or "")
        for candidate in (order_id, scan.raw.strip()):
            if candidate:
                row = self.order_view(candidate)
                if row is not None and row.get("lines") is not None:
                    return row, scan.raw.strip()
        return None, scan.raw.strip()

    def _on_scan(self, scan: Scan) -> Feedback:
        if scan.kind in (ScanKind.TOTE, ScanKind.ORDER):
            order, ref = self._find_order(scan)
            names = self._sku_rows(order) if order else {}
            feedback = self.carry_out(self.session.open(order, ref, names))
            if self.session.state is PackState.COMPLETE:
                feedback = self.finish()
            return feedback
        if scan.kind is ScanKind.GS1:
            gtin = str(scan.data.get("gtin") or "")
            sku = self.store.sku_by_gtin(gtin) if (gtin and self.store) else None
            if sku is None and gtin:
                sku = self._site_sku_by_gtin(gtin)
            feedback = self.carry_out(self.session.scan_item(sku, gtin or scan.raw))
            if self.session.state is PackState.COMPLETE and feedback.level.value == "ok":
                feedback = self.finish()
            return feedback
        if scan.kind is ScanKind.UNKNOWN:
            reason = scan.data.get("error") or "not readable"
            return self._say_error(f"barcode {scan.raw!r} not accepted: {reason}")
        return self._say_error(f"a {scan.kind.value} code is not used at the pack station")

    def _say_error(self, text: str) -> Feedback:
        return self.refuse(text, self.session.order_id, self.session.remaining())

    def _sku_rows(self, order: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        rows: dict[str, Mapping[str, Any]] = {}
        site_skus = self.station.site.sku_by_id()
        for line in order.get("lines") or []:
            sku_id = str(line.get("sku"))
            row = self.store.sku(sku_id) if self.store is not None else None
            if row is None and sku_id in site_skus:
                s = site_skus[sku_id]
                row = {"sku": s.sku, "gtin": s.gtin, "name": s.name}
            if row is not None:
                rows[sku_id] = row
        return rows

    def _site_sku_by_gtin(self, gtin: str) -> dict[str, Any] | None:
        wanted = gtin.lstrip("0")
        for s in self.station.site.skus:
            if s.gtin.lstrip("0") == wanted:
                return {"sku": s.sku, "gtin": s.gtin, "name": s.name}
        return None

    def on_order_event(self, order_id: str, event: dict[str, Any]) -> None:
        """A cancel or hold of the open order on the bus stops the session at once."""
        self._recheck(order_id)

    def on_view_change(self, entity: str, ids: list[str]) -> None:
        """A pull brought a cancel or hold of the open order: stop the session too."""
        order_id = self.session.order_id
        if order_id is not None and (entity == "*" or (entity == "order" and order_id in ids)):
            self._recheck(order_id)

    def _recheck(self, order_id: str) -> None:
        if order_id != self.session.order_id:
            return
        with self._work_lock:
            if order_id != self.session.order_id:
                return
            order = self.order_view(order_id)
            if order is None:
                return
            step = self.session.update_order(order)
            if step is not None:
                self.carry_out(step)

    # --- finishing a parcel ----------------------------------------------------------------

    def plan(self, order: Mapping[str, Any]) -> ShipmentPlan:
        """Carton, weight and carrier for a verified order (``PlanError`` says why not)."""
        if self.store is None:
            raise EdgeError(f"{self.device_id}: agent is not started")
        site = self.station.site
        services = self.carrier_services()
        kwargs: dict[str, Any] = {
            "rates": rates_from_stats(self.store.carrier_stats()),
            "threshold": site.carrier_choice.threshold,
            "prior": site.carrier_choice.beta_prior,
            "disruptions": self.store.disruptions(),
            "tz": site_zone(site),
        }
        skus = self.skus_for(order)
        given = self.tracking.assigned(str(order["id"])) if self.tracking else None
        if given is not None:
            # A number was given before a crash: keep its service so the spooled label,
            # the tracking number and order.packed agree.
            same = [s for s in services if s.id == given[1]]
            if same:
                try:
                    return plan_shipment(order, skus, site.cartons, same, self.now(), **kwargs)
                except PlanError:
                    pass
        return plan_shipment(order, skus, site.cartons, services, self.now(), **kwargs)

    def finish(self) -> Feedback:
        """The open order is verified: plan, number, print, record ``order.packed``."""
        order = self.session.order
        if order is None or self.tracking is None:
            return self._say_error("nothing to pack")
        order_id = str(order["id"])
        try:
            plan = self.plan(order)
        except PlanError as exc:
            return self.carry_out(
                self.session.refuse(ExceptionKind.OTHER, f"CANNOT SHIP: {exc}", str(exc))
            )
        try:
            tracking = self.tracking.for_order(order_id, plan.service.carrier, plan.service.id)
            names = {sku: s.name for sku, s in self.skus_for(order).items()}
            url = tracking_url(order, self.station.tracking_base_url)
            label, slip = render_documents(
                order, plan, tracking, names, url, self.station.printer_profile
            )
            self.submit_job(
                f"{order_id}-label", "shipping_label", order_id, label, "shipping_label"
            )
            self.submit_job(f"{order_id}-slip", "packing_slip", order_id, slip, "packing_slip")
        except (DeviceError, TrackingError) as exc:
            return self.carry_out(
                self.session.refuse(
                    ExceptionKind.LABEL_FAILURE, f"LABEL FAILED: {exc}", f"label failed: {exc}"
                )
            )
        feedback = self.carry_out(
            self.session.packed(
                plan.carton.id, plan.weight_g, plan.service.id, tracking, plan.summary()
            )
        )
        self.packed += 1
        return feedback

    def on_printed(self, job_id: str) -> None:
        """Record ``label.printed`` once per job (op id derived from the job id)."""
        parts = _job_order(job_id)
        if parts is None or self.store is None:
            return
        order_id, what = parts
        op_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rushline:{self.device_id}:{job_id}"))
        try:
            self.store.record(
                "label.printed",
                {"order_id": order_id, "printer": self.station.printer_id, "job_id": job_id},
                self.now(),
                op_id=op_id,
            )
        except SyncError as exc:
            log.error("%s: label.printed for %s not recorded: %s", self.device_id, job_id, exc)
        if self.bus is not None:
            body = {
                "job_id": job_id,
                "kind": "shipping_label" if what == "label" else "packing_slip",
                "order_id": order_id,
                "state": "printed",
            }
            try:
                self.bus.publish(topics.printer_job(self.site, self.station.printer_id), body)
            except BusError as exc:
                log.warning("%s: job event not published: %s", self.device_id, exc)


def run(settings: AgentSettings) -> int:
    """``rushline agent pack``: run the pack station until SIGTERM/SIGINT."""
    from sync.simclock import clock_from_env

    floor = clock_from_env()
    return PackAgent(settings, clock=floor.now).run()
