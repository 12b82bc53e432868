"""A small floor in the sync contract's shapes for the handheld tests: one warehouse,
bins, three SKUs with GTINs, stock, a hot P1 order and task, and a P3 batch task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync.store import LocalStore

SITE = "DE-FRA"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
GTIN_BAG = "4006381333931"  # SKU-BAG
GTIN_PEN = "5901234123457"  # SKU-PEN
GTIN_CUP = "4012345000009"  # SKU-CUP
GTIN_STRANGER = "4012345000016"  # valid, not in the catalogue


class Clock:
    """A settable clock for presenters."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _order(
    order_id: str, level: str, lines: list[tuple[str, int]], reasons: list[str], deadline_min: int
) -> dict[str, Any]:
    return {
        "id": order_id,
        "warehouse": SITE,
        "customer": {"id": "C1", "name": "Ada", "tier": "vip", "flags": ["medical"]},
        "ship_to": {"name": "Ada", "line1": "1 St", "city": "F", "postcode": "1", "country": "DE"},
        "lines": [{"sku": s, "qty": q, "picked": 0, "packed": 0} for s, q in lines],
        "deadline": (NOW + timedelta(minutes=deadline_min)).isoformat(),
        "status": "allocated",
        "exceptions": [],
        "priority": {"level": level, "score": 90.0, "reasons": reasons},
        "tote": None,
    }


def _stock(location: str, sku: str, on_hand: int, reserved: int = 0) -> dict[str, Any]:
    return {
        "warehouse": SITE,
        "location": location,
        "sku": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
        "lots": [{"lot": "L1", "expiry": "2027-03-31", "qty": on_hand}],
        "ledger_seq": 1,
    }


def changes() -> list[dict[str, Any]]:
    """The change feed of the whole small floor."""
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("warehouse", SITE, {"id": SITE, "name": "Frankfurt", "country": "DE"}),
    ]
    for code in ("A01-01-1", "A01-02-1", "B02-05-2", "C03-01-1"):
        rows.append(("location", f"{SITE}/{code}", {"warehouse": SITE, "code": code}))
    for sku, gtin, name in (
        ("SKU-BAG", GTIN_BAG, "Insulin cooler bag"),
        ("SKU-PEN", GTIN_PEN, "Pen needles"),
        ("SKU-CUP", GTIN_CUP, "Measuring cup"),
    ):
        rows.append(("sku", sku, {"sku": sku, "gtin": gtin, "name": name}))
    for loc, sku, on_hand, reserved in (
        ("A01-01-1", "SKU-BAG", 5, 2),
        ("B02-05-2", "SKU-PEN", 3, 1),
        ("C03-01-1", "SKU-PEN", 7, 0),
        ("A01-02-1", "SKU-CUP", 4, 1),
    ):
        rows.append(("stock", f"{SITE}/{loc}/{sku}", _stock(loc, sku, on_hand, reserved)))
    hot = _order(
        "O-HOT",
        "P1",
        [("SKU-BAG", 2), ("SKU-PEN", 1)],
        ["deadline in 45m", "customer flag: medical"],
        45,
    )
    slow = _order("O-SLOW", "P3", [("SKU-CUP", 1)], ["service: expedited"], 300)
    rows += [("order", "O-HOT", hot), ("order", "O-SLOW", slow)]
    rows.append(
        (
            "task",
            "HOT-O-HOT",
            {
                "id": "HOT-O-HOT",
                "kind": "hot",
                "level": "P1",
                "warehouse": SITE,
                "order_ids": ["O-HOT"],
                "lines": [
                    {"order_id": "O-HOT", "sku": "SKU-BAG", "location": "A01-01-1", "qty": 2},
                    {"order_id": "O-HOT", "sku": "SKU-PEN", "location": "B02-05-2", "qty": 1},
                ],
                "deadline": hot["deadline"],
                "length_m": 20.0,
                "status": "open",
            },
        )
    )
    rows.append(
        (
            "task",
            "BATCH-1",
            {
                "id": "BATCH-1",
                "kind": "batch",
                "level": "P3",
                "warehouse": SITE,
                "order_ids": ["O-SLOW"],
                "lines": [
                    {"order_id": "O-SLOW", "sku": "SKU-CUP", "location": "A01-02-1", "qty": 1}
                ],
                "deadline": slow["deadline"],
                "length_m": 8.0,
                "status": "open",
            },
        )
    )
    return [{"entity": e, "id": i, "data": d} for e, i, d in rows]


def seeded_store(path: Path, device_id: str = "hh-01") -> LocalStore:
    """A device store holding the small floor as if pulled from central."""
    store = LocalStore(path, device_id, SITE)
    store.apply_changes(changes(), cursor=len(changes()), epoch="e1")
    return store


def gs1(gtin: str, lot: str = "L1", expiry: str = "270331") -> str:
    """A GS1 element string in the bracketed form: (01) GTIN, (17) expiry, (10) lot."""
    return f"(01){gtin.zfill(14)}(17){expiry}(10){lot}"
