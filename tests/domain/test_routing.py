"""Pick routing: aisle-aware distance, S-shape baseline, optimised route, task building."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import Customer, DomainError, Level, Location, Order, OrderLine, ShipTo
from domain.routing import (
    Layout,
    PickLine,
    build_tasks,
    optimised_route,
    route_length,
    s_shape_route,
    walk_distance,
)

LAYOUT = Layout(aisle_length_m=30.0)
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(x: float, y: float, code: str = "") -> Location:
    return Location("WH", code or f"{x}-{y}", x=x, y=y)


def line(x: float, y: float, order_id: str = "O1", sku: str = "S") -> PickLine:
    return PickLine(order_id, sku, at(x, y), 1)


def test_same_aisle_walks_along_it() -> None:
    assert walk_distance(at(3, 5), at(3, 20), LAYOUT) == 15


def test_other_aisle_goes_via_the_nearer_cross_aisle() -> None:
    # Near the front: 6 across + (5 + 4) via y = 0.
    assert walk_distance(at(3, 5), at(9, 4), LAYOUT) == 6 + 9
    # Near the back: 6 across + (2 + 3) via y = 30.
    assert walk_distance((3.0, 28.0), (9.0, 27.0), LAYOUT) == 6 + 5


def test_coordinates_derived_from_aisle_and_bay_when_missing() -> None:
    a = Location("WH", "A02-05", aisle=2, bay=5)
    b = Location("WH", "A02-10", aisle=2, bay=10)
    assert walk_distance(a, b, LAYOUT) == pytest.approx(6.0)


def test_route_length_includes_the_walk_back_to_the_depot() -> None:
    assert route_length([line(0, 10)], LAYOUT) == 20
    assert route_length([], LAYOUT) == 0


def test_s_shape_alternates_direction_per_aisle() -> None:
    lines = [line(3, 20), line(3, 5), line(6, 5), line(6, 25), line(9, 1)]
    order = [(ln.location.x, ln.location.y) for ln in s_shape_route(lines, LAYOUT)]
    assert order == [(3, 5), (3, 20), (6, 25), (6, 5), (9, 1)]


def test_optimised_beats_s_shape_on_a_clear_case() -> None:
    # Picks only near the front of far-apart aisles: S-shape walks every aisle end to end
    # in its order, the optimised route stays at the front.
    lines = [line(3, 1), line(6, 29), line(9, 1), line(12, 29)]
    optimised = optimised_route(lines, LAYOUT)
    assert route_length(optimised, LAYOUT) < route_length(s_shape_route(lines, LAYOUT), LAYOUT)


def test_lines_at_one_bin_stay_together() -> None:
    lines = [line(3, 5, "O1"), line(9, 5, "O2"), line(3, 5, "O3"), line(6, 5, "O4")]
    route = optimised_route(lines, LAYOUT)
    bins = [(ln.location.x, ln.location.y) for ln in route]
    first = bins.index((3, 5))
    assert bins[first + 1] == (3, 5)


_points = st.lists(
    st.tuples(st.integers(0, 12), st.floats(0, 30, allow_nan=False)), min_size=0, max_size=25
)


@settings(max_examples=80, deadline=None)
@given(_points)
def test_optimised_never_longer_and_visits_every_line_once(points: list[tuple[int, float]]) -> None:
    lines = [line(aisle * 3.0, y, sku=f"S{n}") for n, (aisle, y) in enumerate(points)]
    optimised = optimised_route(lines, LAYOUT)
    baseline = s_shape_route(lines, LAYOUT)
    assert sorted(map(id, optimised)) == sorted(map(id, lines))
    assert sorted(map(id, baseline)) == sorted(map(id, lines))
    assert route_length(optimised, LAYOUT) <= route_length(baseline, LAYOUT) + 1e-9


def order(oid: str, hours: float) -> Order:
    return Order(
        oid,
        Customer("C", "C"),
        ShipTo("C", "L", "City", "1", "DE"),
        (OrderLine("S", 1),),
        T0 + timedelta(hours=hours),
        T0,
    )


def test_build_tasks_hot_first_then_batches_by_level_and_deadline() -> None:
    entries = [
        (order("S1", 30), Level.P4, [line(3, 5, "S1")]),
        (order("S2", 10), Level.P4, [line(6, 5, "S2")]),
        (order("S3", 20), Level.P4, [line(9, 5, "S3")]),
        (order("E1", 40), Level.P3, [line(12, 5, "E1")]),
        (order("U2", 5), Level.P2, [line(3, 9, "U2"), line(15, 2, "U2")]),
        (order("U1", 8), Level.P1, [line(6, 9, "U1")]),
        (order("EMPTY", 1), Level.P1, []),
    ]
    tasks = build_tasks(entries, LAYOUT, batch_size=2)
    assert [t.id for t in tasks] == ["HOT-U1", "HOT-U2", "BAT-E1-1", "BAT-S2-2", "BAT-S1-1"]
    assert [t.kind for t in tasks] == ["hot", "hot", "batch", "batch", "batch"]
    assert tasks[3].order_ids == ("S2", "S3")
    assert tasks[3].deadline == T0 + timedelta(hours=10)
    assert tasks[1].length_m == pytest.approx(route_length(tasks[1].lines, LAYOUT))
    assert len(tasks[1].lines) == 2


def test_build_tasks_rejects_bad_batch_size() -> None:
    with pytest.raises(DomainError, match="batch_size"):
        build_tasks([], LAYOUT, batch_size=0)
