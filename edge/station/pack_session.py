"""The pack station's session: one order at a time, every unit verified by scan.

States: ``idle`` (nothing open) -> ``order`` (an order is open, nothing scanned this time)
-> ``verifying`` (scans are coming in) -> ``complete`` (every unit verified; the agent
plans the parcel, prints and calls :meth:`PackSession.packed`). Scanning another tote or
order at any point opens that one instead; verified counts live in the order's lines
(``packed``), so an order left half-done resumes where it stopped.

An order can reach packing before all its units: a short pick sent the rest to another
bin after the tote had left, and central made a top-up pick task for them. The session
says how many units are still to be picked, tells the packer to set the tote aside once
what is here is scanned, and, when the top-up tote comes, to bring the first one back.

The session is pure: it reads the rows the agent passes in and returns :class:`Step`
objects (a display message plus the ops to record). It never touches a store or a device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.models import ExceptionKind, OrderStatus
from domain.totes import totes_of
from edge.station.feedback import Feedback, FeedbackLevel, OpRequest, Remaining, Step

Row = Mapping[str, Any]

_DONE = frozenset({OrderStatus.PACKED, OrderStatus.SHIPPED, OrderStatus.DELIVERED})
_STOPPED = frozenset({OrderStatus.CANCELLED, OrderStatus.ON_HOLD})


class PackState(StrEnum):
    """Where the session is."""

    IDLE = "idle"
    ORDER = "order"
    VERIFYING = "verifying"
    COMPLETE = "complete"


@dataclass
class _Item:
    sku: str
    name: str
    gtin: str
    qty: int
    verified: int

    @property
    def left(self) -> int:
        return max(0, self.qty - self.verified)


def _status(order: Row) -> OrderStatus:
    try:
        return OrderStatus(str(order.get("status") or OrderStatus.RECEIVED.value))
    except ValueError:
        return OrderStatus.RECEIVED


def to_be_picked(order: Row) -> dict[str, int]:
    """Units not picked yet per SKU (of the lines that say what was picked)."""
    waiting: dict[str, int] = {}
    for line in order.get("lines") or []:
        if line.get("picked") is not None:
            sku = str(line.get("sku"))
            left = max(0, int(line.get("qty") or 0) - int(line["picked"]))
            waiting[sku] = waiting.get(sku, 0) + left
    return waiting


def _where_verified(order: Row, ref: str) -> str:
    """Where the units verified at an earlier scan of the order are: in the scanned tote
    (the one set aside), or in the totes set aside, named, that the packer brings over."""
    totes = totes_of(order)
    current = order.get("tote")
    if ref in totes and ref != current:
        return ", in this tote (set aside for this order)"
    aside = [t for t in totes if t not in (ref, current)]
    if not aside:
        return ": bring the tote set aside for this order"
    return f": bring tote {', '.join(aside)} set aside for this order"


def _items(order: Row, skus: Mapping[str, Row]) -> list[_Item]:
    """One entry per SKU (lines of the same SKU are verified together)."""
    items: dict[str, _Item] = {}
    for line in order.get("lines") or []:
        sku = str(line.get("sku"))
        qty = int(line.get("qty") or 0)
        packed = int(line.get("packed") or 0)
        master = skus.get(sku) or {}
        item = items.get(sku)
        if item is None:
            items[sku] = _Item(
                sku, str(master.get("name") or sku), str(master.get("gtin") or ""), qty, packed
            )
        else:
            item.qty += qty
            item.verified += packed
    return [item for item in items.values() if item.qty > 0]


class PackSession:
    """The state machine of one pack station (not thread-safe: one scanner feeds it)."""

    def __init__(self, station: str = "") -> None:
        self.station = station
        self.state = PackState.IDLE
        self.order: dict[str, Any] | None = None
        self._items: list[_Item] = []
        self.tracking: str | None = None

    # --- reading ---------------------------------------------------------------------

    @property
    def order_id(self) -> str | None:
        """The open order's id, or None when idle."""
        return None if self.order is None else str(self.order["id"])

    def remaining(self) -> tuple[Remaining, ...]:
        """Lines still to scan, in order-line order."""
        return tuple(Remaining(i.sku, i.name, i.qty, i.left) for i in self._items if i.left)

    def verified(self) -> dict[str, int]:
        """Units verified so far per SKU."""
        return {i.sku: i.verified for i in self._items}

    def _coming(self) -> int:
        """Units still to scan that are not picked yet (they come in a top-up tote)."""
        waiting = to_be_picked(self.order or {})
        return sum(min(i.left, waiting.get(i.sku, 0)) for i in self._items)

    def _feedback(self, level: FeedbackLevel, text: str) -> Feedback:
        return Feedback(level, text, self.order_id, self.remaining())

    def _error(self, text: str, *ops: OpRequest) -> Step:
        return Step(self._feedback(FeedbackLevel.ERROR, text), ops)

    def _exception(self, kind: ExceptionKind, detail: str) -> OpRequest:
        return OpRequest(
            "exception.raised",
            {"order_id": self.order_id, "kind": kind.value, "detail": detail},
        )

    # --- inputs ----------------------------------------------------------------------

    def open(self, order: Row | None, ref: str, skus: Mapping[str, Row]) -> Step:
        """A tote or order was scanned (``ref`` as scanned); ``order`` is the cached row or
        None; ``skus`` the master data of its SKUs by id."""
        previous = self.order_id
        left = sum(i.left for i in self._items) if self.state is not PackState.COMPLETE else 0
        self._clear()
        if order is None:
            return Step(Feedback(FeedbackLevel.ERROR, f"{ref}: no such order at this station"))
        self.order = dict(order)
        status = _status(order)
        order_id = str(order["id"])
        if status in _STOPPED:
            what = "cancelled" if status is OrderStatus.CANCELLED else "on hold"
            detail = f"pack stopped at {self.station or 'pack station'}: order is {what}"
            step = self._error(
                f"STOP: order {order_id} is {what}. Do not pack; put the tote aside.",
                self._exception(ExceptionKind.OTHER, detail),
            )
            self._clear()
            return Step(Feedback(step.feedback.level, step.feedback.text, order_id), step.ops)
        if status in _DONE:
            tracking = order.get("tracking") or "no tracking"
            self._clear()
            return Step(
                Feedback(
                    FeedbackLevel.INFO,
                    f"order {order_id} is already {status.value} ({tracking})",
                    order_id,
                )
            )
        self._items = _items(order, skus)
        if not self._items:
            self._clear()
            return Step(Feedback(FeedbackLevel.ERROR, f"order {order_id} has no lines", order_id))
        switched = ""
        if previous and previous != order_id and left:
            switched = f" (order {previous} left with {left} units unscanned)"
        if not self.remaining():
            self.state = PackState.COMPLETE
            return Step(self._feedback(FeedbackLevel.OK, f"order {order_id}: all items verified"))
        self.state = PackState.ORDER
        coming = self._coming()
        units = sum(i.left for i in self._items) - coming
        before = sum(i.verified for i in self._items)
        text = f"order {order_id}: scan {units} item{'' if units == 1 else 's'}{switched}"
        if before:
            text += f"; {before} verified earlier{_where_verified(order, ref)}"
        elif len(totes := totes_of(order)) > 1:
            # Picked into more than one tote (a task taken over from another handheld).
            if ref in totes:
                text += f"; also in tote {', '.join(t for t in totes if t != ref)}"
            else:
                text += f"; in totes {', '.join(totes)}"
        if coming:
            text += f"; {coming} more still to be picked: set this tote aside when done"
        return Step(self._feedback(FeedbackLevel.INFO, text))

    def scan_item(self, sku: Row | None, raw: str) -> Step:
        """A product was scanned: ``sku`` is its master row found by GTIN (None when no
        SKU has that GTIN); ``raw`` is what was scanned, for the message."""
        if self.state is PackState.IDLE or self.order is None:
            return Step(Feedback(FeedbackLevel.ERROR, "scan a tote or an order first"))
        order_id = self.order_id
        if self.state is PackState.COMPLETE:
            return self._error(f"order {order_id} is complete; scan the next tote")
        if sku is None:
            detail = f"unknown item {raw} scanned while packing"
            return self._error(
                f"WRONG ITEM: {raw} is not a known item; put it aside",
                self._exception(ExceptionKind.WRONG_ITEM, detail),
            )
        sku_id = str(sku.get("sku"))
        name = str(sku.get("name") or sku_id)
        item = next((i for i in self._items if i.sku == sku_id), None)
        if item is None:
            return self._error(
                f"WRONG ITEM: {sku_id} {name} is not on order {order_id}; put it aside",
                self._exception(ExceptionKind.WRONG_ITEM, f"{sku_id} is not on the order"),
            )
        if item.left == 0:
            return self._error(
                f"TOO MANY: {sku_id} {name} already {item.verified} of {item.qty}; put it aside",
                self._exception(
                    ExceptionKind.WRONG_ITEM,
                    f"too many {sku_id}: more than {item.qty} in the tote",
                ),
            )
        item.verified += 1
        op = OpRequest("pack.verified", {"order_id": order_id, "sku": sku_id, "qty": 1})
        if not self.remaining():
            self.state = PackState.COMPLETE
            return Step(
                self._feedback(FeedbackLevel.OK, f"order {order_id}: all items verified"), (op,)
            )
        self.state = PackState.VERIFYING
        text = f"{sku_id} {name}: {item.verified} of {item.qty}"
        coming = self._coming()
        if coming and sum(i.left for i in self._items) == coming:
            text += (
                f". Every unit here is verified; {coming} still to be picked: "
                "set the tote aside for the top-up"
            )
        return Step(self._feedback(FeedbackLevel.OK, text), (op,))

    def packed(
        self, carton: str, weight_g: int, carrier_service: str, tracking: str, summary: str
    ) -> Step:
        """The parcel is planned and its documents are spooled: record ``order.packed``."""
        if self.state is not PackState.COMPLETE or self.order is None:
            return self._error("nothing to pack: the order is not completely verified")
        self.tracking = tracking
        op = OpRequest(
            "order.packed",
            {
                "order_id": self.order_id,
                "carton": carton,
                "weight_g": int(weight_g),
                "carrier_service": carrier_service,
                "tracking": tracking,
            },
        )
        return Step(self._feedback(FeedbackLevel.OK, f"PACKED {self.order_id}: {summary}"), (op,))

    def refuse(self, kind: ExceptionKind, text: str, detail: str) -> Step:
        """The parcel cannot be finished (no carton, no carrier, label failure): an error
        for the operator and an exception on the order."""
        return self._error(text, self._exception(kind, detail))

    def update_order(self, order: Row) -> Step | None:
        """The open order changed elsewhere (cancel, hold): a stop message, else None."""
        if self.order is None or str(order.get("id")) != self.order_id:
            return None
        status = _status(order)
        if status not in _STOPPED or self.state is PackState.IDLE:
            return None
        return self.open(order, str(order.get("id")), {})

    def _clear(self) -> None:
        self.state = PackState.IDLE
        self.order = None
        self._items = []
        self.tracking = None
