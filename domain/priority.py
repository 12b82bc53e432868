"""The priority engine: score an order, map the score to P1..P4, say why.

Score = points for the order's static facts (paid service, customer flags and tier,
SKU categories, order tags) + points for its deadline slack (deadline - now - processing
- transit). The level follows from the score; negative slack is always P1; an active
disruption that affects the order escalates it by ``escalate_by`` levels (never beyond
P1). Less slack never lowers the level or the score.

``rerank`` handles a whole backlog: static points are computed once per order (memoised
on the order object, so re-ranking the same backlog again only pays for slack,
disruption matching and the sort) and the per-order arithmetic runs in numpy.
"""

from __future__ import annotations

import gc
import math
import operator
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime

import numpy as np

from domain.models import Disruption, DomainError, Order, Priority, Sku
from domain.priority_facts import (
    LEVELS,
    carrier_matches,
    describe_disruption,
    normal_postcode,
    order_facts,
    slack_reason,
)
from domain.priority_rules import PriorityRules

__all__ = ["PriorityRules", "affects", "evaluate", "rerank"]


def affects(
    disruption: Disruption, order: Order, carrier: str | None = None, now: datetime | None = None
) -> bool:
    """True when the disruption touches the order: every criterion it names must match
    (country, postcode prefix, carrier name or ``<carrier>-...`` service id); inactive at
    ``now`` (when given) means no."""
    if now is not None and not disruption.active(now):
        return False
    if disruption.country and order.ship_to.country.upper() != disruption.country.upper():
        return False
    if disruption.postcode_prefix and not normal_postcode(order.ship_to.postcode).startswith(
        normal_postcode(disruption.postcode_prefix)
    ):
        return False
    return not disruption.carrier or (
        carrier is not None and carrier_matches(disruption.carrier, carrier)
    )


def _check_now(now: datetime) -> float:
    if now.tzinfo is None:
        raise DomainError("now has no time zone")
    return now.timestamp()


def evaluate(
    order: Order,
    now: datetime,
    disruptions: Sequence[Disruption],
    rules: PriorityRules,
    skus: Mapping[str, Sku],
    carrier: str | None = None,
    transit_hours: float | None = None,
) -> Priority:
    """Score one order at ``now``; ``transit_hours`` defaults to the rules' default and
    ``carrier`` (name or service id) is used to match carrier disruptions."""
    now_ts = _check_now(now)
    static = order_facts(order, rules, skus)
    transit = rules.default_transit_hours if transit_hours is None else transit_hours
    if not 0 <= transit < _KEY_SPAN / 60:
        raise DomainError(f"transit_hours out of range: {transit}")
    to_deadline_s = static.deadline_ts - now_ts
    slack_h = to_deadline_s / 3600.0 - rules.default_processing_hours - transit
    bands = rules.slack_bands
    if slack_h < 0:
        slack_points = rules.overdue_points
    else:
        index = bisect_right([upper for upper, _ in bands], slack_h)
        slack_points = bands[index][1] if index < len(bands) else 0.0
    base = static.points + slack_points
    rank = 1 if slack_h < 0 else rules.level_for(base).rank
    escalate = 0
    disruption_reasons: list[str] = []
    for disruption in disruptions:
        if affects(disruption, order, carrier, now):
            escalate = max(escalate, disruption.escalate_by)
            disruption_reasons.append(describe_disruption(disruption))
    to_deadline_min = _round_min(to_deadline_s)
    overhead_min = _round_min((rules.default_processing_hours + transit) * 3600.0)
    reasons = (
        slack_reason(to_deadline_min, to_deadline_min - overhead_min),
        *static.reasons,
        *disruption_reasons,
    )
    score = base + escalate * rules.disruption_points
    return Priority(LEVELS[max(1, rank - escalate)], score, reasons)


def _round_min(seconds: float) -> int:
    return math.floor(seconds / 60.0 + 0.5)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Building 100k result tuples would trigger many full collections that walk the whole
    # backlog; nothing created here forms cycles, so collection can wait until we return.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_KEY_SPAN = 10_000_000


