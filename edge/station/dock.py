"""The dock desk: carrier handover scans and one open pickup per carrier (pure).

Only a packed order can be handed over; it is recorded ``order.shipped`` and joins its
carrier's open pickup. Closing a pickup yields the :class:`Manifest` to print. The agent
persists parcels and closed pickups and passes them back in with :meth:`DockDesk.restore`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.models import OrderStatus
from edge.station.feedback import Feedback, FeedbackLevel, OpRequest, Step
from edge.station.manifest import Manifest, Parcel, carrier_key, pickup_id

Row = Mapping[str, Any]


@dataclass
class Pickup:
    """The parcels waiting for one carrier's driver."""

    carrier: str
    opened_at: datetime
    parcels: list[Parcel] = field(default_factory=list)

    def has(self, order_id: str) -> bool:
        """True when the order is already in this pickup."""
        return any(p.order_id == order_id for p in self.parcels)


def _error(text: str, order_id: str | None = None) -> Step:
    return Step(Feedback(FeedbackLevel.ERROR, text, order_id))


class DockDesk:
    """Handover and pickups of one dock; ``carriers`` maps service id -> carrier name."""

    def __init__(self, site: str, carriers: Mapping[str, str]) -> None:
        self.site = site
        self.carriers = dict(carriers)
        self.pickups: dict[str, Pickup] = {}
        self.closed: dict[str, int] = {}

    def carrier_of(self, service_id: str) -> str:
        """The carrier name of a service (the service id itself when unknown)."""
        return self.carriers.get(service_id, service_id)

    def resolve_carrier(self, ref: str) -> str | None:
        """A carrier named by key (``dhl``), name or one of its service ids; None if unknown."""
        wanted = carrier_key(ref)
        for service_id, name in self.carriers.items():
            if wanted in (carrier_key(name), carrier_key(service_id)):
                return name
        for pickup in self.pickups.values():
            if carrier_key(pickup.carrier) == wanted:
                return pickup.carrier
        return None

    def restore(self, parcels: Iterable[tuple[str, Parcel]], closed: Mapping[str, int]) -> None:
        """Reload open pickups' parcels (carrier name, parcel) and closed-pickup counts."""
        for carrier, parcel in parcels:
            self._pickup(carrier, parcel.at).parcels.append(parcel)
        self.closed.update({carrier_key(k): int(v) for k, v in closed.items()})

    def _pickup(self, carrier: str, now: datetime) -> Pickup:
        key = carrier_key(carrier)
        pickup = self.pickups.get(key)
        if pickup is None:
            pickup = self.pickups[key] = Pickup(carrier, now)
        return pickup

    def handover(
        self, order: Row | None, ref: str, now: datetime, weight_g: int = 0
    ) -> tuple[Step, Parcel | None]:
        """A parcel was scanned at handover (``ref`` as scanned). Returns the step and the
        parcel added to a pickup (None when refused or already handed over)."""
        if order is None:
            return _error(f"{ref}: no such parcel or order at this dock"), None
        order_id = str(order["id"])
        status = str(order.get("status") or "")
        tracking = str(order.get("tracking") or "")
        service = str(order.get("carrier_service") or "")
        carrier = self.carrier_of(service) if service else ""
        if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            pickup = self.pickups.get(carrier_key(carrier)) if carrier else None
            where = f" in the open {carrier} pickup" if pickup and pickup.has(order_id) else ""
            text = f"order {order_id} is already {status}{where} ({tracking or 'no tracking'})"
            return Step(Feedback(FeedbackLevel.INFO, text, order_id)), None
        if status in (OrderStatus.CANCELLED, OrderStatus.ON_HOLD):
            what = "cancelled" if status == OrderStatus.CANCELLED else "on hold"
            return _error(f"STOP: order {order_id} is {what}: do not hand it over", order_id), None
        if status != OrderStatus.PACKED:
            return _error(
                f"order {order_id} is {status or 'unknown'}, not packed: cannot ship it", order_id
            ), None
        if not tracking or not service:
            return _error(f"order {order_id} is packed without a tracking number", order_id), None
        parcel = Parcel(order_id, tracking, service, int(weight_g), now)
        pickup = self._pickup(carrier, now)
        if not pickup.has(order_id):  # kept before a crash cut the handover short
            pickup.parcels.append(parcel)
        op = OpRequest(
            "order.shipped",
            {"order_id": order_id, "carrier_service": service, "tracking": tracking},
        )
        text = f"SHIPPED {order_id} with {carrier} ({len(pickup.parcels)} in pickup)"
        return Step(Feedback(FeedbackLevel.OK, text, order_id), (op,)), parcel

    def close(self, carrier_ref: str, now: datetime) -> tuple[Step, Manifest | None]:
        """Close the carrier's open pickup: the manifest to print, or an error."""
        carrier = self.resolve_carrier(carrier_ref)
        if carrier is None:
            return _error(f"unknown carrier {carrier_ref!r}: nothing to close"), None
        key = carrier_key(carrier)
        pickup = self.pickups.get(key)
        if pickup is None or not pickup.parcels:
            return _error(f"no open {carrier} pickup: no parcels handed over yet"), None
        number = self.closed.get(key, 0) + 1
        manifest = Manifest(
            pickup_id(carrier, now, number),
            carrier,
            self.site,
            pickup.opened_at,
            now,
            tuple(pickup.parcels),
        )
        del self.pickups[key]
        self.closed[key] = number
        text = (
            f"{carrier} pickup closed: {manifest.count} parcels, "
            f"{manifest.total_weight_g / 1000:.2f} kg; manifest printing"
        )
        return Step(Feedback(FeedbackLevel.OK, text)), manifest
