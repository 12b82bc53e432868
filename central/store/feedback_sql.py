"""Customer-feedback tables (notification outbox, deliveries, SLA risk verdicts,
customer inquiries) and their portable SQL over a ``SqlTx``.

Kept apart from ``sqltx.py`` so the feedback feature stays one additive migration and
one module; the statements use the same ``?`` placeholders and dialect column types.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FEEDBACK_SCHEMA = [
    # One row per (customer, order, event): the UNIQUE key is what makes "never notified
    # twice for the same event" hold across restarts and concurrent evaluators.
    """CREATE TABLE notifications (
        id TEXT PRIMARY KEY,
        customer TEXT NOT NULL,
        order_id TEXT NOT NULL,
        event TEXT NOT NULL,
        payload {json} NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (customer, order_id, event))""",
    "CREATE INDEX notifications_order ON notifications (order_id, created_at)",
    """CREATE TABLE deliveries (
        notification_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at TEXT NOT NULL,
        last_error TEXT,
        sent_at TEXT,
        PRIMARY KEY (notification_id, channel, target))""",
    "CREATE INDEX deliveries_due ON deliveries (status, next_at)",
    """CREATE TABLE order_risk (
        order_id TEXT PRIMARY KEY,
        at_risk INTEGER NOT NULL,
        doc {json} NOT NULL,
        evaluated_at TEXT NOT NULL)""",
    """CREATE TABLE inquiries (
        id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL,
        answer TEXT,
        answered_at TEXT)""",
    "CREATE INDEX inquiries_token ON inquiries (token_hash, created_at)",
    "CREATE INDEX inquiries_status ON inquiries (status, created_at)",
]


# Where the notification scan has read the timeline up to (a ``meta`` key).
CURSOR_KEY = "feedback.timeline_cursor"


def start_cursor(cursor: Any, dialect: Any) -> None:
    """Migration step: start the notification scan at the current end of the timeline,
    so history from before the feature notifies no one."""
    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM timeline")
    head = int(cursor.fetchone()[0])
    p = dialect.placeholder
    cursor.execute(
        f"INSERT INTO meta (key, value) VALUES ({p}, {p}) ON CONFLICT (key) DO NOTHING",
        (CURSOR_KEY, str(head)),
    )


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """One notification: what happened to which customer's order, and its message data."""

    id: str
    customer: str
    order_id: str
    event: str
    payload: dict[str, Any]
    created_at: str


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One channel/target of a notification: ``status`` is pending, sent or failed."""

    notification_id: str
    channel: str
    target: str
    status: str
    attempts: int
    next_at: str
    last_error: str | None
    sent_at: str | None


@dataclass(frozen=True, slots=True)
class InquiryRow:
    """A customer's question about an order and, once given, the answer."""

    id: str
    order_id: str
    token_hash: str
    message: str
    created_at: str
    status: str  # open | answered
    answer: str | None
    answered_at: str | None


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def _loads(text: Any) -> Any:
    if isinstance(text, dict | list):  # a backend with a native JSON type
        return text
    return json.loads(text)


_NOTIFICATION = "n.id, n.customer, n.order_id, n.event, n.payload, n.created_at"
_DELIVERY = (
    "d.notification_id, d.channel, d.target, d.status, d.attempts, d.next_at, "
    "d.last_error, d.sent_at"
)
_INQUIRY = "id, order_id, token_hash, message, created_at, status, answer, answered_at"


def _notification(r: Sequence[Any]) -> NotificationRow:
    return NotificationRow(r[0], r[1], r[2], r[3], _loads(r[4]), r[5])


def _delivery(r: Sequence[Any]) -> DeliveryRow:
    return DeliveryRow(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7])


def _inquiry(r: Sequence[Any]) -> InquiryRow:
    return InquiryRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])


