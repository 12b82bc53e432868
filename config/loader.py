"""Load a site: ``site.toml`` plus the master-data file it names, validated at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.errors import ConfigError
from config.fields import Table
from config.masterdata import (
    MasterData,
    load_masterdata,
    masterdata_from_table,
    masterdata_to_dict,
    read_document,
)
from config.models import CarrierChoiceSettings, CentralSettings, DemoSettings, SiteConfig
from domain.models import Carton, DomainError

__all__ = [
    "ConfigError",
    "MasterData",
    "default_site_path",
    "load_masterdata",
    "load_site",
    "masterdata_to_dict",
]


def default_site_path() -> Path:
    """The default site file shipped with the package (``config/default/site.toml``)."""
    return Path(str(resources.files("config") / "default" / "site.toml"))


def load_site(path: str | Path | None = None) -> SiteConfig:
    """Read and validate a site file (default: the shipped one); ConfigError on any fault."""
    path = Path(path) if path is not None else default_site_path()
    shown = _shown(path)
    top = Table(shown, read_document(path, shown))

    md_name = top.text("masterdata")
    md_path = (path.parent / md_name).resolve()
    if md_path.suffix.lower() not in (".toml", ".json"):
        raise top.fail("masterdata", f"{md_name!r} must be a .toml or .json file")
    md_shown = _shown(md_path)
    md = masterdata_from_table(Table(md_shown, read_document(md_path, md_shown)))

    site_id = top.text("site_id")
    if site_id not in {w.id for w in md.warehouses}:
        raise top.fail("site_id", f"{site_id!r} is not a warehouse of {md_name}")
    cartons = top.each("cartons", _carton)
    if not cartons:
        raise top.fail("cartons", "at least one carton size is required")
    ids = [c.id for c in cartons]
    for i, ident in enumerate(ids):
        if ident in ids[:i]:
            raise ConfigError(shown, f"cartons[{i}].id", f"duplicate id {ident!r}")

    site = SiteConfig(
        path=path,
        site_id=site_id,
        warehouses=md.warehouses,
        locations=md.locations,
        skus=md.skus,
        stock=md.stock,
        carriers=md.carriers,
        cartons=tuple(cartons),
        priority=_priority(top),
        carrier_choice=_carrier_choice(top.table("carrier_choice", default={})),
        central=_central(top.table("central", default={})),
        demo=_demo(top.table("demo", default={})),
        masterdata_path=md_path,
    )
    # The floor's device list belongs to the broker tooling (`rushline broker passwords`),
    # which validates it itself; the site only has to allow it.
    top.raw("devices", default=None)
    top.finish()
    return site


def _shown(path: Path) -> str:
    """The path as a person would type it: relative to the working directory if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _priority(top: Table) -> Any:
    table = top.table("priority", default={})
    data: Mapping[str, Any] = MappingProxyType(dict(table.data))
    table._seen.update(table.data)  # the priority engine checks its own keys
    rules_class = _priority_rules_class()
    if rules_class is None:
        return data  # the engine is not installed: keep the raw rules
    try:
        return rules_class.from_mapping(data)
    except DomainError as exc:
        # The engine says "priority.<key>: <problem>"; name the file in front of it.
        text = str(exc)
        key, _, problem = text.partition(": ")
        if not key.startswith("priority"):
            key, problem = "priority", text
        raise ConfigError(top.file, key, problem) from exc


def _priority_rules_class() -> Any:
    for name in ("domain.priority", "domain.priority_rules"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        rules = getattr(module, "PriorityRules", None)
        if rules is not None:
            return rules
    return None


def _carton(t: Table) -> Carton:
    return Carton(
        id=t.text("id"),
        inner_mm=t.int_triple("inner_mm"),
        max_weight_g=t.integer("max_weight_g", min=1),
        tare_g=t.integer("tare_g", 0, min=0),
        cost=t.number("cost", 0.0, min=0),
    )


def _carrier_choice(t: Table) -> CarrierChoiceSettings:
    d = CarrierChoiceSettings()
    result = CarrierChoiceSettings(
        threshold=t.number("threshold", d.threshold, min=0, max=1),
        prior=t.number("prior", d.prior, min=0, max=1),
        prior_weight=t.integer("prior_weight", d.prior_weight, min=0),
    )
    t.finish()
    return result


def _central(t: Table) -> CentralSettings:
    d = CentralSettings()
    url = t.text("url", d.url)
    if not url.startswith(("http://", "https://")):
        raise t.fail("url", f"{url!r} is not an http:// or https:// URL")
    result = CentralSettings(
        url=url.rstrip("/"),
        token=t.text("token", d.token, nonempty=False),
        data_dir=Path(t.text("data_dir", str(d.data_dir))).expanduser(),
        handover_wait_minutes=t.number("handover_wait_minutes", d.handover_wait_minutes, min=0),
    )
    t.finish()
    return result


def _demo(t: Table) -> DemoSettings:
    d = DemoSettings()
    start_text = t.raw("start", d.start)
    start = start_text
    if isinstance(start_text, str):
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            raise t.fail("start", f"{start_text!r} is not an ISO 8601 date-time") from None
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise t.fail("start", f"{start_text!r} is not a date-time with a time zone offset")
    result = DemoSettings(
        orders=t.integer("orders", d.orders, min=1, max=100_000),
        urgent_share=t.number("urgent_share", d.urgent_share, min=0, max=1),
        minutes=t.integer("minutes", d.minutes, min=1),
        seed=t.integer("seed", d.seed),
        start=start,
        outage_seconds=t.integer("outage_seconds", d.outage_seconds, min=0),
        pickers=t.integer("pickers", d.pickers, min=1),
        batch_size=t.integer("batch_size", d.batch_size, min=1),
    )
    t.finish()
    return result
