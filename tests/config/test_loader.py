"""Loading the default site and every validation error path of the loader."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, time
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import default_site_path, load_masterdata, load_site, masterdata_to_dict
from config.masterdata import gtin_check_digit, gtin_is_valid
from domain.models import LocationKind
from domain.priority_rules import PriorityRules

Edit = Callable[[str, str, str], Path]


def test_default_site_loads_with_expected_shape() -> None:
    site = load_site(default_site_path())
    assert site.site_id == "DE-FRA"
    assert {w.id for w in site.warehouses} == {"DE-FRA", "PL-WAW"}
    assert site.warehouse("PL-WAW").transfer_hours["DE-FRA"] == 20
    assert site.warehouse().timezone == "Europe/Berlin"
    assert 180 <= len(site.skus) <= 220
    assert all(gtin_is_valid(s.gtin) and len(s.gtin) == 13 for s in site.skus)
    assert {s.category for s in site.skus} == {
        "general", "electronics", "medical", "perishable", "cosmetics",
    }  # fmt: skip
    assert len(site.cartons) == 5
    assert isinstance(site.priority, PriorityRules)
    pick = [
        loc for loc in site.location_by_code("DE-FRA").values() if loc.kind is LocationKind.PICK
    ]
    assert len(pick) == 12 * 20 * 3
    assert site.location_by_code()["A03-12-2"].x > 0  # walking coordinates derived
    assert site.sku_by_id()["SKU-1001"].weight_g > 0
    fra = site.carriers[[c.id for c in site.carriers].index("courier-fra-sameday")]
    assert fra.local_postcode_prefixes == ("60",) and fra.cutoff == time(14, 0)
    perishable = {s.sku for s in site.skus if s.category == "perishable"}
    assert any(r.expiry is not None for r in site.stock if r.sku in perishable)
    # Some SKUs live in one warehouse only (so transfers happen).
    homes: dict[str, set[str]] = {}
    for record in site.stock:
        homes.setdefault(record.sku, set()).add(record.warehouse)
    assert any(len(h) == 1 for h in homes.values())
    assert {c for service in site.carriers for c in service.countries} >= {
        "DE", "AT", "PL", "FR", "NL", "BE", "CZ", "IT", "ES",
    }  # fmt: skip


def test_site_is_frozen() -> None:
    site = load_site()
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.site_id = "X"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.demo.orders = 1  # type: ignore[misc]


def test_gtin_check_digit_known_value() -> None:
    assert gtin_check_digit("400638133393") == 1
    assert gtin_is_valid("4006381333931")
    assert not gtin_is_valid("4006381333932")


def test_masterdata_round_trips_through_json(tmp_path: Path) -> None:
    site = load_site()
    md = load_masterdata(site.masterdata_path)  # type: ignore[arg-type]
    doc = masterdata_to_dict(md)
    path = tmp_path / "md.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    again = load_masterdata(path)
    assert again == md
    assert doc["carriers"][0]["cutoff"] == "17:00"
    assert isinstance(doc["stock"][0]["qty"], int)


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_site(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("masterdata.toml", 'cutoff = "17:00"', 'cutoff = "25:00"',
         "masterdata.toml: carriers[0].cutoff: '25:00' is not a HH:MM time"),
        ("masterdata.toml", 'gtin = "4260000010010"', 'gtin = "4260000010011"',
         "masterdata.toml: skus[0].gtin: '4260000010011' is not a GTIN"),
        ("masterdata.toml", "cost = 14.9,", "cots = 14.9,",
         "masterdata.toml: carriers[0].cost: is required"),
        ("site.toml", "prior_weight = 20", "prior_wieght = 20",
         "site.toml: carrier_choice.prior_wieght: unknown key"),
        ("masterdata.toml", "reorder_point = 10 }", 'reorder_point = 10, colour = "red" }',
         "masterdata.toml: skus[0].colour: unknown key"),
        ("site.toml", 'site_id = "DE-FRA"', 'site_id = "DE-FRA"\ncolour = "blue"',
         "site.toml: colour: unknown key"),
        ("masterdata.toml", '{ warehouse = "DE-FRA", code = "A01-01-1"',
         '{ warehouse = "DE-XXX", code = "A01-01-1"',
         "masterdata.toml: locations[0].warehouse: unknown warehouse 'DE-XXX'"),
        ("masterdata.toml", 'location = "', 'location = "Z99-',
         "masterdata.toml: stock[0].location: unknown location"),
        ("site.toml", "threshold = 0.9", "threshold = 1.5",
         "site.toml: carrier_choice.threshold: 1.5 is above the maximum 1"),
        ("site.toml", "max_weight_g = 2000", 'max_weight_g = "heavy"',
         "site.toml: cartons[0].max_weight_g: 'heavy' is not a whole number"),
        ("site.toml", 'site_id = "DE-FRA"', 'site_id = "FR-PAR"',
         "site.toml: site_id: 'FR-PAR' is not a warehouse of masterdata.toml"),
        ("masterdata.toml", 'timezone = "Europe/Berlin"', 'timezone = "Europe/Frankfurt"',
         "masterdata.toml: warehouses[0].timezone: 'Europe/Frankfurt' is not a known IANA"),
        ("site.toml", "P1 = 90.0", "P1 = 50.0",
         "site.toml: priority.level_thresholds: must satisfy P1 > P2 > P3"),
        ("site.toml", "overdue_points", "overdue_pionts",
         "site.toml: priority.overdue_pionts: unknown key"),
        ("site.toml", 'url = "http://127.0.0.1:8700"', 'url = "127.0.0.1:8700"',
         "site.toml: central.url: '127.0.0.1:8700' is not an http:// or https:// URL"),
        ("site.toml", "handover_wait_minutes = 30", "handover_wait_minutes = -5",
         "site.toml: central.handover_wait_minutes: -5 is below the minimum 0"),
        ("site.toml", "start = 2026-11-25T08:00:00+01:00", "start = 2026-11-25T08:00:00",
         "site.toml: demo.start:"),
        ("masterdata.toml", 'category = "general"', 'category = "toys"',
         "masterdata.toml: skus[0].category: 'toys' is not one of"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_file_and_key(
    edit: Edit, name: str, old: str, new: str, expected: str
) -> None:
    site = edit(name, old, new)
    assert expected in _error(site)


def test_the_central_server_takes_its_hand_over_wait_from_the_site_file(edit: Edit) -> None:
    from central.settings import load_settings

    assert load_settings().handover_wait_s == 30 * 60  # the shipped file
    site = edit("site.toml", "handover_wait_minutes = 30", "handover_wait_minutes = 7.5")
    assert load_settings(site).handover_wait_s == 450


def test_stock_referencing_unknown_sku(edit: Edit) -> None:
    site = edit("masterdata.toml", 'stock = [\n  { warehouse = "', 'stock = [\n  { warehouse = "')
    md = site.parent / "masterdata.toml"
    text = md.read_text(encoding="utf-8")
    start = text.index("stock = [")
    first_sku = text.index('sku = "SKU-', start)
    end = text.index('"', first_sku + len('sku = "'))
    md.write_text(text[:first_sku] + 'sku = "SKU-0000' + text[end:], encoding="utf-8")
    assert "masterdata.toml: stock[0].sku: unknown sku 'SKU-0000'" in _error(site)


def test_duplicate_sku_is_rejected(edit: Edit) -> None:
    site = edit("masterdata.toml", 'sku = "SKU-1002", gtin', 'sku = "SKU-1001", gtin')
    assert "masterdata.toml: skus[1]: duplicate id 'SKU-1001'" in _error(site)


def test_missing_file(tmp_path: Path) -> None:
    message = _error(tmp_path / "nope.toml")
    assert message.endswith("nope.toml: file not found")


def test_missing_masterdata_file_names_it(edit: Edit) -> None:
    site = edit("site.toml", 'masterdata = "masterdata.toml"', 'masterdata = "gone.toml"')
    assert _error(site).endswith("gone.toml: file not found")


def test_toml_syntax_error(edit: Edit) -> None:
    site = edit("site.toml", "[central]", "[central")
    message = _error(site)
    assert "site.toml: TOML syntax error:" in message
    assert "line" in message


def test_json_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "md.json"
    path.write_text('{"warehouses": [', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_masterdata(path)
    assert "md.json: JSON syntax error" in str(info.value)


def test_json_masterdata_referenced_from_site(site_copy: Path) -> None:
    md = load_masterdata(site_copy.parent / "masterdata.toml")
    (site_copy.parent / "md.json").write_text(json.dumps(masterdata_to_dict(md)), encoding="utf-8")
    text = site_copy.read_text(encoding="utf-8").replace('"masterdata.toml"', '"md.json"')
    site_copy.write_text(text, encoding="utf-8")
    site = load_site(site_copy)
    assert len(site.skus) == len(md.skus)
    assert site.masterdata_path is not None and site.masterdata_path.name == "md.json"


def test_expiry_parses_to_date() -> None:
    site = load_site()
    assert all(r.expiry is None or isinstance(r.expiry, date) for r in site.stock)


def test_site_may_list_its_floor_devices_for_the_broker(tmp_path: Path) -> None:
    """`rushline broker passwords` reads [[devices]] from the site file, so the site
    loader must accept the table rather than call it an unknown key."""
    import shutil

    from config.loader import default_site_path, load_site

    shipped = default_site_path().parent
    for name in ("site.toml", "masterdata.toml"):
        shutil.copy(shipped / name, tmp_path / name)
    with (tmp_path / "site.toml").open("a") as fh:
        fh.write('\n[[devices]]\nid = "sorter-1"\nrole = "sorter"\nconveyor = "cv-1"\n')
    assert load_site(tmp_path / "site.toml").site_id == "DE-FRA"
