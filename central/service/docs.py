"""Order documents (the sync feed's ``order`` shape) and their domain views."""

from __future__ import annotations

import secrets
from typing import Any

from domain.models import ExceptionKind, Order, OrderStatus, Priority, order_from_dict, parse_time
from domain.status import OrderState, status_rank

# Floor problems the floor has dealt with once the parcel is packed (an item replaced,
# a label reprinted, a tote brought back).
_SETTLED_BY_PACKING = frozenset(
    {
        ExceptionKind.SHORT_PICK.value,
        ExceptionKind.DAMAGED.value,
        ExceptionKind.WRONG_ITEM.value,
        ExceptionKind.LABEL_FAILURE.value,
        ExceptionKind.MISSED_DIVERT.value,
    }
)


def order_of(doc: dict[str, Any]) -> Order:
    """The domain order behind a document."""
    return order_from_dict(doc, parse_time(doc["created_at"]))


def state_of(doc: dict[str, Any]) -> OrderState:
    """The order's status machine state."""
    held = doc.get("held_from")
    return OrderState(
        OrderStatus(doc["status"]),
        frozenset(ExceptionKind(e) for e in doc.get("exceptions") or ()),
        OrderStatus(held) if held else None,
        int(doc.get("hold_seq", 0)),
    )


def standing_exceptions(doc: dict[str, Any]) -> list[str]:
    """The order's exceptions still to act on. ``exceptions`` only grows (a union, so
    replicas agree); what it records may be settled since: a stock shortage once no line
    is short any more, a floor problem once the order is packed. Cancel-after-ship,
    oversold and the others stand."""
    position = doc.get("held_from") or doc["status"]
    packed = position != OrderStatus.CANCELLED.value and status_rank(
        OrderStatus(position)
    ) >= status_rank(OrderStatus.PACKED)
    short = any(line.get("short") for line in doc.get("lines") or ())
    standing = []
    for kind in doc.get("exceptions") or ():
        if kind == ExceptionKind.STOCK_SHORTAGE.value and (packed or not short):
            continue
        if kind in _SETTLED_BY_PACKING and packed:
            continue
        standing.append(kind)
    return standing


def set_state(doc: dict[str, Any], state: OrderState) -> bool:
    """Write a state into the document; True if anything changed."""
    before = (doc["status"], doc.get("exceptions"), doc.get("held_from"), doc.get("hold_seq", 0))
    doc["status"] = state.status.value
    doc["exceptions"] = sorted(e.value for e in state.exceptions)
    doc["held_from"] = state.held_from.value if state.held_from else None
    doc["hold_seq"] = state.hold_seq
    return before != (doc["status"], doc["exceptions"], doc["held_from"], doc["hold_seq"])


def new_order_doc(order: Order, priority: Priority, at: str) -> dict[str, Any]:
    """A fresh document for an order just received."""
    customer = order.customer
    return {
        "id": order.id,
        "warehouse": order.warehouse,
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "tier": customer.tier,
            "flags": sorted(customer.flags),
        },
        "ship_to": {
            "name": order.ship_to.name,
            "line1": order.ship_to.line1,
            "city": order.ship_to.city,
            "postcode": order.ship_to.postcode,
            "country": order.ship_to.country,
        },
        "lines": [
            {"sku": li.sku, "qty": li.qty, "picked": 0, "packed": 0, "short": 0}
            for li in order.lines
        ],
        "deadline": order.deadline.isoformat(),
        "created_at": order.created_at.isoformat(),
        "service": order.service,
        "tags": sorted(order.tags),
        "status": OrderStatus.RECEIVED.value,
        "exceptions": [],
        "held_from": None,
        "hold_seq": 0,
        "priority": priority.to_dict(),
        "allocations": [],
        "tote": None,
        "totes": [],
        "carrier_service": None,
        "tracking": None,
        "carton": None,
        "weight_g": None,
        "tracking_token": secrets.token_urlsafe(16),
        "updated_at": at,
    }


def feed_view(doc: dict[str, Any]) -> dict[str, Any]:
    """What devices receive: the document without the customer's e-mail address."""
    view = dict(doc)
    view["customer"] = {k: v for k, v in doc["customer"].items() if k != "email"}
    return view


def line_of(doc: dict[str, Any], sku: str) -> dict[str, Any] | None:
    """The first line of the order for ``sku``."""
    for line in doc["lines"]:  # a plain loop: called once per pick scan
        if line["sku"] == sku:
            return line  # type: ignore[no-any-return]
    return None


def all_lines_done(doc: dict[str, Any]) -> bool:
    """Every line fully picked or shorted."""
    return all(li.get("picked", 0) + li.get("short", 0) >= li["qty"] for li in doc["lines"])
