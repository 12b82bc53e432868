"""Master data (DESIGN.md §4.2 shape): warehouses, bins, SKUs, stock and carrier services.

Read from TOML or JSON into frozen domain nouns, with cross-references checked (a bin's
warehouse exists, a stock record's SKU and bin exist) and GTIN check digits verified.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.errors import ConfigError
from config.fields import Table
from domain.models import (
    CarrierService,
    Location,
    LocationKind,
    Sku,
    Warehouse,
    location_walk_xy,
)

CATEGORIES = ("general", "electronics", "medical", "perishable", "cosmetics")
SKU_FLAGS = ("fragile", "hazmat", "perishable", "cold_chain", "high_value")


@dataclass(frozen=True, slots=True)
class StockRecord:
    """Units of one SKU (and lot) lying in one bin at load time."""

    warehouse: str
    location: str
    sku: str
    qty: int
    lot: str = ""
    expiry: date | None = None


@dataclass(frozen=True, slots=True)
class MasterData:
    """The §4.2 master-data document as typed, cross-checked records."""

    warehouses: tuple[Warehouse, ...]
    locations: tuple[Location, ...]
    skus: tuple[Sku, ...]
    stock: tuple[StockRecord, ...]
    carriers: tuple[CarrierService, ...]


def gtin_check_digit(body: str) -> int:
    """GS1 check digit for the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_is_valid(gtin: str) -> bool:
    """True for an 8/12/13/14-digit GTIN whose last digit is its check digit."""
    return (
        gtin.isascii()
        and gtin.isdigit()
        and len(gtin) in (8, 12, 13, 14)
        and gtin_check_digit(gtin[:-1]) == int(gtin[-1])
    )


def read_document(path: Path, shown: str) -> dict[str, Any]:
    """Parse a TOML or JSON file (by suffix); unreadable or malformed -> ConfigError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(shown, "", f"cannot read: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(shown, "", f"not UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, "", f"TOML syntax error: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            shown, "", f"JSON syntax error: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(shown, "", "the document must be an object/table at the top level")
    return data


def load_masterdata(path: str | Path) -> MasterData:
    """Load and cross-check master data from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    return masterdata_from_table(Table(str(path), read_document(path, str(path))))


def masterdata_from_table(doc: Table) -> MasterData:
    """Build master data from an already parsed document; ``doc.finish()`` is called."""
    warehouses = doc.each("warehouses", _warehouse)
    _unique(doc, "warehouses", [w.id for w in warehouses])
    wh_ids = {w.id for w in warehouses}
    for i, w in enumerate(warehouses):
        for other in w.transfer_hours:
            if other not in wh_ids:
                raise ConfigError(
                    doc.file,
                    f"warehouses[{i}].transfer_hours.{other}",
                    f"unknown warehouse {other!r}",
                )
    locations = doc.each("locations", lambda t: _location(t, wh_ids), default=[])
    _unique(doc, "locations", [f"{loc.warehouse}/{loc.code}" for loc in locations])
    skus = doc.each("skus", _sku, default=[])
    _unique(doc, "skus", [s.sku for s in skus])
    sku_ids = {s.sku for s in skus}
    bins = {(loc.warehouse, loc.code) for loc in locations}
    stock = doc.each("stock", lambda t: _stock(t, wh_ids, bins, sku_ids), default=[])
    carriers = doc.each("carriers", _carrier, default=[])
    _unique(doc, "carriers", [c.id for c in carriers])
    doc.finish()
    return MasterData(
        warehouses=tuple(warehouses),
        locations=tuple(locations),
        skus=tuple(skus),
        stock=tuple(stock),
        carriers=tuple(carriers),
    )


