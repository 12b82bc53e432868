"""The pick flow of one task: go to the bin, scan it, scan the item, confirm the
quantity, next line in route order; short picks; the tote drop at the end.

``PickFlow`` holds no Kivy: the screen shows ``view()`` and forwards scans and taps.
Every accepted action is one ``LocalStore.record`` (local effect + outbox op).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from devices.barcodes import Scan, ScanKind
from domain.claims import Claim
from handheld_app.presenters.feedback import Feedback
from handheld_app.presenters.progress import LineState, TaskProgress
from handheld_app.presenters.tasks import task_reasons
from handheld_app.presenters.timefmt import countdown, parse_when
from sync.errors import SyncError
from sync.store import LocalStore

log = logging.getLogger(__name__)

Row = dict[str, Any]
# Statuses in which an order physically occupies its tote.
_IN_TOTE = ("received", "allocated", "picking", "picked")


class Step(StrEnum):
    """Where the picker is in the current line."""

    LOCATION = "location"
    ITEM = "item"
    QTY = "qty"
    TOTE = "tote"
    DONE = "done"


class ShortReason(StrEnum):
    """Why a bin could not give the quantity asked for."""

    BIN_EMPTY = "bin_empty"
    DAMAGED = "damaged"
    NOT_FOUND = "not_found"

    @property
    def label(self) -> str:
        """The button text."""
        return {"bin_empty": "Bin empty", "damaged": "Damaged", "not_found": "Not found"}[
            self.value
        ]


@dataclass(frozen=True)
class PickView:
    """Everything the pick screen shows."""

    task_id: str
    level: str
    step: Step
    prompt: str
    countdown: str
    order_id: str = ""
    location: str = ""
    sku: str = ""
    item_name: str = ""
    gtin: str = ""
    line_qty: int = 0
    left: int = 0
    line_no: int = 0
    line_count: int = 0
    tote: str = ""
    lot: str = ""
    expiry: str = ""
    alternatives: tuple[str, ...] = ()
    message: str = ""
    ok: bool = True
    reasons: tuple[str, ...] = field(default_factory=tuple)


class PickFlow:
    """One task being picked by one operator."""

    def __init__(
        self,
        store: LocalStore,
        progress: TaskProgress,
        task: Row,
        operator: str,
        clock: Callable[[], datetime],
        on_tote: Callable[[str, str], None] | None = None,
        claimants: Callable[[str], Sequence[Claim]] | None = None,
    ) -> None:
        self.store = store
        self.progress = progress
        self.task = task
        self.operator = operator
        self.clock = clock
        self.on_tote = on_tote  # (order id, tote) once a tote is bound, e.g. the floor bus
        self.claimants = claimants  # every claim heard on a task (the floor bus), or None
        self._at_location: str | None = None
        self._item: dict[str, Any] | None = None
        self._alternatives: tuple[str, ...] = ()
        self._last = Feedback.good("")
        # Another picker took the task over (see ``PickerSession``): nothing more is
        # picked here; the units picked already go into a tote per order, to packing.
        self.handing_over = False

    @property
    def task_id(self) -> str:
        """The task being picked."""
        return str(self.task["id"])

    # --- state ---------------------------------------------------------------------

    def current_line(self) -> LineState | None:
        """The first line in route order with units left, or None when all are done
        (or the task is being handed over)."""
        if self.handing_over:
            return None
        return next((line for line in self.progress.lines(self.task) if line.left), None)

    def orders_without_tote(self) -> list[str]:
        """Orders that need a tote scanned before the task is done (when handing the
        task over: those with units picked here)."""
        if self.handing_over:
            bound = self.progress.totes(self.task_id)
            picked = self.progress.picked(self.task_id)
            orders = [str(o) for o in self.task.get("order_ids") or []]
            return [o for o in orders if picked.get(o) and o not in bound]
        return self.progress.unbound(self.task)

    def step(self) -> Step:
        """The step the picker is on."""
        line = self.current_line()
        if line is None:
            return Step.TOTE if self.orders_without_tote() else Step.DONE
        if self._at_location != line.location:
            return Step.LOCATION
        return Step.ITEM if self._item is None else Step.QTY

    def _tote_of(self, order_id: str) -> str | None:
        bound = self.progress.totes(self.task_id).get(order_id)
        if bound:
            return bound
        order = self.store.order(order_id) or {}
        return order.get("tote") or None

    # --- actions -------------------------------------------------------------------

    def scan(self, scan: Scan) -> Feedback:
        """A scanned barcode, checked against the step the picker is on."""
        if scan.kind is ScanKind.UNKNOWN:
            why = scan.data.get("error", "not readable")
            return self._done(Feedback.refuse("unknown_barcode", f"Unknown barcode: {why}"))
        if scan.kind is ScanKind.TOTE:
            return self._done(self._tote(str(scan.data["tote"])))
        step = self.step()
        line = self.current_line()
        if line is None:
            if step is Step.TOTE:
                return self._done(Feedback.refuse("scan_tote", "Scan a tote (TOTE-...) to drop"))
            return self._done(Feedback.refuse("task_done", "Task done: pick the next task"))
        if scan.kind is ScanKind.LOCATION:
            return self._done(self._location(line, str(scan.data["code"])))
        if scan.kind is ScanKind.GS1:
            if step is Step.LOCATION:
                return self._done(
                    Feedback.refuse(
                        "scan_location_first", f"Scan the location first: {line.location}"
                    )
                )
            return self._done(self._item_scan(line, scan))
        return self._done(
            Feedback.refuse("not_expected", f"A {scan.kind.value} barcode is not expected here")
        )

    def enter_qty(self, qty: int) -> Feedback:
        """Confirm ``qty`` units of the scanned item from the current bin."""
        line = self.current_line()
        if line is None or self.step() is not Step.QTY or self._item is None:
            return self._done(Feedback.refuse("scan_item_first", "Scan the item first"))
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            return self._done(Feedback.refuse("bad_qty", "Quantity must be 1 or more"))
        if qty > line.left:
            return self._done(
                Feedback.refuse("too_many", f"Too many: only {line.left} left on this line")
            )
        return self._done(self._confirm(line, qty))

    def short(self, reason: ShortReason | str) -> Feedback:
        """Report the rest of the current line short; shows other bins from the cache."""
        try:
            why = ShortReason(reason)
        except ValueError:
            known = ", ".join(r.value for r in ShortReason)
            return self._done(
                Feedback.refuse("bad_reason", f"Unknown short reason {reason!r} ({known})")
            )
        line = self.current_line()
        if line is None:
            return self._done(Feedback.refuse("nothing_to_short", "No line to report short"))
        data = {
            "order_id": line.order_id,
            "sku": line.sku,
            "location": line.location,
            "qty_short": line.left,
            "reason": why.value,
            "operator": self.operator,
            "task_id": self.task_id,
        }
        refused = self._record("pick.short", data)
        if refused:
            return self._done(refused)
        self._item = None
        self._alternatives = self.alternatives(line)
        also = f" Also in: {', '.join(self._alternatives)}" if self._alternatives else ""
        if line.order_id in self.progress.totes(self.task_id):
            # Its tote is bound: no follow-up line comes to this task; central sends the
            # rest as a top-up pick once the tote has left.
            also += " The rest follows as a top-up pick after this tote leaves."
        return self._done(
            Feedback.good(f"Short {line.left} x {line.sku} ({why.label}).{also}", "short")
        )

    def alternatives(self, line: LineState, limit: int = 3) -> tuple[str, ...]:
        """Other bins of the line's SKU in this warehouse with stock, most available first."""
        warehouse = self.task.get("warehouse") or self.store.site
        rows = [
            r
            for r in self.store.stock(line.sku, warehouse)
            if r.get("location") != line.location and int(r.get("available") or 0) > 0
        ]
        rows.sort(key=lambda r: (-int(r.get("available") or 0), str(r.get("location"))))
        return tuple(f"{r['location']} ({int(r['available'])})" for r in rows[:limit])

    # --- steps ---------------------------------------------------------------------

    def _location(self, line: LineState, code: str) -> Feedback:
        if code != line.location:
            return Feedback.refuse(
                "wrong_location", f"Wrong location {code}: go to {line.location}"
            )
        if self._at_location != code:
            self._item = None
        self._at_location = code
        self._alternatives = ()
        return Feedback.good(f"At {code}: scan {line.sku}", "at_location")

    def _item_scan(self, line: LineState, scan: Scan) -> Feedback:
        gtin = scan.data.get("gtin")
        if not gtin:
            return Feedback.refuse("unknown_barcode", "No item number (GTIN) in this barcode")
        found = self.store.sku_by_gtin(str(gtin))
        if found is None:
            return Feedback.refuse("unknown_item", f"Item {gtin} is not in the catalogue")
        if found.get("sku") != line.sku:
            return Feedback.refuse(
                "wrong_item", f"Wrong item {found.get('sku')}: take {line.sku} here"
            )
        self._item = {"lot": scan.data.get("lot"), "expiry": scan.data.get("expiry")}
        if line.left == 1:  # the common case: one scan, one unit, no keypad
            return self._confirm(line, 1)
        return Feedback.good(f"{line.sku}: how many? ({line.left} left)", "item_ok")

    def _confirm(self, line: LineState, qty: int) -> Feedback:
        item = self._item or {}
        data: dict[str, Any] = {
            "order_id": line.order_id,
            "sku": line.sku,
            "location": line.location,
            "qty": qty,
            "operator": self.operator,
            "task_id": self.task_id,
        }
        for name in ("lot", "expiry"):
            if item.get(name):
                data[name] = str(item[name])
        tote = self._tote_of(line.order_id)
        if tote:
            data["tote"] = tote
        refused = self._record("pick.confirmed", data)
        if refused:
            return refused
        self._item = None
        after = self.current_line()
        if after is None:
            nxt = "all picked: scan the tote" if self.orders_without_tote() else "task done"
        elif after.index == line.index:
            nxt = f"{after.left} more"
        else:
            nxt = f"next {after.location}"
        return Feedback.good(f"Picked {qty} x {line.sku}: {nxt}", "picked")

    def _tote(self, tote: str) -> Feedback:
        unbound = self.orders_without_tote()
        line = self.current_line()
        if line is not None and line.order_id in unbound:
            order_id = line.order_id
        elif line is None and unbound:
            order_id = unbound[0]
        else:
            held = self._tote_of(line.order_id) if line else None
            return Feedback.refuse(
                "tote_already", f"This order already has tote {held or '(bound)'}"
            )
        holder = self.store.order_in_tote(tote)  # also a tote set aside at packing
        if holder is not None and holder.get("id") != order_id and holder.get("status") in _IN_TOTE:
            return Feedback.refuse("tote_in_use", f"{tote} already holds order {holder['id']}")
        data: dict[str, Any] = {"tote": tote, "order_id": order_id, "task_id": self.task_id}
        elsewhere = self.elsewhere(order_id)
        if elsewhere:
            data["elsewhere"] = elsewhere
        refused = self._record("tote.assigned", data)
        if refused:
            return refused
        if self.step() is Step.DONE and self.handing_over:
            return Feedback.good(
                f"Drop {tote} on the conveyor: the rest of the task is left to the next picker",
                "handed_over",
            )
        if self.step() is Step.DONE:
            return Feedback.good(f"Task done: drop {tote} on the conveyor", "task_done")
        return Feedback.good(f"{tote} is for order {order_id}", "tote_bound")

    def elsewhere(self, order_id: str) -> list[dict[str, Any]]:
        """Units of the order on this task that other handhelds' claims say their pickers
        picked or reported short (a task taken over), per device and bin. The tote's op
        carries them: central makes no top-up for them while their ops are on the way."""
        if self.claimants is None:
            return []
        return [
            {"device": claim.device, "sku": sku, "location": location, "qty": qty}
            for claim in self.claimants(self.task_id)
            if claim.device != self.store.device_id
            for (order, sku, location), qty in claim.progress
            if order == order_id and qty > 0
        ]

    # --- plumbing ------------------------------------------------------------------

    def _record(self, kind: str, data: dict[str, Any]) -> Feedback | None:
        try:
            self.store.record(kind, data, self.clock())
        except SyncError as exc:  # a bad op is refused and nothing changes
            return Feedback.refuse("not_recorded", f"Not saved: {exc}")
        self.progress.note(kind, data)
        if kind == "tote.assigned" and self.on_tote is not None:
            try:
                self.on_tote(str(data["order_id"]), str(data["tote"]))
            except Exception:  # the bus is a courtesy: the op is recorded either way
                log.exception("announcing tote %s failed", data["tote"])
        return None

    def _done(self, feedback: Feedback) -> Feedback:
        self._last = feedback
        return feedback

    def tell(self, feedback: Feedback) -> Feedback:
        """Show ``feedback`` on the pick screen (the session's word on the task)."""
        return self._done(feedback)

    def view(self) -> PickView:
        """The pick screen's view-model for the current step."""
        step = self.step()
        line = self.current_line()
        lines = self.progress.lines(self.task)
        deadline = countdown(parse_when(self.task.get("deadline")), self.clock())
        base = PickView(
            task_id=self.task_id,
            level=str(self.task.get("level") or "P4"),
            step=step,
            prompt="Task done",
            countdown=deadline,
            line_count=len(lines),
            line_no=len(lines),
            message=self._last.message,
            ok=self._last.ok,
            alternatives=self._alternatives,
            reasons=task_reasons(self.store, self.task),
        )
        if line is None:
            unbound = self.orders_without_tote()
            if unbound:
                prompt = f"Scan a tote for order {unbound[0]}"
                return replace(base, prompt=prompt, order_id=unbound[0])
            return base
        sku = self.store.sku(line.sku) or {}
        prompts = {
            Step.LOCATION: f"Go to {line.location} and scan the location",
            Step.ITEM: f"Scan {line.sku}",
            Step.QTY: f"How many? {line.left} left",
        }
        item = self._item or {}
        return replace(
            base,
            prompt=prompts[step],
            order_id=line.order_id,
            location=line.location,
            sku=line.sku,
            item_name=str(sku.get("name") or ""),
            gtin=str(sku.get("gtin") or ""),
            line_qty=line.qty,
            left=line.left,
            line_no=line.index + 1,
            tote=self._tote_of(line.order_id) or "",
            lot=str(item.get("lot") or ""),
            expiry=str(item.get("expiry") or ""),
        )
