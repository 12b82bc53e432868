"""Write the default site (``config/default/site.toml`` and ``masterdata.toml``).

Deterministic: the same seed gives byte-identical files. Run ``python -m
config.generate_default [--seed N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from config.masterdata import gtin_check_digit

SEED = 2611
WAREHOUSES: tuple[dict[str, Any], ...] = (
    {
        "id": "DE-FRA",
        "name": "Frankfurt",
        "country": "DE",
        "postcode": "60311",
        "timezone": "Europe/Berlin",
        "transfer_hours": {"PL-WAW": 20},
    },
    {
        "id": "PL-WAW",
        "name": "Warsaw",
        "country": "PL",
        "postcode": "00-001",
        "timezone": "Europe/Warsaw",
        "transfer_hours": {"DE-FRA": 20},
    },
)
ALL_COUNTRIES = ["AT", "BE", "CZ", "DE", "ES", "FR", "IT", "NL", "PL"]
CARRIERS: tuple[tuple[Any, ...], ...] = (
    ("dhl-express", "DHL", "Express", 24, "17:00", 14.9, ALL_COUNTRIES, 31500, []),
    ("ups-standard", "UPS", "Standard", 48, "16:30", 8.5, ALL_COUNTRIES, 31500, []),
    ("dpd-classic", "DPD", "Classic (economy)", 72, "18:00", 5.2, ALL_COUNTRIES, 31500, []),
    ("gls-business", "GLS", "BusinessParcel", 48, "17:30", 6.4,
     ["AT", "BE", "CZ", "DE", "FR", "NL", "PL"], 31500, []),
    ("dhl-paket", "DHL", "Paket (domestic)", 30, "18:00", 4.99, ["DE"], 31500, []),
    ("inpost-paczkomat", "InPost", "Paczkomat 24h", 24, "19:00", 3.6, ["PL"], 25000, []),
    ("poczta-pocztex", "Poczta Polska", "Pocztex", 48, "16:00", 3.9, ["PL"], 20000, []),
    ("courier-fra-sameday", "Mainkurier", "Same-day Frankfurt", 4, "14:00", 11.5,
     ["DE"], 15000, ["60"]),
    ("courier-waw-sameday", "Kurier Warszawa", "Same-day Warsaw", 4, "14:00", 9.0,
     ["PL"], 15000, ["00", "01", "02"]),
)  # fmt: skip
CARRIER_KEYS = (
    "id", "carrier", "service", "transit_hours", "cutoff", "cost",
    "countries", "max_weight_g", "local_postcode_prefixes",
)  # fmt: skip

# (name, weight_g range, dims_mm, flags) per category; variants make the names distinct.
CATALOGUE: dict[str, list[tuple[str, tuple[int, int], tuple[int, int, int], list[str]]]] = {
    "general": [
        ("Stainless steel water bottle", (300, 450), (280, 80, 80), []),
        ("Ceramic coffee mug", (320, 400), (120, 95, 95), ["fragile"]),
        ("Cotton tote bag", (120, 180), (380, 320, 20), []),
        ("Wool winter scarf", (180, 260), (300, 200, 40), []),
        ("LED desk lamp", (700, 950), (420, 160, 160), ["fragile"]),
        ("Yoga mat", (900, 1300), (620, 150, 150), []),
        ("Kitchen knife set", (800, 1100), (380, 180, 60), []),
        ("Glass storage jars (3 pcs)", (900, 1200), (300, 110, 110), ["fragile"]),
        ("Children's puzzle 500 pcs", (400, 550), (300, 220, 60), []),
        ("Hiking socks (2 pairs)", (100, 150), (220, 110, 40), []),
        ("Bamboo cutting board", (600, 900), (400, 280, 20), []),
        ("Notebook A5 dotted", (220, 300), (210, 150, 15), []),
    ],
    "electronics": [
        ("USB-C charger 65 W", (150, 220), (80, 60, 35), []),
        ("Bluetooth earbuds", (60, 90), (100, 80, 40), ["high_value"]),
        ("Power bank 20000 mAh", (350, 450), (160, 80, 30), ["hazmat"]),
        ("Smart plug (EU)", (80, 120), (90, 60, 60), []),
        ("Mechanical keyboard", (800, 1100), (450, 150, 45), []),
        ("4K webcam", (150, 250), (110, 70, 60), ["high_value"]),
        ("E-reader 6 inch", (180, 220), (170, 120, 20), ["fragile", "high_value"]),
        ("HDMI cable 2 m", (90, 130), (200, 150, 30), []),
        ("Lithium AA batteries (8 pcs)", (120, 160), (120, 80, 20), ["hazmat"]),
    ],
    "medical": [
        ("Insulin cooler bag", (400, 500), (220, 140, 90), ["fragile"]),
        ("Digital thermometer", (40, 70), (160, 60, 30), []),
        ("Blood glucose test strips (50)", (60, 90), (90, 60, 40), []),
        ("Compression bandage", (80, 120), (110, 70, 70), []),
        ("Pulse oximeter", (60, 90), (110, 80, 50), ["fragile"]),
        ("First aid kit", (500, 700), (250, 180, 80), []),
    ],
    "perishable": [
        ("Organic honey 500 g", (600, 700), (90, 90, 120), ["perishable", "fragile"]),
        ("Dark chocolate 85% (5 bars)", (520, 560), (200, 90, 40), ["perishable"]),
        ("Green tea matcha 100 g", (130, 160), (90, 90, 110), ["perishable"]),
        ("Vitamin D3 drops", (60, 90), (60, 40, 110), ["perishable", "fragile"]),
        ("Probiotic capsules (60)", (90, 120), (70, 70, 110), ["perishable", "cold_chain"]),
        ("Gingerbread cookies 400 g", (420, 480), (220, 150, 60), ["perishable"]),
    ],
    "cosmetics": [
        ("Face serum 30 ml", (90, 130), (50, 50, 120), ["fragile"]),
        ("Hair spray 300 ml", (260, 320), (60, 60, 220), ["hazmat"]),
        ("Hand cream 75 ml", (90, 110), (140, 50, 30), []),
        ("Eau de parfum 50 ml", (250, 330), (110, 80, 60), ["fragile", "hazmat", "high_value"]),
        ("Sunscreen SPF 50", (200, 250), (160, 60, 40), []),
        ("Lip balm set (3 pcs)", (40, 60), (90, 60, 20), []),
    ],
}
CATEGORY_COUNTS = {
    "general": 70,
    "electronics": 45,
    "medical": 25,
    "perishable": 30,
    "cosmetics": 30,
}
VARIANTS = ["", "black", "white", "grey", "blue", "green", "red", "XL", "travel size", "2-pack"]


def make_locations() -> list[dict[str, Any]]:
    """12 pick aisles x 20 bays x 3 levels per warehouse (zones A, B) plus 80 reserve bins."""
    rows: list[dict[str, Any]] = []
    for wh in WAREHOUSES:
        for aisle in range(1, 13):
            zone = "A" if aisle <= 6 else "B"
            for bay in range(1, 21):
                for level in range(1, 4):
                    rows.append(_loc(wh["id"], zone, aisle, bay, level, "pick"))
        for aisle in (14, 15):
            for bay in range(1, 21):
                for level in (1, 2):
                    rows.append(_loc(wh["id"], "R", aisle, bay, level, "reserve"))
    return rows


def _loc(wh: str, zone: str, aisle: int, bay: int, level: int, kind: str) -> dict[str, Any]:
    code = f"{zone}{aisle:02d}-{bay:02d}-{level}"
    return {"warehouse": wh, "code": code, "zone": zone, "aisle": aisle, "bay": bay,
            "level": level, "kind": kind}  # fmt: skip


def make_skus(rng: random.Random) -> list[dict[str, Any]]:
    """About 200 SKUs with valid GTIN-13s, realistic names, weights and sizes."""
    skus: list[dict[str, Any]] = []
    number = 1001
    for category, count in CATEGORY_COUNTS.items():
        bases = CATALOGUE[category]
        for i in range(count):
            name, (w_lo, w_hi), dims, flags = bases[i % len(bases)]
            variant = VARIANTS[(i // len(bases)) % len(VARIANTS)]
            body = f"426{number:09d}"  # GS1 Germany prefix range, our item reference
            gtin = body + str(gtin_check_digit(body))
            skus.append(
                {
                    "sku": f"SKU-{number}",
                    "gtin": gtin,
                    "name": f"{name}, {variant}" if variant else name,
                    "category": category,
                    "flags": sorted(flags),
                    "weight_g": rng.randint(w_lo, w_hi),
                    "dims_mm": list(dims),
                    "reorder_point": rng.choice([5, 8, 10, 12, 15, 20]),
                }
            )
            number += 1
    return skus


def make_stock(rng: random.Random, skus: list[dict[str, Any]],
               locations: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """Spread stock over bins: most SKUs in both warehouses, some in one only, some low."""
    free: dict[tuple[str, str], list[str]] = {}
    for loc in locations:
        free.setdefault((loc["warehouse"], loc["kind"]), []).append(loc["code"])
    for codes in free.values():
        rng.shuffle(codes)
    stock: list[dict[str, Any]] = []
    for sku in skus:
        roll = rng.random()
        homes = ["DE-FRA", "PL-WAW"] if roll < 0.8 else (["DE-FRA"] if roll < 0.9 else ["PL-WAW"])
        low_in = rng.choice(homes) if rng.random() < 0.1 else None
        dated = sku["category"] in ("perishable", "medical")
        for wh in homes:
            bins = 1 if rng.random() < 0.6 else 2
            for b in range(bins):
                rp = sku["reorder_point"]
                qty = rng.randint(1, rp) if wh == low_in else rng.randint(max(12, 2 * rp), 60)
                stock.append(_stock(rng, wh, free[(wh, "pick")].pop(), sku, qty, dated, b))
            if wh != low_in and rng.random() < 0.3:
                qty = rng.randint(40, 200)
                stock.append(_stock(rng, wh, free[(wh, "reserve")].pop(), sku, qty, dated, 9))
    return stock


def _stock(rng: random.Random, wh: str, code: str, sku: dict[str, Any], qty: int,
           dated: bool, lot_no: int) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {"warehouse": wh, "location": code, "sku": sku["sku"], "qty": qty}
    if dated:
        row["lot"] = f"L26{rng.randint(1, 52):02d}{lot_no}"
        days = rng.randint(20, 120) if sku["category"] == "perishable" else rng.randint(200, 700)
        row["expiry"] = date(2026, 11, 25) + timedelta(days=days)
    return row


def make_masterdata(seed: int = SEED) -> dict[str, Any]:
    """The default master data as a §4.2 document."""
    rng = random.Random(seed)
    locations = make_locations()
    skus = make_skus(rng)
    return {
        "warehouses": [dict(w) for w in WAREHOUSES],
        "locations": locations,
        "skus": skus,
        "stock": make_stock(rng, skus, locations),
        "carriers": [dict(zip(CARRIER_KEYS, row, strict=True)) for row in CARRIERS],
    }


def toml_value(value: Any) -> str:
    """One TOML value (strings, numbers, dates, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def masterdata_toml(doc: dict[str, Any], seed: int) -> str:
    """The master-data document as TOML: one inline table per record and line."""
    out = [
        "# Default master data (DESIGN.md §4.2 shape). Generated by",
        f"# `python -m config.generate_default --seed {seed}`: edit the generator, not this file.",
    ]
    for name in ("warehouses", "carriers", "skus", "locations", "stock"):
        out.append("")
        out.append(f"{name} = [")
        out.extend(f"  {toml_value(row)}," for row in doc[name])
        out.append("]")
    return "\n".join(out) + "\n"


SITE_TOML = """\
# Default site. Generated by `python -m config.generate_default`; keys: README "Configuration".
site_id = "DE-FRA"               # this site's warehouse (devices and MQTT topics use it)
masterdata = "masterdata.toml"   # relative to this file; .toml or .json (§4.2 shape)

[central]
url = "http://127.0.0.1:8700"
token = ""                       # device/admin token; empty: none yet
data_dir = "rushline-data"       # local SQLite files; relative to the working directory
handover_wait_minutes = 30       # a top-up waits this long for units on a handheld off the air

[carrier_choice]
threshold = 0.9                  # minimum on-time probability for a deadline
prior = 0.95                     # on-time rate assumed before measurements
prior_weight = 20                # how many shipments the prior counts as

[priority]
default_processing_hours = 2.0
processing_hours = { P1 = 1.0, P2 = 1.5, P3 = 3.0, P4 = 6.0 }
default_transit_hours = 24.0
overdue_points = 100.0
slack_bands = [[2.0, 60.0], [6.0, 40.0], [12.0, 25.0], [24.0, 10.0]]
service_points = { express = 30.0, priority = 20.0, standard = 0.0 }
flag_points = { medical = 40.0, vip = 20.0 }
tier_points = { platinum = 15.0, gold = 10.0, standard = 0.0 }
category_points = { perishable = 25.0, medical = 30.0 }
tag_points = { urgent = 30.0 }
level_thresholds = { P1 = 90.0, P2 = 60.0, P3 = 30.0 }
disruption_points = 15.0
safety_margin_minutes = 30.0

[demo]
orders = 200
urgent_share = 0.15
minutes = 30
seed = 7
start = 2026-11-25T08:00:00+01:00   # simulated clock start (Europe/Berlin)
outage_seconds = 20
pickers = 6
batch_size = 8

# Carton sizes: inner length/width/height in mm, max content weight, tare, cost (EUR).
[[cartons]]
id = "S1"
inner_mm = [200, 150, 100]
max_weight_g = 2000
tare_g = 90
cost = 0.35

[[cartons]]
id = "S2"
inner_mm = [300, 200, 150]
max_weight_g = 5000
tare_g = 160
cost = 0.55

[[cartons]]
id = "M"
inner_mm = [400, 300, 200]
max_weight_g = 10000
tare_g = 280
cost = 0.8

[[cartons]]
id = "L"
inner_mm = [500, 400, 300]
max_weight_g = 20000
tare_g = 450
cost = 1.2

[[cartons]]
id = "XL"
inner_mm = [650, 450, 450]
max_weight_g = 30000
tare_g = 700
cost = 1.9
"""


def write_default(out_dir: Path, seed: int = SEED) -> list[Path]:
    """Write site.toml and masterdata.toml into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    site = out_dir / "site.toml"
    master = out_dir / "masterdata.toml"
    site.write_text(SITE_TOML, encoding="utf-8")
    master.write_text(masterdata_toml(make_masterdata(seed), seed), encoding="utf-8")
    return [site, master]


def main(argv: list[str] | None = None) -> int:
    """Command line: write the default site files."""
    parser = argparse.ArgumentParser(prog="python -m config.generate_default")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "default")
    args = parser.parse_args(argv)
    for path in write_default(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
