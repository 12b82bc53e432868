"""An order's totes: the current one and every earlier one."""

from __future__ import annotations

from typing import Any

from domain.totes import put_in_tote, totes_of


def test_put_in_tote_keeps_earlier_totes_once_each_oldest_first() -> None:
    order: dict[str, Any] = {"id": "O1", "tote": None}
    put_in_tote(order, "TOTE-1")
    put_in_tote(order, "TOTE-1")  # a second pick into the same tote
    put_in_tote(order, "TOTE-2")
    put_in_tote(order, "TOTE-1")  # back in the first one
    assert (order["tote"], order["totes"]) == ("TOTE-1", ["TOTE-1", "TOTE-2"])
    assert totes_of(order) == ["TOTE-1", "TOTE-2"]


def test_an_order_without_a_tote_list_has_its_current_tote() -> None:
    assert totes_of({"tote": "TOTE-5"}) == ["TOTE-5"]
    assert totes_of({"tote": None}) == []
    assert totes_of({"tote": "TOTE-6", "totes": ["TOTE-5"]}) == ["TOTE-5", "TOTE-6"]