def _unique(doc: Table, name: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            raise ConfigError(doc.file, f"{doc.key(name)}[{i}]", f"duplicate id {ident!r}")
        seen.add(ident)


def _warehouse(t: Table) -> Warehouse:
    hours = t.table("transfer_hours", default={})
    transfer = {other: hours.number(other, min=0) for other in hours.data}
    hours.finish()
    timezone = t.text("timezone", "UTC")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except (KeyError, ValueError):
        raise t.fail("timezone", f"{timezone!r} is not a known IANA time zone") from None
    return Warehouse(
        id=t.text("id"),
        name=t.text("name"),
        country=_country(t, "country"),
        postcode=t.text("postcode", "", nonempty=False),
        timezone=timezone,
        transfer_hours=MappingProxyType(transfer),
    )


def _country(t: Table, name: str) -> str:
    value = t.text(name)
    if not (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
        raise t.fail(name, f"{value!r} is not a two-letter country code such as 'DE'")
    return str(value)


def _location(t: Table, warehouses: set[str]) -> Location:
    warehouse = t.text("warehouse")
    if warehouse not in warehouses:
        raise t.fail("warehouse", f"unknown warehouse {warehouse!r}")
    aisle = t.integer("aisle", 0, min=0)
    bay = t.integer("bay", 0, min=0)
    kind_text = t.text("kind", "pick")
    try:
        kind = LocationKind(kind_text)
    except ValueError:
        choices = ", ".join(k.value for k in LocationKind)
        raise t.fail("kind", f"{kind_text!r} is not one of {choices}") from None
    x0, y0 = location_walk_xy(aisle, bay)
    return Location(
        warehouse=warehouse,
        code=t.text("code"),
        zone=t.text("zone", "", nonempty=False),
        aisle=aisle,
        bay=bay,
        level=t.integer("level", 0, min=0),
        kind=kind,
        x=t.number("x", x0),
        y=t.number("y", y0),
    )


def _sku(t: Table) -> Sku:
    gtin = t.text("gtin")
    if not gtin_is_valid(gtin):
        raise t.fail("gtin", f"{gtin!r} is not a GTIN-8/12/13/14 with a valid check digit")
    category = t.text("category", "general")
    if category not in CATEGORIES:
        raise t.fail("category", f"{category!r} is not one of {', '.join(CATEGORIES)}")
    flags = t.texts("flags", ())
    for flag in flags:
        if flag not in SKU_FLAGS:
            raise t.fail("flags", f"{flag!r} is not one of {', '.join(SKU_FLAGS)}")
    return Sku(
        sku=t.text("sku"),
        gtin=gtin,
        name=t.text("name"),
        category=category,
        flags=frozenset(flags),
        weight_g=t.integer("weight_g", min=1),
        dims_mm=t.int_triple("dims_mm"),
        reorder_point=t.integer("reorder_point", 0, min=0),
    )


def _stock(
    t: Table, warehouses: set[str], bins: set[tuple[str, str]], skus: set[str]
) -> StockRecord:
    warehouse = t.text("warehouse")
    if warehouse not in warehouses:
        raise t.fail("warehouse", f"unknown warehouse {warehouse!r}")
    location = t.text("location")
    if (warehouse, location) not in bins:
        raise t.fail("location", f"unknown location {location!r} in warehouse {warehouse}")
    sku = t.text("sku")
    if sku not in skus:
        raise t.fail("sku", f"unknown sku {sku!r}")
    return StockRecord(
        warehouse=warehouse,
        location=location,
        sku=sku,
        qty=t.integer("qty", min=0),
        lot=t.text("lot", "", nonempty=False),
        expiry=t.day("expiry", None),
    )


def _carrier(t: Table) -> CarrierService:
    countries = t.texts("countries", ())
    for country in countries:
        if not (len(country) == 2 and country.isalpha() and country.isupper()):
            raise t.fail("countries", f"{country!r} is not a two-letter country code")
    return CarrierService(
        id=t.text("id"),
        carrier=t.text("carrier"),
        service=t.text("service"),
        transit_hours=t.number("transit_hours", min=0),
        cutoff=t.hhmm("cutoff"),
        cost=t.number("cost", min=0),
        countries=frozenset(countries),
        max_weight_g=t.integer("max_weight_g", 31_500, min=1),
        local_postcode_prefixes=t.texts("local_postcode_prefixes", ()),
    )


def masterdata_to_dict(md: MasterData) -> dict[str, Any]:
    """The §4.2 JSON shape of ``md`` (for ``POST /v1/masterdata``); loads back unchanged."""
    return {
        "warehouses": [
            {
                "id": w.id,
                "name": w.name,
                "country": w.country,
                "postcode": w.postcode,
                "timezone": w.timezone,
                "transfer_hours": dict(w.transfer_hours),
            }
            for w in md.warehouses
        ],
        "locations": [
            {
                "warehouse": loc.warehouse,
                "code": loc.code,
                "zone": loc.zone,
                "aisle": loc.aisle,
                "bay": loc.bay,
                "level": loc.level,
                "kind": loc.kind.value,
                "x": loc.x,
                "y": loc.y,
            }
            for loc in md.locations
        ],
        "skus": [
            {
                "sku": s.sku,
                "gtin": s.gtin,
                "name": s.name,
                "category": s.category,
                "flags": sorted(s.flags),
                "weight_g": s.weight_g,
                "dims_mm": list(s.dims_mm),
                "reorder_point": s.reorder_point,
            }
            for s in md.skus
        ],
        "stock": [
            {
                "warehouse": r.warehouse,
                "location": r.location,
                "sku": r.sku,
                "qty": r.qty,
                "lot": r.lot,
                "expiry": r.expiry.isoformat() if r.expiry else None,
            }
            for r in md.stock
        ],
        "carriers": [
            {
                "id": c.id,
                "carrier": c.carrier,
                "service": c.service,
                "transit_hours": c.transit_hours,
                "cutoff": c.cutoff.strftime("%H:%M"),
                "cost": c.cost,
                "countries": sorted(c.countries),
                "max_weight_g": c.max_weight_g,
                "local_postcode_prefixes": list(c.local_postcode_prefixes),
            }
            for c in md.carriers
        ],
    }
