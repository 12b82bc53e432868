"""A deterministic stream of customer orders for the demo and for load tests.

Each order is a ``POST /v1/orders`` body (DESIGN.md §4.2) plus the second, counted from
the stream's start, at which it arrives. The same site, seed and size give the same
stream, so demo runs and their reports can be compared.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.models import SiteConfig

# (city, postcode, country); the first ones sit in the same-day couriers' zones.
ADDRESSES = (
    ("Frankfurt am Main", "60311", "DE"),
    ("Frankfurt am Main", "60594", "DE"),
    ("Warszawa", "00-950", "PL"),
    ("Warszawa", "02-495", "PL"),
    ("Berlin", "10115", "DE"),
    ("München", "80331", "DE"),
    ("Köln", "50667", "DE"),
    ("Düsseldorf", "40213", "DE"),
    ("Wien", "1010", "AT"),
    ("Graz", "8010", "AT"),
    ("Łódź", "90-001", "PL"),
    ("Kraków", "30-001", "PL"),
    ("Gdańsk", "80-001", "PL"),
    ("Paris", "75001", "FR"),
    ("Lyon", "69002", "FR"),
    ("Amsterdam", "1012 AB", "NL"),
    ("Bruxelles", "1000", "BE"),
    ("Praha", "110 00", "CZ"),
    ("Milano", "20121", "IT"),
    ("Madrid", "28001", "ES"),
)
STREETS = {
    "DE": ("Hauptstraße", "Schillerstraße", "Goethestraße", "Bahnhofstraße"),
    "AT": ("Mariahilfer Straße", "Herrengasse"),
    "PL": ("ul. Marszałkowska", "ul. Piotrkowska", "ul. Długa", "ul. Świętokrzyska"),
    "FR": ("Rue de Rivoli", "Avenue des Champs-Élysées"),
    "NL": ("Prinsengracht", "Damrak"),
    "BE": ("Rue Neuve", "Avenue Louise"),
    "CZ": ("Václavské náměstí", "Národní třída"),
    "IT": ("Via Dante", "Corso Buenos Aires"),
    "ES": ("Calle de Alcalá", "Avenida de São Paulo"),
}
FIRST = ("Anna", "Jürgen", "Łukasz", "Zoë", "François", "Małgorzata", "José", "Jan", "Chiara",
         "Sören", "Agnieszka", "Noémie", "Tomáš", "Lucía", "Émile", "Björn")  # fmt: skip
LAST = ("Müller", "Schröder", "Wójcik", "Kowalski", "Dubois", "Nowak", "García", "Novák",
        "Rossi", "Jansen", "Peeters", "Weiß", "Zieliński", "Gómez", "São Paulo", "Öztürk")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ArrivingOrder:
    """One order body and when it arrives, in seconds after the stream starts."""

    offset_s: float
    body: dict[str, Any]


def generate_order_stream(
    site: SiteConfig,
    n: int,
    start: datetime,
    seed: int,
    urgent_share: float = 0.15,
    *,
    span_s: float = 1800.0,
    warehouse: str | None = None,
) -> list[ArrivingOrder]:
    """``n`` orders for ``warehouse`` (default: the site's) arriving over ``span_s``
    seconds after ``start``, about ``urgent_share`` of them urgent."""
    rng = random.Random(seed)
    wh = site.warehouse(warehouse)
    zone = ZoneInfo(wh.timezone)
    here = [s for s in site.skus if _stocked(site, wh.id, s.sku)]
    elsewhere = [s for s in site.skus if not _stocked(site, wh.id, s.sku)]
    urgent_pool = [s for s in here if s.category in ("medical", "perishable")] or here
    local = tuple(
        p.replace(" ", "")
        for c in site.carriers
        if c.is_local and wh.country in c.countries
        for p in c.local_postcode_prefixes
    )
    offsets = sorted(rng.uniform(0, span_s) for _ in range(n))
    stream = []
    for i, offset in enumerate(offsets):
        now = (start + timedelta(seconds=offset)).astimezone(zone)
        urgent = rng.random() < urgent_share
        order_id = f"{start:%y%m%d}-{seed % 1000:03d}-{i + 1:04d}"
        body = _order(rng, order_id, wh.id, now, urgent, local)
        pool = urgent_pool if urgent and rng.random() < 0.6 else here
        count = rng.choice((1, 1, 1, 2, 2, 3, 4))
        chosen = rng.sample(pool, min(count, len(pool)))
        if elsewhere and rng.random() < 0.08:
            chosen[-1] = rng.choice(elsewhere)  # only another warehouse holds it
        body["lines"] = [{"sku": s.sku, "qty": rng.choice((1, 1, 1, 2, 3))} for s in chosen]
        stream.append(ArrivingOrder(round(offset, 3), body))
    return stream


def generate_orders(
    site: SiteConfig, n: int, start: datetime, seed: int, urgent_share: float = 0.15
) -> list[dict[str, Any]]:
    """The bodies of ``generate_order_stream`` (arrivals over 30 minutes), in order."""
    return [item.body for item in generate_order_stream(site, n, start, seed, urgent_share)]


def _stocked(site: SiteConfig, warehouse: str, sku: str) -> bool:
    return any(r.warehouse == warehouse and r.sku == sku and r.qty > 0 for r in site.stock)


def _order(
    rng: random.Random,
    order_id: str,
    warehouse: str,
    now: datetime,
    urgent: bool,
    local_prefixes: tuple[str, ...],
) -> dict[str, Any]:
    nearby = ADDRESSES[:4] if urgent and rng.random() < 0.3 else ADDRESSES
    city, postcode, country = rng.choice(nearby)
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    customer_no = rng.randint(10000, 99999)
    flags: list[str] = []
    tags: list[str] = []
    tier = rng.choice(("standard", "standard", "standard", "gold", "platinum"))
    service: str | None
    if urgent:
        service = "express"
        tags.append("urgent")
        roll = rng.random()
        if roll < 0.3:
            flags.append("medical")
        elif roll < 0.5:
            flags.append("vip")
        # Tight: today 18:00 local when a same-day courier serves the address, else
        # tomorrow afternoon (express next day).
        local = postcode.replace(" ", "").startswith(local_prefixes) if local_prefixes else False
        day = now.date() if local and now.hour < 12 else now.date() + timedelta(days=1)
        deadline = datetime.combine(day, datetime.min.time(), now.tzinfo).replace(
            hour=18 if local else rng.choice((15, 17, 18))
        )
        if rng.random() < 0.15:
            # A rush promise (collection within the hour): some of these will be late.
            tags.append("rush")
            deadline = now + timedelta(minutes=rng.choice((20, 30, 45, 60)))
    else:
        service = rng.choice(("standard", "standard", "priority", None))
        # End of a business day, two to five days out (some tighter "priority" ones).
        days = (
            rng.choice((1, 2, 2, 3, 3, 4, 5)) if service == "priority" else rng.choice((2, 3, 4, 5))
        )
        deadline = datetime.combine(
            now.date() + timedelta(days=days), datetime.min.time(), now.tzinfo
        )
        deadline = deadline.replace(hour=18)
    body: dict[str, Any] = {
        "id": order_id,
        "warehouse": warehouse,
        "customer": {
            "id": f"C{customer_no}",
            "name": name,
            "email": f"c{customer_no}@example.com",
            "tier": tier,
            "flags": flags,
        },
        "ship_to": {
            "name": name,
            "line1": f"{rng.choice(STREETS[country])} {rng.randint(1, 120)}",
            "city": city,
            "postcode": postcode,
            "country": country,
        },
        "lines": [],
        "deadline": deadline.isoformat(),
        "tags": tags,
    }
    if service:
        body["service"] = service
    return body
