"""Pick routing through a single-block warehouse and pick task building (DESIGN.md §1.3).

Aisles run along y between a front cross-aisle (y = 0, where the depot is) and a back
cross-aisle (y = ``aisle_length_m``); x runs across aisles. The optimised route is nearest
neighbour plus 2-opt on aisle-aware walking distances, and never longer than the S-shape
(traversal) route, which it falls back to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.models import DomainError, Level, Location, Order, location_walk_xy

_SAME_AISLE_M = 1e-6
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Layout:
    """The block's geometry: aisle length and where the picker starts and ends."""

    aisle_length_m: float = 30.0
    depot: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class PickLine:
    """Take ``qty`` of ``sku`` from ``location`` for ``order_id``."""

    order_id: str
    sku: str
    location: Location
    qty: int


@dataclass(frozen=True, slots=True)
class PickTask:
    """A routed unit of picking work: one urgent order ("hot") or a batch of others."""

    id: str
    kind: str
    level: Level
    order_ids: tuple[str, ...]
    lines: tuple[PickLine, ...]
    deadline: datetime
    length_m: float


def location_xy(location: Location) -> tuple[float, float]:
    """Walking coordinates of a bin, derived from aisle and bay when none are given."""
    if location.x == 0.0 and location.y == 0.0:
        return location_walk_xy(location.aisle, location.bay)
    return location.x, location.y


def _xy(point: Location | tuple[float, float]) -> tuple[float, float]:
    return location_xy(point) if isinstance(point, Location) else point


def _distance(ax: float, ay: float, bx: float, by: float, length: float) -> float:
    if abs(ax - bx) < _SAME_AISLE_M:
        return abs(ay - by)
    via_front = ay + by
    via_back = abs(length - ay) + abs(length - by)
    return abs(ax - bx) + min(via_front, via_back)


def walk_distance(
    a: Location | tuple[float, float], b: Location | tuple[float, float], layout: Layout
) -> float:
    """Metres walked between two points: along the aisle when in the same one, otherwise
    across through the nearer of the front and back cross-aisles."""
    ax, ay = _xy(a)
    bx, by = _xy(b)
    return _distance(ax, ay, bx, by, layout.aisle_length_m)


def route_length(lines: Sequence[PickLine], layout: Layout) -> float:
    """Depot, then every line in the given order, then back to the depot."""
    points = [layout.depot, *(location_xy(line.location) for line in lines), layout.depot]
    length = layout.aisle_length_m
    return sum(_distance(*points[i], *points[i + 1], length) for i in range(len(points) - 1))


def s_shape_route(lines: Sequence[PickLine], layout: Layout) -> list[PickLine]:
    """Traversal baseline: aisles left to right, up the first, down the next, and so on."""
    aisles: dict[float, list[tuple[float, int, PickLine]]] = {}
    for index, line in enumerate(lines):
        x, y = location_xy(line.location)
        aisles.setdefault(round(x, 6), []).append((y, index, line))
    route: list[PickLine] = []
    for n, x in enumerate(sorted(aisles)):
        stops = sorted(aisles[x], key=lambda s: (s[0], s[1]))
        if n % 2 == 1:
            stops.sort(key=lambda s: (-s[0], s[1]))
        route.extend(stop[2] for stop in stops)
    return route


def _two_opt(tour: list[int], dist: list[list[float]]) -> None:
    """Improve a closed tour in place (tour[0] and tour[-1] are the depot)."""
    n = len(tour)
    improved = True
    rounds = 0
    while improved and rounds < 50:  # bounded: converges in a few rounds in practice
        improved = False
        rounds += 1
        for i in range(n - 3):
            a = tour[i]
            b = tour[i + 1]
            row_a = dist[a]
            row_b = dist[b]
            d_ab = row_a[b]
            for j in range(i + 2, n - 1):
                c = tour[j]
                d = tour[j + 1]
                delta = row_a[c] + row_b[d] - d_ab - dist[c][d]
                if delta < -_EPS:
                    tour[i + 1 : j + 1] = tour[j:i:-1]
                    b = tour[i + 1]
                    row_b = dist[b]
                    d_ab = row_a[b]
                    improved = True


def _or_opt(tour: list[int], dist: list[list[float]]) -> bool:
    """Move single stops to a better place; True when something moved."""
    moved = False
    n = len(tour)
    for i in range(1, n - 1):
        p, s, q = tour[i - 1], tour[i], tour[i + 1]
        gain = dist[p][s] + dist[s][q] - dist[p][q]
        best_j, best_cost = -1, gain - _EPS
        for j in range(n - 1):
            if j in (i - 1, i):
                continue
            u, v = tour[j], tour[j + 1]
            cost = dist[u][s] + dist[s][v] - dist[u][v]
            if cost < best_cost:
                best_j, best_cost = j, cost
        if best_j >= 0:
            stop = tour.pop(i)
            tour.insert(best_j + 1 if best_j < i else best_j, stop)
            moved = True
    return moved


