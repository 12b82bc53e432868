"""The customer's view of an order (tracking page and JSON): status steps, public
timeline, ETA, delay notice and proposed resolution, answered questions.

Only what the customer may see leaves here: destination city and country, the
recipient's first name and initial, public step labels. No street, postcode, e-mail,
surname, operators, bins, totes, costs or other orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from central.service.docs import standing_exceptions
from central.store.feedback_sql import InquiryRow
from domain.models import parse_time

STEPS: tuple[tuple[str, str], ...] = (
    ("received", "Order received"),
    ("allocated", "Preparing"),
    ("picking", "Picking"),
    ("packed", "Packed"),
    ("shipped", "Shipped"),
    ("delivered", "Delivered"),
)
# Where each status stands on the step bar.
_STEP_OF = {
    "received": 0,
    "allocated": 1,
    "picking": 2,
    "picked": 2,
    "packed": 3,
    "shipped": 4,
    "delivered": 5,
}

# Timeline events a customer sees, with their public label; floor details (bins,
# operators, totes, printers) never leave the warehouse.
PUBLIC_EVENTS = {
    "received": "Order received",
    "allocated": "Items reserved for you",
    "picked": "Being picked",
    "packed": "Packed",
    "shipped": "Handed to the carrier",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "stock_shortage": "Delayed: waiting for stock",
    "transfer_proposed": "Delayed: items on their way from another warehouse",
    "short_pick": "Delayed: an item is being replaced",
    "at_risk": "Delay risk spotted: we are acting on it",
    "picked_up": "Picked up by the carrier",
    "delivery_delayed": "The carrier reports a delay",
    "delivery_failed": "Delivery attempt failed",
}

CARRIER_NOTICES = {
    "picked_up": "The carrier has picked up your parcel.",
    "delivery_delayed": "The carrier reports a delay with your parcel.",
    "delivery_failed": "The carrier could not deliver your parcel and will try again.",
}

HEADLINES = {
    "received": "we have your order",
    "allocated": "your items are reserved",
    "picking": "your order is being picked",
    "picked": "your order is being picked",
    "packed": "packed and ready to ship",
    "shipped": "on its way",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "on_hold": "on hold",
}

# What each proposed resolution means for the customer (internal detail, such as the
# cost of an upgrade, stays out).
CUSTOMER_RESOLUTIONS = {
    "upgrade_service": "We are upgrading your delivery to a faster service.",
    "transfer": "Missing items are coming from another of our warehouses.",
    "split_shipment": "We will send what is ready now and the rest separately.",
    "expedite": "Your order has been moved to the front of the queue.",
}

EXCEPTION_NOTICES = {
    "stock_shortage": "An item is short in stock; we are bringing it in.",
    "short_pick": "An item could not be found on the shelf; we are replacing it.",
    "damaged": "An item was damaged; we are replacing it.",
    "wrong_item": "A wrong item was caught at packing; we are fixing it.",
    "label_failure": "Your shipping label is being reprinted.",
    "missed_divert": "Your parcel took a wrong turn in the warehouse; it is back on track.",
}


def first_name(name: str) -> str:
    """``Anna Kowalska`` -> ``Anna K.``; a single word stays as it is."""
    parts = name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0].upper()}."


def steps(status: str, held_from: str | None = None) -> list[dict[str, str]]:
    """The step bar: each step ``done``, ``current`` or ``todo``."""
    position = _STEP_OF.get(held_from or status, -1) if status != "cancelled" else -1
    result = []
    for index, (key, label) in enumerate(STEPS):
        state = "done" if index < position else "current" if index == position else "todo"
        if status == "delivered" and index == position:
            state = "done"
        result.append({"key": key, "label": label, "state": state})
    return result


def public_timeline(timeline: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Public events with their labels, first occurrence of each (internal details
    dropped)."""
    seen: set[str] = set()
    events = []
    for entry in timeline:
        label = PUBLIC_EVENTS.get(entry["event"])
        if label is None or entry["event"] in seen:
            continue
        seen.add(entry["event"])
        events.append({"at": entry["at"], "event": entry["event"], "label": label})
    return events


def customer_resolutions(verdict: dict[str, Any] | None) -> list[dict[str, str]]:
    """The verdict's proposed resolutions as customer texts."""
    if not verdict or not verdict.get("at_risk"):
        return []
    result = []
    for item in verdict.get("resolutions", []):
        text = CUSTOMER_RESOLUTIONS.get(item.get("kind", ""))
        if text:
            result.append({"kind": item["kind"], "text": text})
    return result


def delay_notice(doc: dict[str, Any], verdict: dict[str, Any] | None) -> str | None:
    """One sentence on why the order is late or may be, or None."""
    if doc["status"] in ("shipped", "delivered", "cancelled"):
        return None
    for kind in standing_exceptions(doc):  # a settled shortage no longer delays it
        if kind in EXCEPTION_NOTICES:
            return EXCEPTION_NOTICES[kind]
    if verdict and verdict.get("at_risk"):
        return "Your order may arrive after the promised time. We are acting on it."
    return None


def customer_view(
    doc: dict[str, Any],
    timeline: Sequence[dict[str, Any]],
    verdict: dict[str, Any] | None,
    inquiries: Sequence[InquiryRow],
    can_ask: bool = True,
) -> dict[str, Any]:
    """What the tracking page shows of an order (also the JSON of /v1/track/{token})."""
    status = doc["status"]
    eta = None
    if verdict and status not in ("shipped", "delivered", "cancelled"):
        eta = verdict.get("expected_at")
    late = bool(eta and parse_time(eta) > parse_time(doc["deadline"]))
    notice = delay_notice(doc, verdict)
    return {
        "order_id": doc["id"],
        "status": status,
        "headline": HEADLINES.get(status, status),
        "steps": steps(status, doc.get("held_from")),
        "deadline": doc["deadline"],
        "eta": eta,
        "eta_after_deadline": late,
        "delayed": notice is not None,
        "delay_notice": notice,
        "resolutions": customer_resolutions(verdict) if notice else [],
        "carrier_service": doc.get("carrier_service"),
        "tracking": doc.get("tracking"),
        "recipient": first_name(doc.get("ship_to", {}).get("name", "")),
        "destination": {"city": doc["ship_to"]["city"], "country": doc["ship_to"]["country"]},
        "item_count": sum(int(li["qty"]) for li in doc["lines"]),
        "timeline": public_timeline(timeline),
        "questions": [
            {
                "asked_at": q.created_at,
                "message": q.message,
                "answer": q.answer,
                "answered_at": q.answered_at,
            }
            for q in inquiries
        ],
        "can_ask": can_ask,
    }


def local_time(value: str | None, zone: Any) -> str:
    """An ISO time as ``Wed 25 Nov, 18:00`` in ``zone`` (for the page)."""
    if not value:
        return ""
    moment: datetime = parse_time(value)
    return moment.astimezone(zone).strftime("%a %d %b, %H:%M %Z").strip()
