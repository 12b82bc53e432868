"""The demo floor's shelves: what is physically in the bins, which a few pick bins get
wrong at the start of the shift (phantom stock)."""

from __future__ import annotations

from typing import Any

from rushline.demo.shelves import Phantom, Shelves

SITE = "DE-FRA"


def _md() -> dict[str, Any]:
    def loc(code: str, kind: str, site: str = SITE) -> dict[str, Any]:
        return {"warehouse": site, "code": code, "kind": kind}

    def row(code: str, sku: str, qty: int, site: str = SITE, lot: str = "") -> dict[str, Any]:
        return {"warehouse": site, "location": code, "sku": sku, "qty": qty, "lot": lot}

    return {
        "locations": [loc("P1", "pick"), loc("P2", "pick"), loc("R1", "reserve")],
        "skus": [{"sku": s, "reorder_point": 5} for s in ("A", "B", "C", "D")],
        "stock": [
            row("P1", "A", 20, lot="L1"),
            row("P1", "A", 4, lot="L2"),  # two lots of one bin count together
            row("R1", "A", 30),
            row("P1", "B", 9),
            row("P2", "B", 9),  # two pick bins: a short there has somewhere to go
            row("R1", "B", 30),
            row("P2", "C", 12),  # no reserve stock: nothing could refill it
            row("P2", "D", 8),
            row("R1", "D", 10),
            row("P1", "A", 99, site="PL-WAW"),
        ],
    }


def test_phantom_bins_hold_one_unit_of_skus_a_refill_can_follow() -> None:
    md = _md()
    shelves = Shelves(md, SITE)
    assert shelves.units("P1", "A") == 24
    made = shelves.make_phantoms(md, SITE, skip={"D"})
    assert made == [Phantom("P1", "A", 24, 1)]
    assert shelves.units("P1", "A") == 1 and shelves.units("P2", "D") == 8
    assert md["stock"][0]["qty"] == 20  # the system's master data is left as it was


def test_hands_take_what_is_there_and_a_short_bin_waits_for_one_count() -> None:
    shelves = Shelves(_md(), SITE)
    assert shelves.take("P2", "C", 5) == 5
    assert shelves.take("P2", "C", 10) == 7  # all that is left
    assert shelves.take("P2", "C", 1) == 0
    shelves.put("P2", "C", 3)
    assert shelves.units("P2", "C") == 3
    assert shelves.next_count() is None
    shelves.ask_count("P2", "C")
    shelves.ask_count("P1", "B")
    shelves.ask_count("P2", "C")  # asked twice, counted once
    assert [shelves.next_count(), shelves.next_count(), shelves.next_count()] == [
        ("P2", "C"),
        ("P1", "B"),
        None,
    ]