class FeedbackSql:
    """Feedback reads and writes inside one transaction (a ``SqlTx``)."""

    def __init__(self, tx: Any) -> None:
        # SqlTx's plumbing rewrites placeholders per dialect; reusing it keeps this
        # module backend-neutral without widening the shared Tx interface.
        self._tx = tx

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._tx._all(sql, params)  # type: ignore[no-any-return]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._tx._one(sql, params)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._tx._run(sql, params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._tx._many(sql, rows)

    # --- timeline tail ------------------------------------------------------------------

    def timeline_after(self, after_id: int, limit: int) -> list[tuple[int, str, str, str]]:
        """Timeline rows ``(id, order_id, event, at)`` after ``after_id``, oldest first."""
        rows = self._all(
            "SELECT id, order_id, event, at FROM timeline WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    # --- notification outbox ------------------------------------------------------------

    def add_notification(
        self, row: NotificationRow, deliveries: Sequence[tuple[str, str]], next_at: str
    ) -> bool:
        """Record a notification and its pending ``(channel, target)`` deliveries; False
        (and nothing written) when this customer was already notified of this event."""
        self._run(
            "INSERT INTO notifications (id, customer, order_id, event, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer, order_id, event) DO NOTHING",
            (row.id, row.customer, row.order_id, row.event, _dumps(row.payload), row.created_at),
        )
        stored = self._one(
            "SELECT id FROM notifications WHERE customer = ? AND order_id = ? AND event = ?",
            (row.customer, row.order_id, row.event),
        )
        if stored is None or stored[0] != row.id:
            return False
        self._many(
            "INSERT INTO deliveries (notification_id, channel, target, status, attempts, next_at) "
            "VALUES (?, ?, ?, 'pending', 0, ?) ON CONFLICT DO NOTHING",
            [(row.id, channel, target, next_at) for channel, target in deliveries],
        )
        return True

    def due_deliveries(self, now: str, limit: int) -> list[tuple[DeliveryRow, NotificationRow]]:
        """Pending deliveries whose next attempt is due, oldest first, with their
        notification."""
        rows = self._all(
            f"SELECT {_DELIVERY}, {_NOTIFICATION} FROM deliveries d "
            "JOIN notifications n ON n.id = d.notification_id "
            "WHERE d.status = 'pending' AND d.next_at <= ? "
            "ORDER BY d.next_at, n.created_at, d.notification_id LIMIT ?",
            (now, limit),
        )
        return [(_delivery(r[:8]), _notification(r[8:])) for r in rows]

    def claim_delivery(self, delivery: DeliveryRow, lease: str) -> bool:
        """Take a due delivery for one attempt by moving its ``next_at`` to ``lease`` (a
        later time with the claimant's mark); False when another worker took it first."""
        key = (delivery.notification_id, delivery.channel, delivery.target)
        self._run(
            "UPDATE deliveries SET next_at = ? WHERE notification_id = ? AND channel = ? "
            "AND target = ? AND status = 'pending' AND next_at = ? AND attempts = ?",
            (lease, *key, delivery.next_at, delivery.attempts),
        )
        row = self._one(
            "SELECT next_at FROM deliveries WHERE notification_id = ? AND channel = ? "
            "AND target = ?",
            key,
        )
        return row is not None and row[0] == lease

    def next_delivery_at(self) -> str | None:
        """When the earliest pending delivery is due (None when none is pending)."""
        row = self._one("SELECT MIN(next_at) FROM deliveries WHERE status = 'pending'")
        return None if row is None or row[0] is None else str(row[0])

    def settle_delivery(self, delivery: DeliveryRow) -> None:
        """Record an attempt's outcome (status, attempts, next time, error, sent time)."""
        self._run(
            "UPDATE deliveries SET status = ?, attempts = ?, next_at = ?, last_error = ?, "
            "sent_at = ? WHERE notification_id = ? AND channel = ? AND target = ?",
            (
                delivery.status,
                delivery.attempts,
                delivery.next_at,
                delivery.last_error,
                delivery.sent_at,
                delivery.notification_id,
                delivery.channel,
                delivery.target,
            ),
        )

    def notifications(
        self, order_id: str | None = None, limit: int = 200
    ) -> list[tuple[NotificationRow, list[DeliveryRow]]]:
        """Recent notifications (one order's, or all), newest first, with deliveries."""
        where, params = ("WHERE n.order_id = ? ", [order_id]) if order_id else ("", [])
        rows = self._all(
            f"SELECT {_NOTIFICATION} FROM notifications n {where}"
            "ORDER BY n.created_at DESC, n.id DESC LIMIT ?",
            (*params, limit),
        )
        result = []
        for r in rows:
            note = _notification(r)
            deliveries = self._all(
                f"SELECT {_DELIVERY} FROM deliveries d WHERE d.notification_id = ? "
                "ORDER BY d.channel, d.target",
                (note.id,),
            )
            result.append((note, [_delivery(d) for d in deliveries]))
        return result

    def failed_deliveries(self, limit: int = 100) -> list[tuple[DeliveryRow, NotificationRow]]:
        """Deliveries that gave up (for alerts)."""
        rows = self._all(
            f"SELECT {_DELIVERY}, {_NOTIFICATION} FROM deliveries d "
            "JOIN notifications n ON n.id = d.notification_id "
            "WHERE d.status = 'failed' ORDER BY d.next_at DESC LIMIT ?",
            (limit,),
        )
        return [(_delivery(r[:8]), _notification(r[8:])) for r in rows]

    # --- SLA risk verdicts --------------------------------------------------------------

    def put_risk(self, order_id: str, at_risk: bool, doc: dict[str, Any], at: str) -> None:
        """Store the latest risk verdict of an order."""
        self._run(
            "INSERT INTO order_risk (order_id, at_risk, doc, evaluated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (order_id) DO UPDATE SET at_risk = excluded.at_risk, "
            "doc = excluded.doc, evaluated_at = excluded.evaluated_at",
            (order_id, int(at_risk), _dumps(doc), at),
        )

    def drop_risks(self, order_ids: Sequence[str]) -> None:
        """Forget the verdicts of orders that are closed."""
        self._many("DELETE FROM order_risk WHERE order_id = ?", [(o,) for o in order_ids])

    def risks(self, at_risk_only: bool = True) -> dict[str, dict[str, Any]]:
        """Latest verdicts by order id (only the at-risk ones unless asked)."""
        where = " WHERE at_risk = 1" if at_risk_only else ""
        rows = self._all(f"SELECT order_id, doc FROM order_risk{where} ORDER BY order_id")
        return {str(r[0]): _loads(r[1]) for r in rows}

    def risk_of(self, order_id: str) -> dict[str, Any] | None:
        """The latest verdict of one order."""
        row = self._one("SELECT doc FROM order_risk WHERE order_id = ?", (order_id,))
        return None if row is None else dict(_loads(row[0]))

    # --- customer inquiries -------------------------------------------------------------

    def add_inquiry(self, row: InquiryRow) -> None:
        """Queue a customer's question."""
        self._run(
            f"INSERT INTO inquiries ({_INQUIRY}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.order_id,
                row.token_hash,
                row.message,
                row.created_at,
                row.status,
                row.answer,
                row.answered_at,
            ),
        )

    def inquiries_since(self, token_hash: str, since: str) -> int:
        """How many questions came in for one tracking token since ``since``."""
        row = self._one(
            "SELECT COUNT(*) FROM inquiries WHERE token_hash = ? AND created_at >= ?",
            (token_hash, since),
        )
        return int(row[0])

    def inquiries(
        self, status: str | None = None, order_id: str | None = None, limit: int = 200
    ) -> list[InquiryRow]:
        """Questions, oldest first (a queue), filtered by status and/or order."""
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if order_id is not None:
            where.append("order_id = ?")
            params.append(order_id)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self._all(
            f"SELECT {_INQUIRY} FROM inquiries{clause} ORDER BY created_at, id LIMIT ?",
            (*params, limit),
        )
        return [_inquiry(r) for r in rows]

    def get_inquiry(self, inquiry_id: str) -> InquiryRow | None:
        """One question by id."""
        row = self._one(f"SELECT {_INQUIRY} FROM inquiries WHERE id = ?", (inquiry_id,))
        return None if row is None else _inquiry(row)

    def answer_inquiry(self, inquiry_id: str, answer: str, at: str) -> None:
        """Store the answer to a question."""
        self._run(
            "UPDATE inquiries SET status = 'answered', answer = ?, answered_at = ? WHERE id = ?",
            (answer, at, inquiry_id),
        )
