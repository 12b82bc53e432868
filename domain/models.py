"""The warehouse's nouns: frozen value objects shared by every package.

Pure data, no I/O, no clock reads. Times are timezone-aware ``datetime`` values passed in
by the caller. ``to_dict``/``from_dict`` use the JSON shapes of the public contracts
(DESIGN.md §4.2) so the server, the sync store and the devices speak the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any


class DomainError(ValueError):
    """Root of the domain's errors: a rule was asked to do something it cannot."""


class Level(StrEnum):
    """Priority level, P1 most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """1 for P1 .. 4 for P4; lower is more urgent."""
        return int(self.value[1])

    @property
    def is_urgent(self) -> bool:
        """P1 and P2 are urgent: single-order hot picks, express lane."""
        return self.rank <= 2

    @property
    def label(self) -> str:
        return {1: "critical", 2: "urgent", 3: "expedited", 4: "standard"}[self.rank]


class OrderStatus(StrEnum):
    """Where an order is on its path; see ``domain.status`` for the transitions."""

    RECEIVED = "received"
    ALLOCATED = "allocated"
    PICKING = "picking"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"


class ExceptionKind(StrEnum):
    """Problems attached to an order as a set, not positions on its path."""

    SHORT_PICK = "short_pick"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    MISSED_DIVERT = "missed_divert"
    LABEL_FAILURE = "label_failure"
    OVERSOLD = "oversold"
    CANCEL_AFTER_SHIP = "cancel_after_ship"
    STOCK_SHORTAGE = "stock_shortage"
    AT_RISK = "at_risk"
    OTHER = "other"


class LocationKind(StrEnum):
    PICK = "pick"
    RESERVE = "reserve"
    DOCK = "dock"
    PACK = "pack"


@dataclass(frozen=True, slots=True)
class Warehouse:
    """A site: one overseas warehouse. ``transfer_hours`` maps other warehouse ids to
    the hours a stock transfer from them takes to arrive here."""

    id: str
    name: str
    country: str
    postcode: str = ""
    timezone: str = "UTC"
    transfer_hours: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Location:
    """A bin. ``x``/``y`` are walking coordinates in metres (derived from aisle and bay
    when not given); ``level`` is the shelf height, which does not change the walk."""

    warehouse: str
    code: str
    zone: str = ""
    aisle: int = 0
    bay: int = 0
    level: int = 0
    kind: LocationKind = LocationKind.PICK
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True, slots=True)
class Sku:
    """A stock-keeping unit. ``dims_mm`` is (length, width, height)."""

    sku: str
    gtin: str
    name: str
    category: str = "general"
    flags: frozenset[str] = frozenset()
    weight_g: int = 0
    dims_mm: tuple[int, int, int] = (0, 0, 0)
    reorder_point: int = 0


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    email: str = ""
    tier: str = "standard"
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ShipTo:
    name: str
    line1: str
    city: str
    postcode: str
    country: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Order:
    """A customer order as received; status and exceptions travel with it."""

    id: str
    customer: Customer
    ship_to: ShipTo
    lines: tuple[OrderLine, ...]
    deadline: datetime
    created_at: datetime
    warehouse: str = ""
    service: str | None = None
    tags: frozenset[str] = frozenset()
    status: OrderStatus = OrderStatus.RECEIVED
    exceptions: frozenset[ExceptionKind] = frozenset()

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


@dataclass(frozen=True, slots=True)
class CarrierService:
    """A carrier's service. ``cutoff`` is the daily hand-over time at the warehouse (local
    clock of the caller); ``local_postcode_prefixes`` marks a same-day courier's zone."""

    id: str
    carrier: str
    service: str
    transit_hours: float
    cutoff: time
    cost: float
    countries: frozenset[str] = frozenset()
    max_weight_g: int = 31_500
    local_postcode_prefixes: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return bool(self.local_postcode_prefixes)


