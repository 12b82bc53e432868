"""Carton choice at the pack station (DESIGN.md §1.5).

An order fits a carton when the weight (items plus tare) is within the carton's limit,
every item fits in some orientation, and, for more than one unit, the items' volume stays
within a fill factor of the carton (boxes are never packed like a perfect puzzle).
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.models import Carton, DomainError, Sku

DEFAULT_FILL_FACTOR = 0.85


def _check(items: Sequence[tuple[Sku, int]]) -> None:
    for sku, qty in items:
        if qty < 0:
            raise DomainError(f"item {sku.sku}: quantity {qty} is negative")


def parcel_weight_g(items: Sequence[tuple[Sku, int]], carton: Carton) -> int:
    """Weight of the parcel: every unit plus the carton's tare."""
    _check(items)
    return sum(sku.weight_g * qty for sku, qty in items) + carton.tare_g


def _fits_alone(dims_mm: tuple[int, int, int], carton: Carton) -> bool:
    # Sorting both boxes' sides tests every axis-aligned rotation at once.
    return all(
        side <= inner for side, inner in zip(sorted(dims_mm), sorted(carton.inner_mm), strict=True)
    )


def fits(
    items: Sequence[tuple[Sku, int]], carton: Carton, fill_factor: float = DEFAULT_FILL_FACTOR
) -> bool:
    """Whether the items go in the carton: weight, each item's dimensions (with rotation),
    and a volume fill factor when there is more than one unit."""
    _check(items)
    if parcel_weight_g(items, carton) > carton.max_weight_g:
        return False
    present = [(sku, qty) for sku, qty in items if qty > 0]
    if not all(_fits_alone(sku.dims_mm, carton) for sku, _qty in present):
        return False
    units = sum(qty for _sku, qty in present)
    if units <= 1:
        return True
    volume = sum(sku.dims_mm[0] * sku.dims_mm[1] * sku.dims_mm[2] * qty for sku, qty in present)
    return volume <= fill_factor * carton.volume_mm3


def choose_carton(
    items: Sequence[tuple[Sku, int]],
    cartons: Sequence[Carton],
    fill_factor: float = DEFAULT_FILL_FACTOR,
) -> Carton | None:
    """The smallest carton (by volume, then cost) that fits; None when none does (split
    the order or use a pallet)."""
    for carton in sorted(cartons, key=lambda c: (c.volume_mm3, c.cost, c.id)):
        if fits(items, carton, fill_factor):
            return carton
    return None
