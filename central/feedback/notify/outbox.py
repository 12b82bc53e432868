"""The durable notification outbox: events become notification rows (unique per
customer, order and event) with one pending delivery per channel and target.

Status changes and exceptions are found by tailing the order timeline (every status
change lands there) with a cursor kept in ``meta``; the outbox rows and the cursor move
in one transaction, so a crash neither loses nor repeats an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from central.feedback import FeedbackError, stamp
from central.feedback.settings import NotificationSettings
from central.feedback.tracking import (
    CARRIER_NOTICES,
    CUSTOMER_RESOLUTIONS,
    EXCEPTION_NOTICES,
    HEADLINES,
    first_name,
)
from central.store.base import Store
from central.store.feedback_sql import CURSOR_KEY, FeedbackSql, NotificationRow
from sync.ids import new_op_id

SCAN_BATCH = 500
# Deliveries are due at once: the worker's own clock decides when "now" is.
DUE_AT_ONCE = "0001-01-01T00:00:00.000000Z"


def feedback_tx(tx: object) -> FeedbackSql:
    """The feedback operations of a store transaction (a ``SqlTx`` of any backend)."""
    if not hasattr(tx, "_all"):
        raise FeedbackError(f"{type(tx).__name__} is not an SQL transaction")
    return FeedbackSql(tx)


def status_event(status: str) -> str:
    """The event name of a status change."""
    return f"status.{status}"


def exception_event(kind: str) -> str:
    """The event name of an order exception."""
    return f"exception.{kind}"


def carrier_event(timeline_event: str) -> str:
    """The event name of a carrier report (a timeline event such as delivery_delayed)."""
    return f"carrier.{timeline_event}"


def _message(event: str, doc: dict[str, Any], extra: dict[str, Any]) -> str:
    family, _, name = event.partition(".")
    if family == "status":
        return f"Your order {doc['id']}: {HEADLINES.get(name, name)}."
    if family == "exception":
        return EXCEPTION_NOTICES.get(name, "We are sorting out a problem with your order.")
    if family == "carrier":
        return CARRIER_NOTICES.get(name, "News from the carrier about your parcel.")
    if family == "at_risk":
        return "Your order may arrive after the promised time. We are acting on it."
    if family == "inquiry":
        return f"An answer to your question about order {doc['id']}."
    return str(extra.get("message", event))


def payload_for(
    doc: dict[str, Any], event: str, settings: NotificationSettings, extra: dict[str, Any]
) -> dict[str, Any]:
    """What a notification carries: public order facts only (no address, no internals)."""
    resolutions = [
        {"kind": kind, "text": CUSTOMER_RESOLUTIONS[kind]}
        for kind in extra.get("resolutions", [])
        if kind in CUSTOMER_RESOLUTIONS
    ]
    payload = {
        "order_id": doc["id"],
        "customer_id": doc["customer"]["id"],
        "recipient": first_name(doc["customer"].get("name", "")),
        "status": doc["status"],
        "headline": HEADLINES.get(doc["status"], doc["status"]),
        "deadline": doc["deadline"],
        "carrier_service": doc.get("carrier_service"),
        "tracking": doc.get("tracking"),
        "tracking_url": settings.tracking_url(doc["tracking_token"]),
        "message": _message(event, doc, extra),
        "resolutions": resolutions,
    }
    for key in ("expected_at", "question", "answer"):
        if key in extra:
            payload[key] = extra[key]
    return payload


def enqueue(
    tx: object,
    doc: dict[str, Any],
    event: str,
    settings: NotificationSettings,
    at: datetime,
    extra: dict[str, Any] | None = None,
) -> str | None:
    """Record that the order's customer is to hear of ``event``; returns the notification
    id, or None when they already were (or will be) told of it."""
    extra = extra or {}
    customer = str(doc["customer"]["id"])
    deliveries = [("webhook", hook.name) for hook in settings.webhooks if hook.wants(event)]
    email = str(doc["customer"].get("email") or "")
    if email and settings.wants_email(event):
        deliveries.append(("email", email))
    row = NotificationRow(
        id=new_op_id(),
        customer=customer,
        order_id=str(doc["id"]),
        event=event,
        payload=payload_for(doc, event, settings, extra),
        created_at=stamp(at),
    )
    inserted = feedback_tx(tx).add_notification(row, deliveries, DUE_AT_ONCE)
    return row.id if inserted else None


def events_of(doc: dict[str, Any], settings: NotificationSettings) -> list[str]:
    """The events an order's current state calls for under ``settings``."""
    events = []
    if doc["status"] in settings.status_events:
        events.append(status_event(doc["status"]))
    for kind in doc.get("exceptions") or ():
        if kind in settings.exception_events:
            events.append(exception_event(kind))
    return events


def scan_timeline(store: Store, settings: NotificationSettings, now: datetime) -> list[str]:
    """Turn timeline entries written since the last scan into notifications; returns the
    new notification ids. The cursor and the rows are written in one transaction."""
    created: list[str] = []
    with store.reader() as peek:
        cursor = int(peek.get_meta(CURSOR_KEY) or 0)
        if not feedback_tx(peek).timeline_after(cursor, 1):
            return created  # nothing new: do not take the write lock
    with store.transaction() as raw:
        tx = feedback_tx(raw)
        cursor = int(raw.get_meta(CURSOR_KEY) or 0)
        rows = tx.timeline_after(cursor, SCAN_BATCH)
        if not rows:
            return created
        order_ids = list(dict.fromkeys(order_id for _, order_id, _, _ in rows))
        reported: dict[str, list[str]] = {}
        for _, order_id, event, _ in rows:
            if event in settings.carrier_events:
                reported.setdefault(order_id, []).append(carrier_event(event))
        docs = raw.get_orders(order_ids)
        for order_id in order_ids:
            doc = docs.get(order_id)
            if doc is None:
                continue
            for event in [*events_of(doc, settings), *reported.get(order_id, [])]:
                made = enqueue(raw, doc, event, settings, now)
                if made:
                    created.append(made)
        raw.set_meta(CURSOR_KEY, str(rows[-1][0]))
    return created


def notification_docs(store: Store, order_id: str | None = None) -> list[dict[str, Any]]:
    """Notifications and their delivery states, newest first (for admins and tests)."""
    with store.reader() as raw:
        rows = feedback_tx(raw).notifications(order_id)
    return [
        {
            "id": note.id,
            "order_id": note.order_id,
            "customer": note.customer,
            "event": note.event,
            "created_at": note.created_at,
            "payload": note.payload,
            "deliveries": [
                {
                    "channel": d.channel,
                    "target": d.target,
                    "status": d.status,
                    "attempts": d.attempts,
                    "next_at": d.next_at,
                    "last_error": d.last_error,
                    "sent_at": d.sent_at,
                }
                for d in deliveries
            ],
        }
        for note, deliveries in rows
    ]


__all__ = [
    "CURSOR_KEY",
    "enqueue",
    "events_of",
    "feedback_tx",
    "notification_docs",
    "scan_timeline",
]
