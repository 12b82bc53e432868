"""Op kinds: validation and the local effect each op has on the device's view.

An op's effect is split per row: ``touches`` names the rows an op changes (resolved once,
when it is recorded, and kept in ``op_touch``) and ``apply`` changes one row. So a row's
view can always be rebuilt as its base with the unsettled ops folded on top in seq order.
Status moves go through ``domain.status`` so a view never moves an order backwards.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.models import ExceptionKind, OrderStatus
from domain.status import OrderState, add_exception, advance
from domain.totes import put_in_tote
from sync.errors import InvalidOp

Key = tuple[str, str]
Row = dict[str, Any]
Lookup = Callable[[str, str], Row | None]

# Field types: "str" (non-empty string), "int", "pos" (int > 0), "nonneg" (int >= 0),
# "lane" (str or int), "exception" (an ExceptionKind value), "units" (a list of
# {device, sku, location, qty > 0}), "any".
_F = dict[str, str]


@dataclass(frozen=True)
class OpKind:
    """One op kind: required and optional fields with their types."""

    name: str
    required: _F
    optional: _F

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A clean copy of ``data``; raises ``InvalidOp`` naming the first bad field."""
        if not isinstance(data, Mapping):
            raise InvalidOp(self.name, "data", "must be an object")
        clean: dict[str, Any] = dict(data)
        for name, ftype in self.required.items():
            if name not in data or data[name] is None:
                raise InvalidOp(self.name, name, "is required")
            clean[name] = _check(self.name, name, ftype, data[name])
        for name, ftype in self.optional.items():
            if data.get(name) is not None:
                clean[name] = _check(self.name, name, ftype, data[name])
        return clean


