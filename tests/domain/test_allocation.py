"""Allocation (FEFO/FIFO, fewest bins, urgent preemption), transfers and low stock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.allocation import allocate, low_stock, propose_transfer
from domain.ledger import Movement, Reservation, StockBook
from domain.models import (
    Customer,
    DomainError,
    Level,
    Location,
    LocationKind,
    Order,
    OrderLine,
    OrderStatus,
    ShipTo,
    Sku,
    Warehouse,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
WH = "DE-FRA"


def order(oid: str, *lines: tuple[str, int], hours: float = 24) -> Order:
    return Order(
        oid,
        Customer("C1", "Ann"),
        ShipTo("Ann", "Main 1", "Berlin", "10115", "DE"),
        tuple(OrderLine(s, q) for s, q in lines),
        T0 + timedelta(hours=hours),
        T0,
    )


def stock(book: StockBook, loc: str, sku: str, qty: int, wh: str = WH, **kw: object) -> None:
    at = kw.pop("at", T0 - timedelta(days=1))
    book.apply(
        Movement(
            f"{wh}-{loc}-{sku}-{len(book.movements())}", wh, loc, sku, qty, "receipt", at, **kw
        )
    )  # type: ignore[arg-type]


def held(book: StockBook, oid: str) -> dict[tuple[str, str | None], int]:
    return {(r.location, r.lot): r.qty for r in book.reservations(oid)}


def test_fefo_takes_earliest_expiry_and_never_expired_lots() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 5, lot="OLD", expiry=date(2026, 11, 1))  # already expired
    stock(book, "A02", "S1", 5, lot="LATE", expiry=date(2027, 6, 1))
    stock(book, "A03", "S1", 2, lot="SOON", expiry=date(2027, 1, 1))
    result = allocate(order("O1", ("S1", 4)), Level.P3, book, WH)
    assert result.complete
    assert held(book, "O1") == {("A03", "SOON"): 2, ("A02", "LATE"): 2}


def test_a_later_receipt_with_earlier_expiry_goes_first() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 5, lot="L1", expiry=date(2027, 6, 1))
    allocate(order("O1", ("S1", 1)), Level.P3, book, WH)
    stock(book, "A02", "S1", 5, lot="L2", expiry=date(2027, 2, 1))
    allocate(order("O2", ("S1", 1)), Level.P3, book, WH)
    assert held(book, "O2") == {("A02", "L2"): 1}


def test_a_reservation_without_lot_still_holds_the_bin() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 3, lot="L1", expiry=date(2027, 6, 1))
    book.reserve(Reservation("OLD", WH, "A01", "S1", 2, Level.P4, lot=None, picking=True))
    result = allocate(order("O1", ("S1", 3)), Level.P3, book, WH)
    assert held(book, "O1") == {("A01", "L1"): 1}
    assert result.shortages == (OrderLine("S1", 2),)


def test_fifo_without_expiry_oldest_receipt_first() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 3, at=T0 - timedelta(days=1))
    stock(book, "A02", "S1", 3, at=T0 - timedelta(days=9))
    stock(book, "A03", "S1", 3, at=T0 - timedelta(days=5))
    allocate(order("O1", ("S1", 5)), Level.P4, book, WH)
    assert held(book, "O1") == {("A02", None): 3, ("A03", None): 2}


def test_fewest_bins_a_single_bin_covering_the_line_wins() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 2, at=T0 - timedelta(days=9))
    stock(book, "A02", "S1", 8, at=T0 - timedelta(days=1))
    allocate(order("O1", ("S1", 6)), Level.P4, book, WH)
    assert held(book, "O1") == {("A02", None): 6}


def test_reserve_bins_are_not_picked_from() -> None:
    book = StockBook()
    stock(book, "R01", "S1", 50)
    stock(book, "A01", "S1", 1)
    locations = {
        "R01": Location(WH, "R01", kind=LocationKind.RESERVE),
        "A01": Location(WH, "A01", kind=LocationKind.PICK),
    }
    result = allocate(order("O1", ("S1", 3)), Level.P3, book, WH, locations)
    assert not result.complete
    assert result.shortages == (OrderLine("S1", 2),)
    assert held(book, "O1") == {("A01", None): 1}


def test_idempotent_and_tops_up_after_stock_arrives() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 2)
    first = allocate(order("O1", ("S1", 3), ("S1", 1)), Level.P3, book, WH)
    assert first.shortages == (OrderLine("S1", 2),)
    again = allocate(order("O1", ("S1", 3), ("S1", 1)), Level.P3, book, WH)
    assert again.reservations == first.reservations
    assert book.reserved("S1", WH) == 2
    stock(book, "A02", "S1", 9)
    topped = allocate(order("O1", ("S1", 3), ("S1", 1)), Level.P3, book, WH)
    assert topped.complete and book.reserved("S1", WH) == 4


def test_picked_units_are_not_reserved_again() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 10)
    allocate(order("O1", ("S1", 3)), Level.P3, book, WH)
    book.consume("O1", WH, "A01", "S1", 2)
    result = allocate(order("O1", ("S1", 3)), Level.P3, book, WH)
    assert result.complete and book.reserved("S1", WH) == 1


def test_order_past_picking_is_not_topped_up() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 1)
    allocate(order("O1", ("S1", 3)), Level.P3, book, WH)
    stock(book, "A02", "S1", 5)
    packed = replace(order("O1", ("S1", 3)), status=OrderStatus.PACKED)
    result = allocate(packed, Level.P3, book, WH)
    assert book.reserved("S1", WH) == 1 and result.shortages == ()


def test_reallocating_at_a_new_level_relevels_reservations() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 2)
    allocate(order("O1", ("S1", 2)), Level.P4, book, WH)
    allocate(order("O1", ("S1", 2)), Level.P2, book, WH)
    assert {r.level for r in book.reservations("O1")} == {Level.P2}
    # Now equal to another P2 order: it can no longer be taken by one.
    assert allocate(order("O2", ("S1", 1)), Level.P2, book, WH).preempted == ()


def test_urgent_takes_from_standard_not_picking_only() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 4)
    allocate(order("STD", ("S1", 2)), Level.P4, book, WH)
    allocate(order("PICKING", ("S1", 2)), Level.P4, book, WH)
    book.mark_picking("PICKING")
    result = allocate(order("HOT", ("S1", 3)), Level.P1, book, WH)
    assert result.preempted == ("STD",)
    assert result.shortages == (OrderLine("S1", 1),)
    assert book.reservations("STD") == []
    assert held(book, "PICKING") == {("A01", None): 2}
    assert book.available("S1", WH) == 0


def test_urgent_never_takes_from_equal_or_higher_level() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 2)
    allocate(order("P2A", ("S1", 2)), Level.P2, book, WH)
    result = allocate(order("P2B", ("S1", 1)), Level.P2, book, WH)
    assert result.preempted == () and not result.complete
    assert held(book, "P2A") == {("A01", None): 2}


def test_standard_orders_never_preempt() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 2)
    allocate(order("P4", ("S1", 2)), Level.P4, book, WH)
    result = allocate(order("P3", ("S1", 1)), Level.P3, book, WH)
    assert result.preempted == () and result.shortages == (OrderLine("S1", 1),)


def test_least_urgent_victim_first() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 2)
    allocate(order("P3", ("S1", 1)), Level.P3, book, WH)
    allocate(order("P4", ("S1", 1)), Level.P4, book, WH)
    result = allocate(order("HOT", ("S1", 1)), Level.P1, book, WH)
    assert result.preempted == ("P4",)
    assert held(book, "P3") == {("A01", None): 1}


def test_bad_order_line_is_refused() -> None:
    with pytest.raises(DomainError, match="qty"):
        allocate(order("O1", ("S1", 0)), Level.P3, StockBook(), WH)


def per_order(book: StockBook) -> dict[str, int]:
    totals: dict[str, int] = {}
    for r in book.holds(WH, "S1"):
        totals[r.order_id] = totals.get(r.order_id, 0) + r.qty
    return totals


@settings(max_examples=50, deadline=None)
@given(
    bins=st.lists(st.integers(-3, 8), min_size=1, max_size=4),
    orders=st.lists(
        st.tuples(st.sampled_from(list(Level)), st.integers(1, 9), st.booleans()),
        min_size=1,
        max_size=6,
    ),
)
def test_never_reserves_more_than_available_plus_preempted(
    bins: list[int], orders: list[tuple[Level, int, bool]]
) -> None:
    book = StockBook()
    for n, qty in enumerate(bins):
        if qty:
            stock(book, f"A{n}", "S1", qty)
    levels: dict[str, Level] = {}
    for n, (level, qty, start_picking) in enumerate(orders):
        oid = f"O{n}"
        levels[oid] = level
        before = per_order(book)
        # Per bin: an oversold bin (negative) cannot lend to another bin's stock.
        free = sum(max(0, book.available("S1", WH, f"A{k}")) for k in range(len(bins)))
        picking_before = {r.order_id for r in book.holds(WH, "S1") if r.picking}
        result = allocate(order(oid, ("S1", qty)), level, book, WH)
        after = per_order(book)
        taken = sum(before.get(o, 0) - after.get(o, 0) for o in before)
        mine = sum(r.qty for r in result.reservations)
        assert mine <= qty
        assert mine <= free + taken
        assert mine + sum(line.qty for line in result.shortages) == qty
        for victim in result.preempted:
            assert levels[victim].rank > level.rank and victim not in picking_before
        for o in picking_before:
            assert after.get(o) == before[o]
        for pos in book.positions("S1", WH):
            assert pos.reserved <= max(pos.on_hand, 0)
        if start_picking:
            book.mark_picking(oid)


# --- transfers -------------------------------------------------------------------------


FRA = Warehouse(WH, "Frankfurt", "DE", transfer_hours={"PL-WAW": 20, "CZ-PRG": 8})
WAREHOUSES = {
    WH: FRA,
    "PL-WAW": Warehouse("PL-WAW", "Warsaw", "PL"),
    "CZ-PRG": Warehouse("CZ-PRG", "Prague", "CZ"),
}


def test_transfer_from_the_soonest_warehouse_that_has_it() -> None:
    book = StockBook()
    stock(book, "B1", "S1", 10, wh="PL-WAW")
    stock(book, "B1", "S1", 1, wh="CZ-PRG")
    stock(book, "A1", "S2", 5)
    o = order("O1", ("S1", 3), ("S2", 5))
    proposal = propose_transfer(
        o, [OrderLine("S1", 3)], FRA, WAREHOUSES, book, T0, ship_hours={WH: 24, "PL-WAW": 48}
    )
    assert proposal is not None and not proposal.move_fulfilment
    assert (proposal.from_warehouse, proposal.to_warehouse) == ("PL-WAW", WH)
    assert proposal.lines == (OrderLine("S1", 3),)
    assert proposal.eta == T0 + timedelta(hours=20)
    assert "PL-WAW" in proposal.reason and "20h00m" in proposal.reason


def test_move_fulfilment_when_the_other_warehouse_holds_everything_and_is_sooner() -> None:
    book = StockBook()
    stock(book, "B1", "S1", 10, wh="CZ-PRG")
    stock(book, "B2", "S2", 10, wh="CZ-PRG")
    stock(book, "A1", "S2", 5)
    o = order("O1", ("S1", 3), ("S2", 5), hours=30)
    proposal = propose_transfer(
        o, [OrderLine("S1", 3)], FRA, WAREHOUSES, book, T0, ship_hours={WH: 24, "CZ-PRG": 26}
    )
    assert proposal is not None and proposal.move_fulfilment
    assert (proposal.from_warehouse, proposal.to_warehouse) == (WH, "CZ-PRG")
    assert set(proposal.lines) == {OrderLine("S1", 3), OrderLine("S2", 5)}
    assert "meets the deadline" in proposal.reason


def test_transfer_wins_when_shipping_from_elsewhere_is_slower() -> None:
    book = StockBook()
    stock(book, "B1", "S1", 10, wh="CZ-PRG")
    o = order("O1", ("S1", 3))
    proposal = propose_transfer(
        o, [OrderLine("S1", 3)], FRA, WAREHOUSES, book, T0, ship_hours={WH: 24, "CZ-PRG": 72}
    )
    assert proposal is not None and not proposal.move_fulfilment
    assert proposal.from_warehouse == "CZ-PRG"


def test_partial_transfer_and_none_when_nobody_has_it() -> None:
    book = StockBook()
    stock(book, "B1", "S1", 2, wh="PL-WAW")
    stock(book, "A1", "S1", 1)
    o = order("O1", ("S1", 6))
    partial = propose_transfer(o, [OrderLine("S1", 5)], FRA, WAREHOUSES, book, T0)
    assert partial is not None and partial.lines == (OrderLine("S1", 2),)
    assert "2 of 5" in partial.reason
    assert propose_transfer(o, [OrderLine("S9", 1)], FRA, WAREHOUSES, book, T0) is None
    assert propose_transfer(o, [], FRA, WAREHOUSES, book, T0) is None


# --- low stock -------------------------------------------------------------------------


LOCS = {
    "A01": Location(WH, "A01", kind=LocationKind.PICK),
    "R01": Location(WH, "R01", kind=LocationKind.RESERVE),
}


def test_low_stock_suggests_replenishment_from_reserve() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 4)
    stock(book, "R01", "S1", 100)
    book.reserve(Reservation("O1", WH, "A01", "S1", 1, Level.P4))
    skus = {"S1": Sku("S1", "", "Cooler", reorder_point=10), "S2": Sku("S2", "", "Other")}
    (alert,) = low_stock(book, skus, WH, LOCS)
    assert alert.available == 3 and alert.reorder_point == 10
    assert alert.suggestion is not None
    assert (alert.suggestion.from_location, alert.suggestion.to_location) == ("R01", "A01")
    assert 3 + alert.suggestion.qty > 10
    assert "move" in alert.message


def test_low_stock_without_reserve_says_reorder_from_supplier() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 2)
    skus = {"S1": Sku("S1", "", "Cooler", reorder_point=5)}
    (alert,) = low_stock(book, skus, WH, LOCS)
    assert alert.suggestion is None
    assert "reorder from supplier" in alert.message


def test_no_alert_at_or_above_reorder_point() -> None:
    book = StockBook()
    stock(book, "A01", "S1", 5)
    assert low_stock(book, {"S1": Sku("S1", "", "C", reorder_point=5)}, WH, LOCS) == []
