"""Order facts the priority engine scores, and the reason texts it writes.

The static part of an order's score (service, customer, SKU categories, tags) does not
change as time passes, so it is computed once per order object and memoised here.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.models import Disruption, Level, Order, Sku
from domain.priority_rules import PriorityRules

LEVELS = (Level.P1, Level.P1, Level.P2, Level.P3, Level.P4)  # index by rank


class OrderFacts:
    """What does not change between re-ranks: static points, reasons and matching keys."""

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
        self.postcode = normal_postcode(order.ship_to.postcode)


_CACHE: dict[str, tuple[Order, PriorityRules, Mapping[str, Sku], OrderFacts]] = {}
_CACHE_LIMIT = 250_000  # bounds memory in a long-running server


def order_facts(order: Order, rules: PriorityRules, skus: Mapping[str, Sku]) -> OrderFacts:
    """The order's static points and reasons, memoised for this very order object."""
    # Memoised by order id, valid only for the very same order, rules and SKU objects:
    # a changed order is a new object, so a stale entry is never used.
    hit = _CACHE.get(order.id)
    if hit is not None and hit[0] is order and hit[1] is rules and hit[2] is skus:
        return hit[3]
    static = OrderFacts(order, rules, skus)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[order.id] = (order, rules, skus, static)
    return static


def normal_postcode(value: str) -> str:
    """Postcode as compared: spaces removed, upper case."""
    return value.replace(" ", "").upper()


def carrier_matches(wanted: str, carrier: str) -> bool:
    """``wanted`` names the carrier itself or the prefix of a service id (``dhl`` ~ ``dhl-express``)."""
    wanted, carrier = wanted.lower(), carrier.lower()
    return carrier == wanted or carrier.startswith(wanted + "-")


def describe_disruption(disruption: Disruption) -> str:
    """Reason text, e.g. ``disruption storm-DE (weather, DE 6*): +1 level``."""
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


def slack_reason(to_deadline_min: int, slack_min: int) -> str:
    """Reason text for the deadline and the slack left after processing and transit."""
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