def _check(kind: str, name: str, ftype: str, value: Any) -> Any:
    if ftype == "str":
        if not isinstance(value, str) or not value.strip():
            raise InvalidOp(kind, name, f"must be a non-empty string, got {value!r}")
        return value
    if ftype in ("int", "pos", "nonneg"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidOp(kind, name, f"must be an integer, got {value!r}")
        if ftype == "pos" and value <= 0:
            raise InvalidOp(kind, name, f"must be > 0, got {value}")
        if ftype == "nonneg" and value < 0:
            raise InvalidOp(kind, name, f"must be >= 0, got {value}")
        return value
    if ftype == "lane":
        if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
            raise InvalidOp(kind, name, f"must be a lane number or name, got {value!r}")
        return value
    if ftype == "units":
        if not isinstance(value, list):
            raise InvalidOp(kind, name, f"must be a list, got {value!r}")
        for i, unit in enumerate(value):
            if not isinstance(unit, Mapping):
                raise InvalidOp(kind, f"{name}[{i}]", f"must be an object, got {unit!r}")
            for part in ("device", "sku", "location"):
                _check(kind, f"{name}[{i}].{part}", "str", unit.get(part))
            _check(kind, f"{name}[{i}].qty", "pos", unit.get("qty"))
        return value
    if ftype == "exception":
        try:
            return ExceptionKind(value).value
        except ValueError:
            known = ", ".join(k.value for k in ExceptionKind)
            raise InvalidOp(kind, name, f"unknown exception {value!r} (known: {known})") from None
    return value


_S = "str"
KINDS: dict[str, OpKind] = {
    k.name: k
    for k in (
        OpKind(
            "pick.confirmed",
            {"order_id": _S, "sku": _S, "location": _S, "qty": "pos", "operator": _S},
            {"lot": _S, "expiry": _S, "tote": _S},
        ),
        OpKind(
            "pick.short",
            {
                "order_id": _S,
                "sku": _S,
                "location": _S,
                "qty_short": "pos",
                "reason": _S,
                "operator": _S,
            },
            {},
        ),
        OpKind("tote.assigned", {"tote": _S, "order_id": _S}, {"elsewhere": "units"}),
        OpKind("tote.diverted", {"tote": _S, "lane": "lane", "conveyor": _S}, {"order_id": _S}),
        OpKind("pack.verified", {"order_id": _S, "sku": _S, "qty": "pos"}, {}),
        OpKind(
            "order.packed",
            {
                "order_id": _S,
                "carton": _S,
                "weight_g": "nonneg",
                "carrier_service": _S,
                "tracking": _S,
            },
            {},
        ),
        OpKind("order.shipped", {"order_id": _S, "carrier_service": _S, "tracking": _S}, {}),
        OpKind(
            "stock.adjusted",
            {"warehouse": _S, "location": _S, "sku": _S, "delta": "int", "reason": _S},
            {"lot": _S, "expiry": _S},
        ),
        OpKind(
            "stock.counted",
            {
                "warehouse": _S,
                "location": _S,
                "sku": _S,
                "counted": "nonneg",
                "seen_cursor": "nonneg",
            },
            {},
        ),
        OpKind(
            "stock.moved",
            {"warehouse": _S, "sku": _S, "from_location": _S, "to_location": _S, "qty": "pos"},
            {"lot": _S, "expiry": _S},
        ),
        OpKind("label.printed", {"order_id": _S, "printer": _S, "job_id": _S}, {}),
        OpKind("exception.raised", {"order_id": _S, "kind": "exception", "detail": "any"}, {}),
    )
}


def op_kind(kind: str) -> OpKind:
    """The ``OpKind`` named ``kind``; ``InvalidOp`` (field ``kind``) when unknown."""
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        known = ", ".join(sorted(KINDS))
        raise InvalidOp(str(kind), "kind", f"unknown op kind (known: {known})") from None


def stock_id(warehouse: str, location: str, sku: str) -> str:
    """The id of a stock row: ``<warehouse>/<location>/<sku>``."""
    return f"{warehouse}/{location}/{sku}"


def touches(kind: str, data: Mapping[str, Any], view: Lookup, site: str) -> list[Key]:
    """The rows an op changes; resolved at record time against the current view."""
    order_key = ("order", str(data["order_id"])) if data.get("order_id") else None
    if kind == "pick.confirmed":
        order = view("order", str(data["order_id"]))
        warehouse = (order or {}).get("warehouse") or site
        keys: list[Key] = [("order", str(data["order_id"]))]
        keys.append(("stock", stock_id(warehouse, data["location"], data["sku"])))
        return keys
    if kind in ("stock.adjusted", "stock.counted"):
        return [("stock", stock_id(data["warehouse"], data["location"], data["sku"]))]
    if kind == "stock.moved":
        if data["from_location"] == data["to_location"]:
            raise InvalidOp(kind, "to_location", "must differ from from_location")
        return [
            ("stock", stock_id(data["warehouse"], data["from_location"], data["sku"])),
            ("stock", stock_id(data["warehouse"], data["to_location"], data["sku"])),
        ]
    if kind in ("tote.diverted", "label.printed"):
        return []  # timeline only: nothing on the device's view changes
    return [order_key] if order_key else []


def apply(kind: str, data: Mapping[str, Any], key: Key, row: Row | None) -> Row | None:
    """The row ``key`` after the op; ``row`` is not modified. ``None`` = row absent."""
    entity, row_id = key
    if entity == "stock":
        return _apply_stock(kind, data, row_id, row)
    if entity == "order" and row is not None:
        return _apply_order(kind, data, copy.deepcopy(row))
    return row  # an order this device has not pulled yet: the server will decide


def _state(order: Row) -> OrderState:
    status = OrderStatus(order.get("status") or OrderStatus.RECEIVED.value)
    exceptions = frozenset(ExceptionKind(e) for e in order.get("exceptions") or ())
    return OrderState(status, exceptions)


def _put_state(order: Row, state: OrderState) -> None:
    order["status"] = state.status.value
    order["exceptions"] = sorted(e.value for e in state.exceptions)


def _line(order: Row, sku: str) -> Row | None:
    lines: list[Row] = order.get("lines") or []
    # Prefer a line of this SKU that still has something to do.
    candidates = [line for line in lines if line.get("sku") == sku]
    for line in candidates:
        if int(line.get("picked") or 0) + int(line.get("short") or 0) < int(line.get("qty", 0)):
            return line
    return candidates[0] if candidates else None


def _all_picked(order: Row) -> bool:
    lines = order.get("lines") or []
    return bool(lines) and all(
        int(line.get("picked") or 0) + int(line.get("short") or 0) >= int(line.get("qty", 0))
        for line in lines
    )


def _apply_order(kind: str, data: Mapping[str, Any], order: Row) -> Row:
    state = _state(order)
    if kind in ("pick.confirmed", "pick.short"):
        line = _line(order, str(data["sku"]))
        if kind == "pick.confirmed":
            if line is not None:
                line["picked"] = int(line.get("picked") or 0) + int(data["qty"])
            if data.get("tote") and not order.get("tote"):
                put_in_tote(order, data["tote"])
        else:
            if line is not None:
                line["short"] = int(line.get("short") or 0) + int(data["qty_short"])
            state = add_exception(state, ExceptionKind.SHORT_PICK)
        state = advance(state, OrderStatus.PICKED if _all_picked(order) else OrderStatus.PICKING)
    elif kind == "tote.assigned":
        put_in_tote(order, data["tote"])
    elif kind == "pack.verified":
        line = next((ln for ln in order.get("lines") or [] if ln.get("sku") == data["sku"]), None)
        if line is not None:
            line["packed"] = int(line.get("packed") or 0) + int(data["qty"])
    elif kind == "order.packed":
        state = advance(state, OrderStatus.PACKED)
        for name in ("carton", "carrier_service", "tracking", "weight_g"):
            order[name] = data[name]
    elif kind == "order.shipped":
        state = advance(state, OrderStatus.SHIPPED)
        order["carrier_service"] = data["carrier_service"]
        order["tracking"] = data["tracking"]
    elif kind == "exception.raised":
        state = add_exception(state, ExceptionKind(data["kind"]))
    _put_state(order, state)
    return order


def empty_stock(row_id: str) -> Row:
    """A zero stock row for a bin/SKU the device has not pulled (e.g. a new bin)."""
    warehouse, rest = row_id.split("/", 1)
    location, sku = rest.rsplit("/", 1)
    return {
        "warehouse": warehouse,
        "location": location,
        "sku": sku,
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
        "lots": [],
        "ledger_seq": 0,
    }


def _add_to_lot(stock: Row, data: Mapping[str, Any], qty: int) -> None:
    """Book ``qty`` on the op's ``lot`` (if it names one) in the row's per-lot list."""
    lot = data.get("lot")
    if not lot:
        return
    lots = stock.setdefault("lots", [])
    entry = next((e for e in lots if e.get("lot") == lot), None)
    if entry is None:
        lots.append({"lot": lot, "expiry": data.get("expiry"), "qty": qty})
    else:
        entry["qty"] = int(entry.get("qty") or 0) + qty


def _apply_stock(kind: str, data: Mapping[str, Any], row_id: str, row: Row | None) -> Row:
    stock = copy.deepcopy(row) if row is not None else empty_stock(row_id)
    on_hand = int(stock.get("on_hand") or 0)
    reserved = int(stock.get("reserved") or 0)
    if kind == "pick.confirmed":
        qty = int(data["qty"])
        on_hand -= qty
        reserved = max(0, reserved - qty)  # the pick consumes the order's reservation
        lot = data.get("lot")
        for entry in stock.get("lots") or []:
            if lot and entry.get("lot") == lot:
                entry["qty"] = int(entry.get("qty") or 0) - qty
                break
    elif kind == "stock.adjusted":
        on_hand += int(data["delta"])
        _add_to_lot(stock, data, int(data["delta"]))
    elif kind == "stock.counted":
        on_hand = int(data["counted"])
    elif kind == "stock.moved":
        is_target = row_id == stock_id(data["warehouse"], data["to_location"], data["sku"])
        qty = int(data["qty"]) if is_target else -int(data["qty"])
        on_hand += qty
        _add_to_lot(stock, data, qty)
    stock["on_hand"] = on_hand
    stock["reserved"] = reserved
    stock["available"] = on_hand - reserved
    return stock
