"""Planning a verified order's parcel: carton, weight and carrier service (pure).

Rows come from the device store in the sync contract's shapes (``sku``, ``carrier``,
``carrier_stats``, ``disruption``, ``order``); the rules are ``domain.cartons`` and
``domain.carriers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Any

from domain.carriers import CarrierChoice, OnTimeRates, choose_service
from domain.cartons import choose_carton, parcel_weight_g
from domain.models import CarrierService, Carton, DomainError, ShipTo, Sku, parse_time

Row = Mapping[str, Any]


class PlanError(ValueError):
    """The parcel cannot be planned; the message is for the operator."""


@dataclass(frozen=True, slots=True)
class ShipmentPlan:
    """What the parcel goes in, what it weighs and who carries it."""

    carton: Carton
    weight_g: int
    choice: CarrierChoice

    @property
    def service(self) -> CarrierService:
        """The chosen carrier service."""
        return self.choice.service

    def summary(self) -> str:
        """One line for the station display."""
        risk = " AT RISK" if self.choice.at_risk else ""
        return (
            f"{self.service.carrier} {self.service.service}, carton {self.carton.id}, "
            f"{self.weight_g / 1000:.2f} kg{risk}"
        )


def sku_from_row(row: Row) -> Sku:
    """A ``Sku`` from a store row (§4.2 shape)."""
    dims = tuple(int(d) for d in (row.get("dims_mm") or (0, 0, 0)))
    if len(dims) != 3:
        raise PlanError(f"item {row.get('sku')}: dims_mm must have 3 sides")
    return Sku(
        sku=str(row["sku"]),
        gtin=str(row.get("gtin") or ""),
        name=str(row.get("name") or row["sku"]),
        category=str(row.get("category") or "general"),
        flags=frozenset(row.get("flags") or ()),
        weight_g=int(row.get("weight_g") or 0),
        dims_mm=(dims[0], dims[1], dims[2]),
        reorder_point=int(row.get("reorder_point") or 0),
    )


def carrier_from_row(row: Row) -> CarrierService:
    """A ``CarrierService`` from a store row (§4.2 carrier shape, cutoff ``HH:MM``)."""
    cutoff = row.get("cutoff") or "23:59"
    try:
        cut = cutoff if isinstance(cutoff, time) else time.fromisoformat(str(cutoff))
    except ValueError as exc:
        raise PlanError(f"carrier {row.get('id')}: cutoff {cutoff!r} is not HH:MM") from exc
    return CarrierService(
        id=str(row["id"]),
        carrier=str(row.get("carrier") or row["id"]),
        service=str(row.get("service") or ""),
        transit_hours=float(row.get("transit_hours") or 0),
        cutoff=cut,
        cost=float(row.get("cost") or 0),
        countries=frozenset(str(c).upper() for c in row.get("countries") or ()),
        max_weight_g=int(row.get("max_weight_g") or 31_500),
        local_postcode_prefixes=tuple(str(p) for p in row.get("local_postcode_prefixes") or ()),
    )


def ship_to_of(order: Row) -> ShipTo:
    """The order's address."""
    ship_to = order.get("ship_to") or {}
    return ShipTo(
        name=str(ship_to.get("name") or ""),
        line1=str(ship_to.get("line1") or ""),
        city=str(ship_to.get("city") or ""),
        postcode=str(ship_to.get("postcode") or ""),
        country=str(ship_to.get("country") or ""),
    )


def rates_from_stats(rows: Iterable[Row]) -> dict[tuple[str, str], tuple[int, int]]:
    """Measured on-time counts (``carrier_stats`` rows) as ``domain.carriers`` takes them."""
    rates: dict[tuple[str, str], tuple[int, int]] = {}
    for row in rows:
        try:
            key = (str(row["service"]), str(row["country"]).upper())
            on_time, total = int(row["on_time"]), int(row["total"])
        except (KeyError, TypeError, ValueError):
            continue  # a malformed stats row must not stop packing: it is only a hint
        if 0 <= on_time <= total:
            rates[key] = (on_time, total)
    return rates


def _region_matches(row: Row, ship_to: ShipTo) -> bool:
    region = row.get("region") or {}
    country = region.get("country") or row.get("country")
    prefix = region.get("postcode_prefix") or row.get("postcode_prefix")
    if country and str(country).upper() != ship_to.country.upper():
        return False
    return not (prefix and not ship_to.postcode.replace(" ", "").startswith(str(prefix)))


def excluded_carriers(disruptions: Iterable[Row], ship_to: ShipTo, now: datetime) -> frozenset[str]:
    """Carriers (names or service ids) with an outage active now for this address."""
    excluded: set[str] = set()
    for row in disruptions:
        carrier = row.get("carrier")
        if not carrier:
            continue
        try:
            starts, ends = parse_time(row["starts_at"]), parse_time(row["ends_at"])
        except (KeyError, TypeError, ValueError, DomainError):
            continue
        if starts <= now < ends and _region_matches(row, ship_to):
            excluded.add(str(carrier))
    return frozenset(excluded)


def order_items(order: Row, skus: Mapping[str, Sku]) -> list[tuple[Sku, int]]:
    """(SKU, units) of the order; ``PlanError`` names an item without master data."""
    items: list[tuple[Sku, int]] = []
    for line in order.get("lines") or []:
        sku = skus.get(str(line.get("sku")))
        if sku is None:
            raise PlanError(f"item {line.get('sku')} has no master data at this station")
        items.append((sku, int(line.get("qty") or 0)))
    return items


def plan_shipment(
    order: Row,
    skus: Mapping[str, Sku],
    cartons: Sequence[Carton],
    services: Sequence[CarrierService],
    now: datetime,
    rates: OnTimeRates | None = None,
    threshold: float = 0.9,
    prior: tuple[float, float] = (9.0, 1.0),
    disruptions: Iterable[Row] = (),
    tz: tzinfo | None = None,
) -> ShipmentPlan:
    """Smallest fitting carton, parcel weight, then the cheapest service that meets the
    order's deadline reliably (outage carriers excluded); ``PlanError`` says what failed."""
    items = order_items(order, skus)
    carton = choose_carton(items, cartons)
    if carton is None:
        raise PlanError(f"no carton fits order {order.get('id')}: split it or use a pallet")
    weight = parcel_weight_g(items, carton)
    ship_to = ship_to_of(order)
    try:
        deadline = parse_time(order["deadline"])
        choice = choose_service(
            ship_to,
            weight,
            deadline,
            now,
            services,
            rates=rates,
            threshold=threshold,
            prior=prior,
            excluded_carriers=excluded_carriers(disruptions, ship_to, now),
            tz=tz,
        )
    except (KeyError, ValueError) as exc:  # DomainError is a ValueError
        raise PlanError(f"order {order.get('id')}: cannot choose a carrier ({exc})") from exc
    if choice is None:
        raise PlanError(
            f"no carrier service takes {weight / 1000:.2f} kg to "
            f"{ship_to.country} {ship_to.postcode}"
        )
    return ShipmentPlan(carton, weight, choice)
