"""Customer questions from the tracking page: asked with the tracking token (length-
and rate-limited per token), queued for staff with the order's context, answered by
e-mail and on the tracking page."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from central.feedback import FeedbackError, stamp
from central.feedback.notify.outbox import enqueue, feedback_tx
from central.feedback.settings import NotificationSettings
from central.store.base import Store
from central.store.feedback_sql import InquiryRow
from sync.ids import new_op_id

MAX_ANSWER_CHARS = 5000


class InquiryError(FeedbackError):
    """Root of inquiry errors; ``status`` is the HTTP status it maps to."""

    status = 400


class UnknownToken(InquiryError):
    """No order has this tracking token (or no inquiry this id)."""

    status = 404


class BadMessage(InquiryError):
    """Empty, too long, or not text."""

    status = 422


class RateLimited(InquiryError):
    """Too many questions for this token; ``retry_after`` seconds until the next slot."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AlreadyAnswered(InquiryError):
    """The question has an answer already."""

    status = 409


def token_hash(token: str) -> str:
    """How a tracking token is kept next to its questions."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def clean_text(text: Any, limit: int, what: str) -> str:
    """Trimmed text without control characters (newlines kept), or BadMessage."""
    if not isinstance(text, str):
        raise BadMessage(f"{what} must be text")
    kept = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable()).strip()
    if not kept:
        raise BadMessage(f"{what} is empty")
    if len(kept) > limit:
        raise BadMessage(f"{what} is {len(kept)} characters; at most {limit} allowed")
    return kept


def ask(
    store: Store, token: str, message: Any, now: datetime, settings: NotificationSettings
) -> InquiryRow:
    """Queue a question about the order behind ``token``."""
    text = clean_text(message, settings.inquiry_max_chars, "message")
    hashed = token_hash(token)
    with store.transaction() as tx:
        doc = tx.order_by_token(token)
        if doc is None:
            raise UnknownToken("unknown tracking token")
        ftx = feedback_tx(tx)
        window_start = now - timedelta(hours=1)
        if ftx.inquiries_since(hashed, stamp(window_start)) >= settings.inquiry_per_hour:
            oldest = [
                q.created_at
                for q in ftx.inquiries(order_id=doc["id"], limit=1000)
                if q.created_at >= stamp(window_start) and q.token_hash == hashed
            ]
            wait = 3600
            if oldest:
                first = datetime.fromisoformat(min(oldest).replace("Z", "+00:00"))
                wait = max(1, math.ceil((first + timedelta(hours=1) - now).total_seconds()))
            raise RateLimited(
                f"at most {settings.inquiry_per_hour} questions per hour; try again in "
                f"{math.ceil(wait / 60)} minutes",
                wait,
            )
        row = InquiryRow(new_op_id(), doc["id"], hashed, text, stamp(now), "open", None, None)
        ftx.add_inquiry(row)
        tx.add_timeline(
            [(doc["id"], now.astimezone(UTC).isoformat(), "inquiry", f"customer question {row.id}")]
        )
    return row


def inquiry_doc(
    row: InquiryRow, order: dict[str, Any] | None, timeline: list[Any]
) -> dict[str, Any]:
    """An inquiry with the order's context for staff."""
    context = None
    if order is not None:
        context = {
            "status": order["status"],
            "priority": order["priority"],
            "deadline": order["deadline"],
            "warehouse": order["warehouse"],
            "exceptions": order.get("exceptions", []),
            "customer": {k: v for k, v in order["customer"].items() if k != "email"},
            "carrier_service": order.get("carrier_service"),
            "tracking": order.get("tracking"),
            "timeline": timeline,
        }
    return {
        "id": row.id,
        "order_id": row.order_id,
        "message": row.message,
        "created_at": row.created_at,
        "status": row.status,
        "answer": row.answer,
        "answered_at": row.answered_at,
        "order": context,
    }


def queue(store: Store, status: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
    """Questions (oldest first) with their orders' context."""
    with store.reader() as tx:
        rows = feedback_tx(tx).inquiries(status=status, limit=limit)
        orders = tx.get_orders({r.order_id for r in rows})
        timelines = {order_id: tx.timeline(order_id) for order_id in orders}
    return [inquiry_doc(r, orders.get(r.order_id), timelines.get(r.order_id, [])) for r in rows]


@dataclass(frozen=True, slots=True)
class Answered:
    """An answered inquiry and the notification that carries the answer (None when the
    customer had been sent it already)."""

    inquiry: dict[str, Any]
    notification_id: str | None


def answer(
    store: Store, inquiry_id: str, text: Any, now: datetime, settings: NotificationSettings
) -> Answered:
    """Answer a question: stored for the tracking page and sent as a notification."""
    reply = clean_text(text, MAX_ANSWER_CHARS, "text")
    with store.transaction() as tx:
        ftx = feedback_tx(tx)
        row = ftx.get_inquiry(inquiry_id)
        if row is None:
            raise UnknownToken(f"unknown inquiry {inquiry_id!r}")
        if row.status == "answered":
            raise AlreadyAnswered(f"inquiry {inquiry_id} was answered at {row.answered_at}")
        order = tx.get_order(row.order_id)
        if order is None:
            raise UnknownToken(f"order {row.order_id} of inquiry {inquiry_id} is gone")
        ftx.answer_inquiry(inquiry_id, reply, stamp(now))
        tx.add_timeline(
            [(row.order_id, now.astimezone(UTC).isoformat(), "inquiry_answered", inquiry_id)]
        )
        note = enqueue(
            tx,
            order.doc,
            f"inquiry.{inquiry_id}",
            settings,
            now,
            {"question": row.message, "answer": reply},
        )
        updated = ftx.get_inquiry(inquiry_id)
        timeline = tx.timeline(row.order_id)
    if updated is None:  # answered in this very transaction; cannot vanish
        raise UnknownToken(f"unknown inquiry {inquiry_id!r}")
    return Answered(inquiry_doc(updated, order.doc, timeline), note)


def for_token(store: Store, token: str) -> list[InquiryRow]:
    """The questions asked with one tracking token (for its page)."""
    with store.reader() as tx:
        doc = tx.order_by_token(token)
        if doc is None:
            return []
        rows = feedback_tx(tx).inquiries(order_id=doc["id"], limit=50)
    hashed = token_hash(token)
    return [r for r in rows if r.token_hash == hashed]