def optimised_route(lines: Sequence[PickLine], layout: Layout) -> list[PickLine]:
    """Nearest neighbour then 2-opt and or-opt over distinct stops; returns the S-shape
    order when that is not longer."""
    baseline = s_shape_route(lines, layout)
    if len(lines) <= 2:
        return baseline
    stops: dict[tuple[float, float], list[PickLine]] = {}
    for line in baseline:
        x, y = location_xy(line.location)
        stops.setdefault((round(x, 6), round(y, 6)), []).append(line)
    points = [layout.depot, *stops]
    length = layout.aisle_length_m
    dist = [[_distance(ax, ay, bx, by, length) for bx, by in points] for ax, ay in points]
    index_of = {point: k for k, point in enumerate(points)}
    seeded = [0]
    for line in baseline:
        x, y = location_xy(line.location)
        k = index_of[(round(x, 6), round(y, 6))]
        if seeded[-1] != k:
            seeded.append(k)
    seeded.append(0)
    # Two starts (nearest neighbour and the S-shape itself); keep the shorter result.
    tour = min(
        (_improve(start, dist) for start in (_nearest_neighbour(dist), seeded)),
        key=lambda t: _tour_length(t, dist),
    )
    groups = list(stops.values())
    route = [line for index in tour[1:-1] for line in groups[index - 1]]
    if route_length(route, layout) < route_length(baseline, layout) - _EPS:
        return route
    return baseline


def _improve(tour: list[int], dist: list[list[float]]) -> list[int]:
    """2-opt, then alternate or-opt and 2-opt until neither helps (bounded)."""
    if len(set(tour)) != len(tour) - 1:
        return tour  # a stop visited twice (cannot happen for distinct points); keep as is
    _two_opt(tour, dist)
    for _ in range(10):  # each pass only ever shortens the tour
        if not _or_opt(tour, dist):
            break
        _two_opt(tour, dist)
    return tour


def _tour_length(tour: list[int], dist: list[list[float]]) -> float:
    return sum(dist[tour[i]][tour[i + 1]] for i in range(len(tour) - 1))


def _nearest_neighbour(dist: list[list[float]]) -> list[int]:
    n = len(dist)
    unvisited = set(range(1, n))
    tour = [0]
    current = 0
    while unvisited:
        row = dist[current]
        current = min(unvisited, key=lambda k: (row[k], k))
        unvisited.remove(current)
        tour.append(current)
    tour.append(0)
    return tour


def build_tasks(
    orders: Sequence[tuple[Order, Level, Sequence[PickLine]]],
    layout: Layout,
    batch_size: int = 8,
) -> list[PickTask]:
    """P1/P2 orders become single-order hot tasks, released first; the others are batched
    by level then deadline, ``batch_size`` orders at most. Every task is routed."""
    if batch_size < 1:
        raise DomainError(f"batch_size must be at least 1, got {batch_size}")
    ranked = sorted(
        (entry for entry in orders if entry[2]),
        key=lambda e: (e[1].rank, e[0].deadline.timestamp(), e[0].id),
    )
    tasks: list[PickTask] = []
    batch: list[tuple[Order, Level, Sequence[PickLine]]] = []

    def close_batch() -> None:
        if batch:
            first, level = batch[0][0], batch[0][1]
            lines = [line for entry in batch for line in entry[2]]
            tasks.append(
                _task(
                    f"BAT-{first.id}-{len(batch)}",
                    "batch",
                    level,
                    tuple(entry[0].id for entry in batch),
                    lines,
                    min(entry[0].deadline for entry in batch),
                    layout,
                )
            )
            batch.clear()

    for order, level, lines in ranked:
        if level.is_urgent:
            tasks.append(
                _task(f"HOT-{order.id}", "hot", level, (order.id,), lines, order.deadline, layout)
            )
            continue
        if batch and (batch[0][1] != level or len(batch) >= batch_size):
            close_batch()
        batch.append((order, level, lines))
    close_batch()
    return tasks


def _task(
    task_id: str,
    kind: str,
    level: Level,
    order_ids: tuple[str, ...],
    lines: Sequence[PickLine],
    deadline: datetime,
    layout: Layout,
) -> PickTask:
    route = optimised_route(lines, layout)
    return PickTask(
        task_id, kind, level, order_ids, tuple(route), deadline, route_length(route, layout)
    )
