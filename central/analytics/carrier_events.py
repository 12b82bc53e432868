"""Carrier tracking events in (``POST /v1/carrier-events``): JSON or CSV, checked as a
whole before anything is written, applied in one transaction.

A delivery moves the order to ``delivered`` and counts once toward its carrier
service's on-time rate on its destination lane (and the service's ``*`` total); the
new counts go to the change feed as ``carrier_stats`` so pack stations choose carriers
by what they measurably do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from central.clock import Clock
from central.service.context import Ctx, InputError
from central.service.docs import set_state, state_of
from central.service.feed import flush
from central.settings import ServerSettings
from central.store.analytics_sql import AnalyticsSql
from central.store.base import Store
from domain.models import OrderStatus, parse_time
from domain.status import advance

EVENTS = ("picked_up", "delivered", "failed", "delayed")
MAX_EVENTS = 50_000
CSV_COLUMNS = ("tracking", "event", "at", "carrier_service")

# Timeline event written for each carrier event.
_TIMELINE = {
    "picked_up": "picked_up",
    "delivered": "delivered",
    "failed": "delivery_failed",
    "delayed": "delivery_delayed",
}
# Where an order is at least, once the carrier reports this.
_REACHED = {"picked_up": OrderStatus.SHIPPED, "delivered": OrderStatus.DELIVERED}


@dataclass(frozen=True, slots=True)
class CarrierEvent:
    """One checked event; ``loc`` names where it came from for error messages."""

    tracking: str
    event: str
    at: datetime
    carrier_service: str | None
    loc: tuple[str | int, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the event: a re-sent one is a duplicate."""
        return (self.tracking, self.event, self.at.isoformat())


def _field_loc(loc: tuple[str | int, ...], column: str) -> tuple[str | int, ...]:
    return (*loc, column)


def _check(raw: Mapping[str, Any], loc: tuple[str | int, ...], where: str) -> CarrierEvent:
    """One event from its fields; ``where`` prefixes messages (``events[3]``, ``row 2``)."""

    def bad(column: str, message: str) -> InputError:
        return InputError(_field_loc(loc, column), f"{where}, column {column!r}: {message}")

    tracking = raw.get("tracking")
    if not isinstance(tracking, str) or not tracking.strip():
        raise bad("tracking", "a tracking number is required")
    event = raw.get("event")
    if not isinstance(event, str) or event.strip() not in EVENTS:
        raise bad("event", f"must be one of {', '.join(EVENTS)}, got {event!r}")
    at_text = raw.get("at")
    try:
        if not isinstance(at_text, str):
            raise ValueError
        at = parse_time(at_text.strip())
    except ValueError:
        raise bad("at", f"must be an ISO 8601 time with a zone, got {at_text!r}") from None
    service = raw.get("carrier_service")
    if service is not None and not isinstance(service, str):
        raise bad("carrier_service", f"must be text, got {service!r}")
    service = service.strip() if service else None
    return CarrierEvent(tracking.strip(), event.strip(), at, service or None, loc)


def events_from_json(body: Any) -> list[CarrierEvent]:
    """Events from ``{"events": [...]}``; InputError names the first bad one."""
    if not isinstance(body, Mapping) or not isinstance(body.get("events"), list):
        raise InputError(("body", "events"), 'body must be {"events": [...]}')
    extra = set(body) - {"events"}
    if extra:
        raise InputError(("body", sorted(extra)[0]), "unknown field")
    items = body["events"]
    _check_count(len(items))
    events = []
    for i, item in enumerate(items):
        loc: tuple[str | int, ...] = ("body", "events", i)
        if not isinstance(item, Mapping):
            raise InputError(loc, f"events[{i}]: an object is expected")
        unknown = set(item) - set(CSV_COLUMNS)
        if unknown:
            name = sorted(unknown)[0]
            raise InputError((*loc, name), f"events[{i}], field {name!r}: unknown field")
        events.append(_check(item, loc, f"events[{i}]"))
    return events


