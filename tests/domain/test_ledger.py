"""The stock ledger: movements, reservations and the projections over them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.ledger import Movement, Reservation, StockBook
from domain.models import DomainError, Level

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
WH = "DE-FRA"


def mv(op: str, loc: str, sku: str, delta: int, **kw: object) -> Movement:
    at = kw.pop("at", T0)
    return Movement(op, WH, loc, sku, delta, "test", at, **kw)  # type: ignore[arg-type]


def test_on_hand_is_sum_of_movements_and_repeat_op_changes_nothing() -> None:
    book = StockBook()
    book.apply(mv("op1", "A01", "S1", 10))
    book.apply(mv("op2", "A01", "S1", -3))
    assert book.apply(mv("op2", "A01", "S1", -3)) == []
    assert book.on_hand("S1", WH, "A01") == 7
    assert len(book.movements()) == 2
    assert book.seen("op2") and not book.seen("op3")


def test_pick_below_zero_is_accepted_and_reported_oversold() -> None:
    book = StockBook([mv("op1", "A01", "S1", 2)])
    found = book.apply(mv("pick1", "A01", "S1", -5))
    assert book.on_hand("S1", WH, "A01") == -3
    assert len(found) == 1
    assert found[0].kind == "oversold"
    assert (found[0].location, found[0].on_hand, found[0].op_id) == ("A01", -3, "pick1")


def test_bad_movement_is_refused_and_changes_nothing() -> None:
    book = StockBook()
    with pytest.raises(DomainError, match="op_id"):
        book.apply(mv("", "A01", "S1", 1))
    with pytest.raises(DomainError, match="integer"):
        book.apply(mv("op1", "A01", "S1", 1.5))  # type: ignore[arg-type]
    assert book.movements() == ()
    assert not book.seen("op1")


def test_totals_across_locations_and_warehouses() -> None:
    book = StockBook([mv("a", "A01", "S1", 4), mv("b", "A02", "S1", 6)])
    book.apply(Movement("c", "PL-WAW", "B01", "S1", 5, "receipt", T0))
    assert book.on_hand("S1", WH) == 10
    assert book.on_hand("S1") == 15
    assert book.on_hand("S1", location="A02") == 6
    assert book.on_hand("nope") == 0


def test_reserve_release_and_available() -> None:
    book = StockBook([mv("a", "A01", "S1", 10)])
    book.reserve(Reservation("O1", WH, "A01", "S1", 4, Level.P3))
    book.reserve(Reservation("O1", WH, "A01", "S1", 2, Level.P3))
    assert book.reserved("S1", WH) == 6
    assert book.available("S1", WH, "A01") == 4
    assert [r.qty for r in book.reservations("O1")] == [6]
    released = book.release("O1")
    assert sum(r.qty for r in released) == 6
    assert book.available("S1", WH) == 10
    assert book.reservations() == []


def test_reserve_rejects_non_positive_qty() -> None:
    book = StockBook()
    with pytest.raises(DomainError, match="qty"):
        book.reserve(Reservation("O1", WH, "A01", "S1", 0, Level.P3))
    assert book.reservations() == []


def test_mark_picking_and_set_level() -> None:
    book = StockBook([mv("a", "A01", "S1", 10)])
    book.reserve(Reservation("O1", WH, "A01", "S1", 4, Level.P4))
    book.mark_picking("O1")
    book.set_level("O1", Level.P2)
    (res,) = book.reservations("O1")
    assert res.picking and res.level == Level.P2
    assert book.holds(WH, "S1") == [res]


def test_consume_reduces_the_reservation_there_first_then_elsewhere() -> None:
    book = StockBook([mv("a", "A01", "S1", 10), mv("b", "A02", "S1", 10)])
    book.reserve(Reservation("O1", WH, "A01", "S1", 3, Level.P3))
    book.reserve(Reservation("O1", WH, "A02", "S1", 3, Level.P3))
    book.consume("O1", WH, "A02", "S1", 2)
    assert {(r.location, r.qty) for r in book.reservations("O1")} == {("A01", 3), ("A02", 1)}
    # Picked from an unreserved bin: the order's claim elsewhere shrinks.
    book.consume("O1", WH, "A09", "S1", 3)
    assert book.reserved("S1", WH) == 1
    assert book.picked("O1", WH, "S1") == 5
    assert book.picked("O2", WH, "S1") == 0


def test_positions_per_location_and_lot_with_expiry_and_fifo_age() -> None:
    book = StockBook(
        [
            mv("a", "A01", "S1", 5, lot="L1", expiry=date(2027, 1, 1)),
            mv("b", "A01", "S1", 3, lot="L2", expiry=date(2026, 12, 1), at=T0 + timedelta(1)),
            mv("c", "A02", "S1", 2),
        ]
    )
    positions = book.positions("S1", WH)
    assert [(p.location, p.lot, p.on_hand) for p in positions] == [
        ("A01", "L1", 5),
        ("A01", "L2", 3),
        ("A02", None, 2),
    ]
    assert positions[1].expiry == date(2026, 12, 1)
    assert positions[1].first_received == T0 + timedelta(1)


def test_pick_without_lot_takes_earliest_expiry_lot_first() -> None:
    book = StockBook(
        [
            mv("a", "A01", "S1", 5, lot="L1", expiry=date(2027, 1, 1)),
            mv("b", "A01", "S1", 3, lot="L2", expiry=date(2026, 12, 1)),
        ]
    )
    book.apply(mv("pick", "A01", "S1", -4))
    by_lot = {p.lot: p.on_hand for p in book.positions("S1", WH)}
    assert by_lot == {"L1": 4, "L2": 0}


def test_refilled_empty_bin_starts_a_new_fifo_age() -> None:
    book = StockBook([mv("a", "A01", "S1", 2)])
    book.apply(mv("b", "A01", "S1", -2))
    later = T0 + timedelta(days=3)
    book.apply(mv("c", "A01", "S1", 5, at=later))
    assert book.positions("S1", WH)[0].first_received == later


_ops = st.lists(
    st.tuples(
        st.sampled_from(["op1", "op2", "op3", "op4", "op5", "op6"]),
        st.sampled_from(["A01", "A02"]),
        st.sampled_from([None, "L1"]),
        st.integers(-20, 20),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(_ops, st.lists(st.integers(1, 5), max_size=3))
def test_projection_invariant(
    ops: list[tuple[str, str, str | None, int]], holds: list[int]
) -> None:
    """on_hand == sum of deltas of distinct ops, whatever repeats; available = on_hand - reserved."""
    book = StockBook()
    first: dict[str, int] = {}
    per_loc: dict[str, int] = {}
    for op, loc, lot, delta in ops:
        book.apply(mv(op, loc, "S1", delta, lot=lot))
        if op not in first:
            first[op] = delta
            per_loc[loc] = per_loc.get(loc, 0) + delta
    for n, qty in enumerate(holds):
        book.reserve(Reservation(f"O{n}", WH, "A01", "S1", qty, Level.P4))
    assert book.on_hand("S1", WH) == sum(first.values())
    for loc in ("A01", "A02"):
        assert book.on_hand("S1", WH, loc) == per_loc.get(loc, 0)
        assert book.available("S1", WH, loc) == book.on_hand("S1", WH, loc) - book.reserved(
            "S1", WH, loc
        )
    assert book.reserved("S1", WH) == sum(holds)
    assert sum(p.on_hand for p in book.positions("S1", WH)) == book.on_hand("S1", WH)
