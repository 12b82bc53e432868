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

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from domain.models import Disruption, DomainError, Level, Order, Priority, Sku
from domain.priority_rules import PriorityRules

__all__ = ["PriorityRules", "affects", "evaluate", "rerank"]

_LEVELS = (Level.P1, Level.P1, Level.P2, Level.P3, Level.P4)  # index by rank


class _Static:
    """What does not change between re-ranks: points, reasons and matching keys."""

    __slots__ = ("country", "deadline_ts", "points", "postcode", "reasons")

    def __init__(self, order: Order, rules: PriorityRules, skus: Mapping[str, Sku]) -> None:
        points = 0.0
        reasons: list[str] = []
        if order.service:
            service_points = rules.service_points.get(order.service.lower(), 0.0)
            points += service_points
            if service_points:
                reasons.append(f"paid service: {order.service}")
        tier_points = rules.tier_points.get(order.customer.tier, 0.0)
        points += tier_points
        if tier_points:
            reasons.append(f"customer tier: {order.customer.tier}")
        for flag in sorted(order.customer.flags):
            flag_points = rules.flag_points.get(flag, 0.0)
            points += flag_points
            if flag_points:
                reasons.append(f"customer flag: {flag}")
        for name, category_points in sorted(rules.category_points.items()):
            hits = sorted(
                {
                    line.sku
                    for line in order.lines
                    if (sku := skus.get(line.sku)) is not None
                    and (sku.category == name or name in sku.flags)
                }
            )
            if hits:
                points += category_points
                if category_points:
                    reasons.append(f"{name}: {', '.join(hits)}")
        for tag in sorted(order.tags):
            tag_points = rules.tag_points.get(tag, 0.0)
            points += tag_points
            if tag_points:
                reasons.append(f"order tag: {tag}")
        self.points = points
        self.reasons = tuple(reasons)
        self.deadline_ts = order.deadline.timestamp()
        self.country = order.ship_to.country.upper()
        self.postcode = _postcode(order.ship_to.postcode)


_CACHE: dict[str, tuple[Order, PriorityRules, Mapping[str, Sku], _Static]] = {}
_CACHE_LIMIT = 1_000_000


def _static(order: Order, rules: PriorityRules, skus: Mapping[str, Sku]) -> _Static:
    # Memoised by order id, valid only for the very same order, rules and SKU objects:
    # a changed order is a new object, so a stale entry is never used.
    hit = _CACHE.get(order.id)
    if hit is not None and hit[0] is order and hit[1] is rules and hit[2] is skus:
        return hit[3]
    static = _Static(order, rules, skus)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[order.id] = (order, rules, skus, static)
    return static


def _postcode(value: str) -> str:
    return value.replace(" ", "").upper()


def _carrier_matches(wanted: str, carrier: str) -> bool:
    wanted, carrier = wanted.lower(), carrier.lower()
    return carrier == wanted or carrier.startswith(wanted + "-")


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
    if disruption.postcode_prefix and not _postcode(order.ship_to.postcode).startswith(
        _postcode(disruption.postcode_prefix)
    ):
        return False
    return not disruption.carrier or (
        carrier is not None and _carrier_matches(disruption.carrier, carrier)
    )


def _describe(disruption: Disruption) -> str:
    where: list[str] = []
    if disruption.country:
        region = disruption.country.upper()
        if disruption.postcode_prefix:
            region += f" {disruption.postcode_prefix}*"
        where.append(region)
    if disruption.carrier:
        where.append(f"carrier {disruption.carrier}")
    scope = ", ".join([disruption.kind, *where])
    levels = max(disruption.escalate_by, 0)
    return f"disruption {disruption.id} ({scope}): +{levels} level{'s' if levels != 1 else ''}"


_DURATIONS: dict[int, str] = {}


def _duration(minutes: int) -> str:
    text = _DURATIONS.get(minutes)
    if text is None:
        hours, mins = divmod(abs(minutes), 60)
        text = f"{hours}h{mins:02d}m" if hours else f"{mins}m"
        if len(_DURATIONS) < 100_000:
            _DURATIONS[minutes] = text
    return text