def events_from_csv(text: str) -> list[CarrierEvent]:
    """Events from CSV with header ``tracking,event,at[,carrier_service]``; rows are
    numbered from 1 after the header and InputError names the first bad row and column."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputError(
            ("csv", "header"), "empty CSV: header tracking,event,at expected"
        ) from None
    missing = [c for c in CSV_COLUMNS[:3] if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise InputError(
            ("csv", "header"),
            f"header must be tracking,event,at[,carrier_service], got {','.join(header)!r}",
        )
    events = []
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue  # blank line
        loc: tuple[str | int, ...] = ("csv", number)
        if len(cells) != len(header):
            raise InputError(
                loc, f"row {number}: {len(cells)} columns, the header has {len(header)}"
            )
        _check_count(number)
        events.append(_check(dict(zip(header, cells, strict=True)), loc, f"row {number}"))
    return events


def _check_count(count: int) -> None:
    if count > MAX_EVENTS:
        raise TooMany(f"more than {MAX_EVENTS} carrier events in one request: split the file")


class TooMany(Exception):
    """The request holds more events than one transaction takes (413)."""


def apply_events(
    store: Store, events: Sequence[CarrierEvent], clock: Clock, settings: ServerSettings
) -> dict[str, Any]:
    """Apply checked events in one transaction (nothing when any names an unknown
    tracking number); a re-sent event is counted as a duplicate and changes nothing."""
    with store.transaction() as tx:
        ctx = Ctx(tx, clock.now(), settings)
        sql = AnalyticsSql(tx)
        orders = sql.orders_by_tracking(e.tracking for e in events)
        for e in events:
            shipped = orders.get(e.tracking)
            if shipped is None:
                raise InputError(
                    (*e.loc, "tracking"), _where(e, "tracking", "unknown tracking number")
                )
            if not (e.carrier_service or shipped.doc.get("carrier_service")):
                raise InputError(
                    (*e.loc, "carrier_service"),
                    _where(
                        e,
                        "carrier_service",
                        f"order {shipped.order_id} has no carrier service: give one",
                    ),
                )
        known = sql.known_carrier_events(e.key for e in events)
        fresh: dict[tuple[str, str, str], CarrierEvent] = {}
        for e in events:
            if e.key not in known:
                fresh.setdefault(e.key, e)
        measured = sql.delivered_order_ids(orders[e.tracking].order_id for e in fresh.values())
        stored, deliveries = [], []
        deltas: dict[tuple[str, str], tuple[int, int]] = {}
        for e in sorted(fresh.values(), key=lambda e: (e.at, e.tracking)):
            shipped = orders[e.tracking]
            doc = ctx.changed.get(shipped.order_id, shipped.doc)
            service = e.carrier_service or str(doc.get("carrier_service"))
            at = e.at.isoformat()
            stored.append((e.tracking, shipped.order_id, service, e.event, at, ctx.at))
            ctx.timeline.append(
                (shipped.order_id, at, _TIMELINE[e.event], f"{service} {e.tracking}")
            )
            reached = _REACHED.get(e.event)
            if reached is not None and set_state(doc, advance(state_of(doc), reached)):
                ctx.change(doc)
            if e.event != "delivered" or shipped.order_id in measured:
                continue
            measured.add(shipped.order_id)
            doc["delivered_at"] = at
            ctx.change(doc)
            on_time = e.at <= parse_time(doc["deadline"])
            country = str(doc["ship_to"]["country"]).upper()
            level = str(doc["priority"]["level"])
            deliveries.append(
                (shipped.order_id, service, country, level, doc["deadline"], at, on_time)
            )
            for key in ((service, country), (service, "*")):
                hit, total = deltas.get(key, (0, 0))
                deltas[key] = (hit + int(on_time), total + 1)
        sql.add_carrier_events(stored)
        sql.add_deliveries(deliveries)
        sql.bump_carrier_stats(deltas)
        stats = sql.carrier_stats(deltas)
        for (service, country), (hit, total) in sorted(stats.items()):
            doc_stats = {"service": service, "country": country, "on_time": hit, "total": total}
            ctx.feed.append(("carrier_stats", f"{service}/{country}", None, doc_stats))
        flush(ctx)
    return {
        "received": len(events),
        "applied": len(stored),
        "duplicates": len(events) - len(stored),
        "delivered": len(deliveries),
        "carrier_stats": [
            {"service": s, "country": c, "on_time": h, "total": t}
            for (s, c), (h, t) in sorted(stats.items())
        ],
    }


def _where(e: CarrierEvent, column: str, message: str) -> str:
    where = f"events[{e.loc[2]}]" if e.loc[0] == "body" else f"row {e.loc[1]}"
    return f"{where}, column {column!r}: {message}"
