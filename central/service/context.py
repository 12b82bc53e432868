"""What a service step needs inside one transaction: the transaction, the time, the
settings and master data (parsed on first use, then shared by the process's steps until
the master data changes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, time
from functools import cached_property
from typing import Any, TypeVar

from central.settings import ServerSettings
from central.store.base import MASTERS_VERSION, FeedData, Tx
from domain.models import (
    CarrierService,
    Disruption,
    Location,
    LocationKind,
    Sku,
    Warehouse,
    location_walk_xy,
    parse_time,
)


class ServiceError(Exception):
    """Root of the services' errors."""


class InputError(ServiceError):
    """A body names something that does not exist or cannot be; ``loc`` is the field path."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(str(p) for p in loc)}: {message}")
        self.loc = loc
        self.message = message


class NotFound(ServiceError):
    """An id in the path is unknown."""


class Conflict(ServiceError):
    """The same id was sent with a different body."""


T = TypeVar("T")


class MasterCache:
    """Parsed master data shared by the transactions of this process, keyed by the
    database's masters version (a random token replaced with every master-data change).
    Entries are read-only: callers copy before changing anything."""

    LIMIT = 64

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, version: str, name: str, build: Callable[[], T]) -> T:
        key = (version, name)
        found = self._entries.get(key)
        if found is None:
            found = build()
            with self._lock:
                if len(self._entries) >= self.LIMIT:
                    self._entries.clear()
                self._entries[key] = found
        return found


MASTERS = MasterCache()


@dataclass
class Ctx:
    """One transaction's working set."""

    tx: Tx
    now: Any  # datetime
    settings: ServerSettings
    feed: list[tuple[str, str, str | None, FeedData]] = field(default_factory=list)
    timeline: list[tuple[str, str, str, str]] = field(default_factory=list)
    # Orders changed in this step (written once at flush) and stock bins touched.
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched: set[tuple[str, str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Central keeps every time in UTC, as it keeps the devices' (``check_at``): stored
        # times then compare and sort as text, whatever zone the clock reads in (the
        # demo's floor clock reads in the warehouse's).
        self.now = self.now.astimezone(UTC)

    @cached_property
    def at(self) -> str:
        """The step's time as ISO text (one step, one time)."""
        return str(self.now.isoformat())

    def note(self, order_id: str, event: str, detail: str = "", at: str | None = None) -> None:
        """Add a timeline entry (written when the step flushes), stamped ``at`` (the time
        the event happened, e.g. a device's) or else the step's time."""
        self.timeline.append((order_id, self.at if at is None else at, event, detail))

    def change(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Mark an order document as changed in this step; returns it."""
        self.changed[doc["id"]] = doc
        return doc

    # Master data: parsed once per masters version and process (``MASTERS``), not once
    # per transaction. The dicts are shared: never change them in place.

    @cached_property
    def masters_version(self) -> str | None:
        """The version of the master data this step sees (None: not versioned, so
        nothing is shared)."""
        return self.tx.get_meta(MASTERS_VERSION)

    def _master(self, name: str, build: Callable[[], T]) -> T:
        version = self.masters_version
        return build() if version is None else MASTERS.get(version, name, build)

    @cached_property
    def warehouses(self) -> dict[str, Warehouse]:
        return self._master(
            "warehouse",
            lambda: {k: warehouse_of(d) for k, d in self.tx.masters("warehouse").items()},
        )

    @cached_property
    def skus(self) -> dict[str, Sku]:
        return self._master(
            "sku", lambda: {k: sku_of(d) for k, d in self.tx.masters("sku").items()}
        )

    @cached_property
    def locations(self) -> dict[tuple[str, str], Location]:
        def build() -> dict[tuple[str, str], Location]:
            result = {}
            for doc in self.tx.masters("location").values():
                loc = location_of(doc)
                result[(loc.warehouse, loc.code)] = loc
            return result

        return self._master("location", build)

    def locations_in(self, warehouse: str) -> dict[str, Location]:
        """The bins of one warehouse by code (a shared dict: copy before changing)."""
        return self._master(
            f"location@{warehouse}",
            lambda: {code: loc for (wh, code), loc in self.locations.items() if wh == warehouse},
        )

    @cached_property
    def carriers(self) -> dict[str, CarrierService]:
        return self._master(
            "carrier", lambda: {k: carrier_of(d) for k, d in self.tx.masters("carrier").items()}
        )

    @cached_property
    def disruptions(self) -> list[Disruption]:
        return [disruption_of(d) for d in self.tx.disruptions()]


def warehouse_of(d: dict[str, Any]) -> Warehouse:
    """A warehouse from its §4.2 JSON shape."""
    return Warehouse(
        id=d["id"],
        name=d.get("name", d["id"]),
        country=d.get("country", ""),
        postcode=d.get("postcode", ""),
        timezone=d.get("timezone", "UTC"),
        transfer_hours={str(k): float(v) for k, v in (d.get("transfer_hours") or {}).items()},
    )


def location_of(d: dict[str, Any]) -> Location:
    """A bin from its §4.2 JSON shape (walking x/y derived from aisle and bay if absent)."""
    aisle, bay = int(d.get("aisle", 0)), int(d.get("bay", 0))
    x, y = location_walk_xy(aisle, bay)
    return Location(
        warehouse=d["warehouse"],
        code=d["code"],
        zone=d.get("zone", ""),
        aisle=aisle,
        bay=bay,
        level=int(d.get("level", 0)),
        kind=LocationKind(d.get("kind", "pick")),
        x=float(d["x"]) if d.get("x") is not None else x,
        y=float(d["y"]) if d.get("y") is not None else y,
    )


def sku_of(d: dict[str, Any]) -> Sku:
    """A SKU from its §4.2 JSON shape."""
    dims = d.get("dims_mm") or (0, 0, 0)
    return Sku(
        sku=d["sku"],
        gtin=d.get("gtin", ""),
        name=d.get("name", d["sku"]),
        category=d.get("category", "general"),
        flags=frozenset(d.get("flags") or ()),
        weight_g=int(d.get("weight_g", 0)),
        dims_mm=(int(dims[0]), int(dims[1]), int(dims[2])),
        reorder_point=int(d.get("reorder_point", 0)),
    )


def carrier_of(d: dict[str, Any]) -> CarrierService:
    """A carrier service from its §4.2 JSON shape."""
    return CarrierService(
        id=d["id"],
        carrier=d.get("carrier", ""),
        service=d.get("service", ""),
        transit_hours=float(d.get("transit_hours", 24)),
        cutoff=time.fromisoformat(d.get("cutoff", "17:00")),
        cost=float(d.get("cost", 0)),
        countries=frozenset(d.get("countries") or ()),
        max_weight_g=int(d.get("max_weight_g", 31_500)),
        local_postcode_prefixes=tuple(d.get("local_postcode_prefixes") or ()),
    )


def disruption_of(d: dict[str, Any]) -> Disruption:
    """A disruption from its §4.2 JSON shape."""
    region = d.get("region") or {}
    return Disruption(
        id=d["id"],
        kind=d["kind"],
        starts_at=parse_time(d["starts_at"]),
        ends_at=parse_time(d["ends_at"]),
        escalate_by=int(d.get("escalate_by", 1)),
        country=region.get("country"),
        postcode_prefix=region.get("postcode_prefix"),
        carrier=d.get("carrier"),
    )


def parse_day(value: str | None) -> date | None:
    """An ISO date or nothing."""
    return date.fromisoformat(value) if value else None
