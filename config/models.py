"""Typed, frozen settings of one site (site.toml plus its master data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.masterdata import StockRecord
from domain.models import CarrierService, Carton, Location, Sku, Warehouse

DEMO_START = datetime.fromisoformat("2026-11-25T08:00:00+01:00")

__all__ = [
    "CarrierChoiceSettings",
    "CentralSettings",
    "DemoSettings",
    "SiteConfig",
    "StockRecord",
]


@dataclass(frozen=True, slots=True)
class CarrierChoiceSettings:
    """How carrier choice trusts measured on-time rates.

    ``threshold``: the lowest on-time probability a service may have to be chosen for a
    deadline; ``prior``: the on-time rate assumed before anything is measured;
    ``prior_weight``: how many shipments that prior counts as.
    """

    threshold: float = 0.9
    prior: float = 0.95
    prior_weight: int = 20

    @property
    def beta_prior(self) -> tuple[float, float]:
        """The prior as (on-time, late) pseudo-counts, as ``domain.carriers`` takes it."""
        return (self.prior * self.prior_weight, (1.0 - self.prior) * self.prior_weight)


@dataclass(frozen=True, slots=True)
class CentralSettings:
    """Where the floor finds the central server, and where local data lives."""

    url: str = "http://127.0.0.1:8700"
    token: str = ""
    data_dir: Path = Path("rushline-data")
    # How long a top-up waits for units another handheld picked on a task taken over.
    handover_wait_minutes: float = 30.0


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """Defaults of ``rushline demo`` (each one can be overridden on the command line)."""

    orders: int = 200
    urgent_share: float = 0.15
    minutes: int = 30
    seed: int = 7
    start: datetime = DEMO_START
    outage_seconds: int = 20
    pickers: int = 6
    batch_size: int = 8


@dataclass(frozen=True)
class SiteConfig:
    """One site: its master data, priority rules, cartons and the settings of each part."""

    path: Path
    site_id: str
    warehouses: tuple[Warehouse, ...]
    locations: tuple[Location, ...]
    skus: tuple[Sku, ...]
    stock: tuple[StockRecord, ...]
    carriers: tuple[CarrierService, ...]
    cartons: tuple[Carton, ...]
    priority: Any  # domain.priority.PriorityRules (see config.loader)
    carrier_choice: CarrierChoiceSettings = CarrierChoiceSettings()
    central: CentralSettings = CentralSettings()
    demo: DemoSettings = DemoSettings()
    masterdata_path: Path | None = None
    _skus: Mapping[str, Sku] = field(init=False, repr=False, compare=False)
    _warehouses: Mapping[str, Warehouse] = field(init=False, repr=False, compare=False)
    _bins: Mapping[str, Mapping[str, Location]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Indexes are built once; the object stays frozen for everyone else.
        bins: dict[str, dict[str, Location]] = {w.id: {} for w in self.warehouses}
        for loc in self.locations:
            bins.setdefault(loc.warehouse, {})[loc.code] = loc
        object.__setattr__(self, "_skus", MappingProxyType({s.sku: s for s in self.skus}))
        object.__setattr__(
            self, "_warehouses", MappingProxyType({w.id: w for w in self.warehouses})
        )
        object.__setattr__(
            self, "_bins", MappingProxyType({k: MappingProxyType(v) for k, v in bins.items()})
        )

    def sku_by_id(self) -> Mapping[str, Sku]:
        """Every SKU by its id."""
        return self._skus

    def location_by_code(self, warehouse: str | None = None) -> Mapping[str, Location]:
        """The bins of ``warehouse`` (default: this site's) by code."""
        return self._bins.get(warehouse or self.site_id, MappingProxyType({}))

    def warehouse(self, warehouse_id: str | None = None) -> Warehouse:
        """The warehouse ``warehouse_id`` (default: this site's); KeyError if unknown."""
        return self._warehouses[warehouse_id or self.site_id]

    def stock_in(self, warehouse: str) -> tuple[StockRecord, ...]:
        """The stock records of one warehouse."""
        return tuple(r for r in self.stock if r.warehouse == warehouse)
