"""Checks of device op fields and small helpers of the op kinds
(``central.service.op_kinds``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from central.store.base import ReservationRow

# An event received this long after it happened says so in its timeline detail.
LATE = timedelta(seconds=60)


class Rejected(Exception):
    """The op cannot be applied; the message is the reason given back to the device."""


def text_field(data: dict[str, Any], name: str) -> str:
    """A non-empty text field, else ``Rejected`` naming it."""
    value = data.get(name)
    if type(value) is str and value:
        return value
    raise Rejected(f"{'missing' if value is None else 'invalid'} field {name!r}: text expected")


def number_field(
    data: dict[str, Any], name: str, positive: bool = True, minimum: int | None = None
) -> int:
    """An integer field (positive unless told, at least ``minimum``), else ``Rejected``."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(
            f"{'missing' if value is None else 'invalid'} field {name!r}: integer expected"
        )
    if positive and value <= 0:
        raise Rejected(f"invalid field {name!r}: must be positive, got {value}")
    if minimum is not None and value < minimum:
        raise Rejected(f"invalid field {name!r}: must be >= {minimum}, got {value}")
    return value


def elsewhere_field(data: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """``tote.assigned``'s optional ``elsewhere``: units of the order on the task that
    other handhelds picked or reported short, as (device, sku, location, qty); else
    ``Rejected`` naming the entry."""
    value = data.get("elsewhere")
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejected("invalid field 'elsewhere': a list expected")
    units = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise Rejected(f"invalid field 'elsewhere[{i}]': an object expected")
        try:
            d, sku, loc = (text_field(entry, n) for n in ("device", "sku", "location"))
            units.append((d, sku, loc, number_field(entry, "qty")))
        except Rejected as exc:
            raise Rejected(f"elsewhere[{i}]: {exc}") from None
    return units


def allocations_from(
    rows: list[ReservationRow], before: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The order's allocations after picks, keeping the expiry dates already known."""
    expiry = {(a["sku"], a["location"], a.get("lot") or ""): a.get("expiry") for a in before}
    return [
        {
            "sku": r.sku,
            "location": r.location,
            "qty": r.qty,
            "lot": r.lot or None,
            "expiry": expiry.get((r.sku, r.location, r.lot)),
        }
        for r in sorted(rows, key=lambda r: (r.sku, r.location, r.lot))
    ]
