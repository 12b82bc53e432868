"""The demo's replenisher: which pick bins it refills from which reserve bins, and the
shift that starts with some pick faces low."""

from __future__ import annotations

from typing import Any

from rushline.demo.replenisher import Refill, refills, start_some_pick_faces_low

SITE = "DE-FRA"


def _loc(code: str, kind: str, site: str = SITE) -> dict[str, Any]:
    return {"warehouse": site, "code": code, "kind": kind}


def _stock(code: str, sku: str, available: int, lots: list[dict[str, Any]] | None = None):
    return {
        "warehouse": SITE,
        "location": code,
        "sku": sku,
        "on_hand": available,
        "available": available,
        "lots": lots or [],
    }


def test_refills_top_up_the_emptiest_pick_bin_from_the_fullest_reserve_bin() -> None:
    rows = {
        "sku": [
            {"sku": "A", "gtin": "4006381333931", "reorder_point": 10},
            {"sku": "B", "gtin": "5901234123457", "reorder_point": 5},  # enough in pick
            {"sku": "C", "gtin": "4012345000009", "reorder_point": 8},  # no reserve stock
        ],
        "location": [
            _loc("P1", "pick"),
            _loc("P2", "pick"),
            _loc("R1", "reserve"),
            _loc("R2", "reserve"),
            _loc("X1", "pick", site="PL-WAW"),
        ],
        "stock": [
            _stock("P1", "A", 3),
            _stock("P2", "A", 1),
            _stock("R1", "A", 6),
            _stock("R2", "A", 40, lots=[{"lot": "L1", "qty": 30}, {"lot": "L2", "qty": 10}]),
            _stock("P1", "B", 9),
            _stock("R1", "B", 50),
            _stock("P2", "C", 0),
        ],
    }
    # 4 free in pick bins against 10: up to 2 x 10 - 4 = 16, from R2's bigger lot.
    assert refills(rows, SITE) == [Refill("A", "4006381333931", "R2", "P2", 16, "L1", None)]
    # Another site's bins are not this worker's.
    assert refills(rows, "PL-WAW") == []


def test_a_shift_starts_with_some_pick_faces_low() -> None:
    md: dict[str, Any] = {
        "locations": [_loc("P1", "pick"), _loc("R1", "reserve"), _loc("W1", "pick", "PL-WAW")],
        "skus": [
            {"sku": "A", "reorder_point": 10},
            {"sku": "B", "reorder_point": 6},
            {"sku": "C", "reorder_point": 6},  # no reserve stock: left as it is
        ],
        "stock": [
            {"warehouse": SITE, "location": "P1", "sku": "A", "qty": 80},
            {"warehouse": SITE, "location": "R1", "sku": "A", "qty": 200},
            {"warehouse": SITE, "location": "P1", "sku": "B", "qty": 50},
            {"warehouse": SITE, "location": "R1", "sku": "B", "qty": 90},
            {"warehouse": SITE, "location": "P1", "sku": "C", "qty": 30},
            {"warehouse": "PL-WAW", "location": "W1", "sku": "A", "qty": 70},
        ],
    }
    assert start_some_pick_faces_low(md, SITE, count=1) == ["A"]
    assert [r["qty"] for r in md["stock"]] == [5, 200, 50, 90, 30, 70]