def _combinations(
    hits: Sequence[tuple[np.ndarray, str]], count: int
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Number each order's set of matching disruptions (0 = none) and list the reason
    tuple of each number, so per-order work is one index."""
    if not hits:
        return np.zeros(count, np.int64), [()]
    if len(hits) <= 62:
        bits = np.zeros(count, np.int64)
        for k, (mask, _) in enumerate(hits):
            bits |= mask.astype(np.int64) << k
        unique_bits, combo_of = np.unique(bits, return_inverse=True)
        rows = [[bool(b >> k & 1) for k in range(len(hits))] for b in unique_bits.tolist()]
    else:
        stacked = np.stack([mask for mask, _ in hits])
        unique_rows, combo_of = np.unique(stacked.T, axis=0, return_inverse=True)
        rows = unique_rows.tolist()
    combos = [tuple(text for (_, text), hit in zip(hits, row, strict=True) if hit) for row in rows]
    # Renumber so that "no disruption" is 0 and tests as false.
    empty = next((n for n, c in enumerate(combos) if not c), None)
    if empty is not None and empty != 0:
        swap = np.arange(len(combos))
        swap[0], swap[empty] = empty, 0
        combo_of = swap[combo_of.reshape(-1)]
        combos[0], combos[empty] = combos[empty], combos[0]
    elif empty is None:
        combo_of = combo_of.reshape(-1) + 1
        combos.insert(0, ())
    return combo_of.reshape(-1).astype(np.int64), combos


class _Backlog:
    """Column arrays for one sequence of orders, reused while the same order objects
    are re-ranked again (the common case: a disruption arrives, the clock moves on)."""

    __slots__ = (
        "_countries",
        "_postcodes",
        "deadline",
        "ids",
        "orders",
        "points",
        "rules",
        "skus",
        "statics",
    )

    def __init__(
        self, orders: Sequence[Order], rules: PriorityRules, skus: Mapping[str, Sku]
    ) -> None:
        self.orders = list(orders)
        self.rules = rules
        self.skus = skus
        self.statics = [order_facts(order, rules, skus) for order in self.orders]
        count = len(self.orders)
        self.deadline = np.fromiter((s.deadline_ts for s in self.statics), np.float64, count)
        self.points = np.fromiter((s.points for s in self.statics), np.float64, count)
        self.ids = np.array([order.id for order in self.orders])
        self._countries: np.ndarray | None = None
        self._postcodes: np.ndarray | None = None

    def matches(
        self, orders: Sequence[Order], rules: PriorityRules, skus: Mapping[str, Sku]
    ) -> bool:
        return (
            self.rules is rules
            and self.skus is skus
            and len(self.orders) == len(orders)
            and all(map(operator.is_, self.orders, orders))
        )

    @property
    def countries(self) -> np.ndarray:
        if self._countries is None:
            self._countries = np.array([s.country for s in self.statics])
        return self._countries

    @property
    def postcodes(self) -> np.ndarray:
        if self._postcodes is None:
            self._postcodes = np.array([s.postcode for s in self.statics])
        return self._postcodes


_LAST_BACKLOG: list[_Backlog] = []


def _backlog(orders: Sequence[Order], rules: PriorityRules, skus: Mapping[str, Sku]) -> _Backlog:
    if _LAST_BACKLOG and _LAST_BACKLOG[0].matches(orders, rules, skus):
        return _LAST_BACKLOG[0]
    backlog = _Backlog(orders, rules, skus)
    _LAST_BACKLOG[:] = [backlog]
    return backlog


def _mask(
    backlog: _Backlog, disruption: Disruption, carriers: Mapping[str, str] | None
) -> np.ndarray:
    count = len(backlog.orders)
    mask = np.ones(count, bool)
    if disruption.country:
        mask &= backlog.countries == disruption.country.upper()
    if disruption.postcode_prefix:
        mask &= np.char.startswith(backlog.postcodes, normal_postcode(disruption.postcode_prefix))
    if disruption.carrier:
        wanted = disruption.carrier
        lookup = carriers or {}
        names = [lookup.get(order.id) for order in backlog.orders]
        # Few distinct carriers: match each name once, then test membership per order.
        hit = {n for n in set(names) if n is not None and carrier_matches(wanted, n)}
        mask &= np.fromiter((n in hit for n in names), bool, count)
    return mask


def rerank(
    orders: Sequence[Order],
    now: datetime,
    disruptions: Sequence[Disruption],
    rules: PriorityRules,
    skus: Mapping[str, Sku],
    carriers: Mapping[str, str] | None = None,
    *,
    transit_hours: Mapping[str, float] | None = None,
) -> list[tuple[Order, Priority]]:
    """Evaluate every order (same results as ``evaluate``) and sort most urgent first:
    level, then score descending, then deadline, then order id. ``carriers`` and
    ``transit_hours`` map order id to its carrier and its transit estimate."""
    now_ts = _check_now(now)
    if not orders:
        return []
    with _gc_paused():
        return _rerank(orders, now, now_ts, disruptions, rules, skus, carriers, transit_hours)


def _rerank(
    orders: Sequence[Order],
    now: datetime,
    now_ts: float,
    disruptions: Sequence[Disruption],
    rules: PriorityRules,
    skus: Mapping[str, Sku],
    carriers: Mapping[str, str] | None,
    transit_hours: Mapping[str, float] | None,
) -> list[tuple[Order, Priority]]:
    count = len(orders)
    backlog = _backlog(orders, rules, skus)
    transit: np.ndarray | float = rules.default_transit_hours
    if transit_hours:
        default = rules.default_transit_hours
        transit = np.fromiter(
            (transit_hours.get(o.id, default) for o in backlog.orders), np.float64, count
        )
    to_deadline_s = backlog.deadline - now_ts
    slack_h = to_deadline_s / 3600.0 - rules.default_processing_hours - transit
    overdue = slack_h < 0

    uppers = np.array([upper for upper, _ in rules.slack_bands], np.float64)
    band_points = np.array([p for _, p in rules.slack_bands] + [0.0], np.float64)
    slack_points = np.where(
        overdue, rules.overdue_points, band_points[np.searchsorted(uppers, slack_h, side="right")]
    )
    base = backlog.points + slack_points
    thresholds = rules.level_thresholds
    rank = (
        4
        - (base >= thresholds["P3"]).astype(np.int64)
        - (base >= thresholds["P2"])
        - (base >= thresholds["P1"])
    )
    rank = np.where(overdue, 1, rank)

    escalate = np.zeros(count, np.int64)
    hits: list[tuple[np.ndarray, str]] = []
    for disruption in disruptions:
        if disruption.active(now):
            mask = _mask(backlog, disruption, carriers)
            escalate = np.where(mask, np.maximum(escalate, disruption.escalate_by), escalate)
            hits.append((mask, describe_disruption(disruption)))
    level_rank = np.maximum(1, rank - escalate)
    score = base + escalate * rules.disruption_points
    sequence = np.lexsort((backlog.ids, backlog.deadline, -score, level_rank))

    to_deadline_min = np.floor(to_deadline_s / 60.0 + 0.5).astype(np.int64)
    overhead = np.floor(((rules.default_processing_hours + transit) * 3600.0) / 60.0 + 0.5)
    overhead_min = np.broadcast_to(np.asarray(overhead, np.int64), (count,))
    if int(overhead_min.min()) < 0 or int(overhead_min.max()) >= _KEY_SPAN:
        raise DomainError("transit_hours out of range (0 .. 10 million minutes)")
    # One integer per distinct (minutes to deadline, overhead) pair: the slack reason text
    # is built once per pair, not once per order.
    text_keys = to_deadline_min * _KEY_SPAN + overhead_min
    combo_of, combos = _combinations(hits, count)
    statics, ordered = backlog.statics, backlog.orders
    texts: dict[int, str] = {}
    result: list[tuple[Order, Priority]] = []
    append = result.append
    for i, lv, sc, key, combo in zip(
        sequence.tolist(),
        level_rank[sequence].tolist(),
        score[sequence].tolist(),
        text_keys[sequence].tolist(),
        combo_of[sequence].tolist(),
        strict=True,
    ):
        text = texts.get(key)
        if text is None:
            minutes, over = divmod(key, _KEY_SPAN)
            text = texts[key] = slack_reason(minutes, minutes - over)
        if combo:
            reasons = (text, *statics[i].reasons, *combos[combo])
        else:
            reasons = (text, *statics[i].reasons)
        append((ordered[i], Priority(LEVELS[lv], sc, reasons)))
    return result