@dataclass(frozen=True, slots=True)
class Carton:
    """A box size. ``inner_mm`` is (length, width, height)."""

    id: str
    inner_mm: tuple[int, int, int]
    max_weight_g: int
    tare_g: int = 0
    cost: float = 0.0

    @property
    def volume_mm3(self) -> int:
        a, b, c = self.inner_mm
        return a * b * c


@dataclass(frozen=True, slots=True)
class Disruption:
    """Weather, a carrier outage, a strike: raises the priority of affected orders by
    ``escalate_by`` levels while active (``starts_at <= now < ends_at``)."""

    id: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    escalate_by: int = 1
    country: str | None = None
    postcode_prefix: str | None = None
    carrier: str | None = None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class Priority:
    """The outcome of the priority engine: level, a score (higher is more urgent) and the
    reasons a person can read."""

    level: Level
    score: float
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level.value,
            "score": round(self.score, 2),
            "reasons": list(self.reasons),
        }


# --- JSON shapes (DESIGN.md §4.2) -------------------------------------------------------


def parse_time(value: str | datetime) -> datetime:
    """ISO 8601 with a zone -> aware datetime; a naive value is a caller error."""
    result = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if result.tzinfo is None:
        raise DomainError(f"time {value!s} has no time zone")
    return result


def order_from_dict(body: Mapping[str, Any], created_at: datetime) -> Order:
    """Build an ``Order`` from the intake body of ``POST /v1/orders``."""
    customer = body["customer"]
    ship_to = body["ship_to"]
    return Order(
        id=str(body["id"]),
        warehouse=str(body.get("warehouse") or ""),
        customer=Customer(
            id=str(customer["id"]),
            name=str(customer.get("name", "")),
            email=str(customer.get("email", "")),
            tier=str(customer.get("tier") or "standard"),
            flags=frozenset(customer.get("flags") or ()),
        ),
        ship_to=ShipTo(
            name=str(ship_to["name"]),
            line1=str(ship_to["line1"]),
            city=str(ship_to["city"]),
            postcode=str(ship_to["postcode"]),
            country=str(ship_to["country"]),
        ),
        lines=tuple(OrderLine(str(line["sku"]), int(line["qty"])) for line in body["lines"]),
        deadline=parse_time(body["deadline"]),
        created_at=created_at,
        service=body.get("service"),
        tags=frozenset(body.get("tags") or ()),
        status=OrderStatus(body.get("status", OrderStatus.RECEIVED.value)),
        exceptions=frozenset(ExceptionKind(e) for e in body.get("exceptions") or ()),
    )


def order_to_dict(order: Order) -> dict[str, Any]:
    """The order's contract shape (without server-side fields such as priority)."""
    return {
        "id": order.id,
        "warehouse": order.warehouse,
        "customer": {
            "id": order.customer.id,
            "name": order.customer.name,
            "email": order.customer.email,
            "tier": order.customer.tier,
            "flags": sorted(order.customer.flags),
        },
        "ship_to": {
            "name": order.ship_to.name,
            "line1": order.ship_to.line1,
            "city": order.ship_to.city,
            "postcode": order.ship_to.postcode,
            "country": order.ship_to.country,
        },
        "lines": [{"sku": line.sku, "qty": line.qty} for line in order.lines],
        "deadline": order.deadline.isoformat(),
        "created_at": order.created_at.isoformat(),
        "service": order.service,
        "tags": sorted(order.tags),
        "status": order.status.value,
        "exceptions": sorted(e.value for e in order.exceptions),
    }


def location_walk_xy(
    aisle: int, bay: int, aisle_pitch_m: float = 3.0, bay_width_m: float = 1.2
) -> tuple[float, float]:
    """Default walking coordinates: aisles run along y, spaced ``aisle_pitch_m`` apart."""
    return aisle * aisle_pitch_m, bay * bay_width_m


def sku_index(skus: Sequence[Sku]) -> dict[str, Sku]:
    return {s.sku: s for s in skus}