def _slack_reason(to_deadline_min: int, slack_min: int) -> str:
    if to_deadline_min <= 0:
        return (
            f"deadline passed {_duration(to_deadline_min)} ago "
            f"({_duration(slack_min)} short after processing and transit)"
        )
    if slack_min < 0:
        return (
            f"deadline in {_duration(to_deadline_min)}, "
            f"{_duration(slack_min)} short after processing and transit"
        )
    return (
        f"deadline in {_duration(to_deadline_min)} "
        f"(slack {_duration(slack_min)} after processing and transit)"
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
    static = _static(order, rules, skus)
    transit = rules.default_transit_hours if transit_hours is None else transit_hours
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
            disruption_reasons.append(_describe(disruption))
    reasons = (
        _slack_reason(_round_min(to_deadline_s), _round_min(slack_h * 60.0 * 60.0)),
        *static.reasons,
        *disruption_reasons,
    )
    score = base + escalate * rules.disruption_points
    return Priority(_LEVELS[max(1, rank - escalate)], score, reasons)


def _round_min(seconds: float) -> int:
    return math.floor(seconds / 60.0 + 0.5)


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
    count = len(orders)
    if count == 0:
        return []
    statics = [_static(order, rules, skus) for order in orders]
    deadline = np.fromiter((s.deadline_ts for s in statics), np.float64, count)
    static_points = np.fromiter((s.points for s in statics), np.float64, count)
    if transit_hours:
        default = rules.default_transit_hours
        transit: np.ndarray | float = np.fromiter(
            (transit_hours.get(o.id, default) for o in orders), np.float64, count
        )
    else:
        transit = rules.default_transit_hours
    to_deadline_s = deadline - now_ts
    slack_h = to_deadline_s / 3600.0 - rules.default_processing_hours - transit
    overdue = slack_h < 0

    uppers = np.array([upper for upper, _ in rules.slack_bands], np.float64)
    band_points = np.array([p for _, p in rules.slack_bands] + [0.0], np.float64)
    slack_points = np.where(
        overdue, rules.overdue_points, band_points[np.searchsorted(uppers, slack_h, side="right")]
    )
    base = static_points + slack_points
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
    active = [d for d in disruptions if d.active(now)]
    if active:
        countries = np.array([s.country for s in statics])
        postcodes = np.array([s.postcode for s in statics])
        carrier_ids = np.array([(carriers or {}).get(o.id, "").lower() for o in orders])
        for disruption in active:
            mask = np.ones(count, bool)
            if disruption.country:
                mask &= countries == disruption.country.upper()
            if disruption.postcode_prefix:
                mask &= np.char.startswith(postcodes, _postcode(disruption.postcode_prefix))
            if disruption.carrier:
                wanted = disruption.carrier.lower()
                mask &= (carrier_ids == wanted) | np.char.startswith(carrier_ids, wanted + "-")
            escalate = np.where(mask, np.maximum(escalate, disruption.escalate_by), escalate)
            hits.append((mask, _describe(disruption)))
    level_rank = np.maximum(1, rank - escalate)
    score = base + escalate * rules.disruption_points

    ids = np.array([o.id for o in orders])
    order_index = np.lexsort((ids, deadline, -score, level_rank))

    to_deadline_min = np.floor(to_deadline_s / 60.0 + 0.5).astype(np.int64).tolist()
    slack_min = np.floor((slack_h * 60.0 * 60.0) / 60.0 + 0.5).astype(np.int64).tolist()
    levels = level_rank.tolist()
    scores = score.tolist()
    extra: list[tuple[str, ...]] = [()] * count
    if hits:
        for i in np.flatnonzero(np.any(np.stack([m for m, _ in hits]), axis=0)).tolist():
            extra[i] = tuple(text for mask, text in hits if mask[i])
    result: list[tuple[Order, Priority]] = []
    append = result.append
    for i in order_index.tolist():
        reasons = (_slack_reason(to_deadline_min[i], slack_min[i]), *statics[i].reasons, *extra[i])
        append((orders[i], Priority(_LEVELS[levels[i]], scores[i], reasons)))
    return result
