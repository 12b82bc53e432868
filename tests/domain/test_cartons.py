"""Carton choice: weight, dimensions with rotation, fill factor, smallest first."""

from __future__ import annotations

import pytest

from domain.cartons import choose_carton, fits, parcel_weight_g
from domain.models import Carton, DomainError, Sku

SMALL = Carton("S", (200, 150, 100), max_weight_g=2000, tare_g=100, cost=0.5)
MEDIUM = Carton("M", (300, 250, 150), max_weight_g=5000, tare_g=200, cost=0.8)
CHEAP_MEDIUM = Carton("M2", (250, 300, 150), max_weight_g=5000, tare_g=200, cost=0.6)
LARGE = Carton("L", (600, 400, 400), max_weight_g=20000, tare_g=600, cost=2.0)

BAG = Sku("BAG", "", "Cooler bag", weight_g=450, dims_mm=(220, 140, 90))
PEN = Sku("PEN", "", "Pen", weight_g=20, dims_mm=(140, 15, 15))
ROD = Sku("ROD", "", "Rod", weight_g=300, dims_mm=(700, 20, 20))


def test_single_item_fits_when_rotated() -> None:
    # 220 mm does not fit the small carton's 200 mm side in any orientation...
    assert not fits([(BAG, 1)], SMALL)
    # ...but the medium one takes it turned.
    assert fits([(Sku("B", "", "b", dims_mm=(140, 280, 90)), 1)], MEDIUM)


def test_item_too_long_for_every_carton() -> None:
    assert choose_carton([(ROD, 1)], [SMALL, MEDIUM, LARGE]) is None


def test_weight_counts_items_and_tare() -> None:
    assert parcel_weight_g([(BAG, 2), (PEN, 3)], MEDIUM) == 900 + 60 + 200
    heavy = Sku("H", "", "h", weight_g=1901, dims_mm=(10, 10, 10))
    assert not fits([(heavy, 1)], SMALL)  # 1901 + 100 tare > 2000
    assert fits([(Sku("H2", "", "h", weight_g=1900, dims_mm=(10, 10, 10)), 1)], SMALL)


def test_fill_factor_applies_to_multi_item_orders() -> None:
    block = Sku("BLK", "", "block", weight_g=10, dims_mm=(100, 100, 100))
    # Two blocks = 2,000,000 mm3 of a 3,000,000 mm3 carton: within 85 %.
    assert fits([(block, 2)], Carton("C", (300, 100, 100), 9999))
    # Three fill it to 100 %: refused even though they would line up exactly.
    assert not fits([(block, 3)], Carton("C", (300, 100, 100), 9999))
    # A single item may fill its carton completely.
    assert fits([(block, 1)], Carton("C", (100, 100, 100), 9999))


def test_choose_smallest_then_cheapest() -> None:
    assert choose_carton([(PEN, 1)], [LARGE, MEDIUM, SMALL]) == SMALL
    assert choose_carton([(BAG, 1)], [LARGE, MEDIUM, CHEAP_MEDIUM]) == CHEAP_MEDIUM
    assert choose_carton([(BAG, 6)], [SMALL, MEDIUM, LARGE]) == LARGE


def test_negative_quantity_is_refused() -> None:
    with pytest.raises(DomainError, match="negative"):
        fits([(PEN, -1)], SMALL)
