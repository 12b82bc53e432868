"""SLA risk: will the order reach the customer by its deadline, and if not, what to do.

Expected arrival = the carrier's promised arrival for a hand-over at now + the
in-warehouse time still left (or, when stock must come by transfer, after it arrives).
The order is at risk when that is after the deadline, closer to it than the rules'
safety margin, the carrier's measured on-time rate is below the threshold, or stock is
short. Resolutions are proposals for a person or the server to act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from domain.carriers import CarrierChoice, promised_arrival, when_text
from domain.models import DomainError, Level, Order, OrderLine, OrderStatus
from domain.priority_rules import PriorityRules
from domain.status import is_open


@dataclass(frozen=True, slots=True)
class Resolution:
    """A proposed fix: ``kind`` is upgrade_service, transfer, split_shipment or expedite."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class SlaRisk:
    """The verdict: expected arrival, slack to the deadline (negative = late), why, and
    proposed resolutions (empty when not at risk)."""

    at_risk: bool
    expected_at: datetime
    slack: timedelta
    reasons: tuple[str, ...]
    resolutions: tuple[Resolution, ...]


def remaining_processing(status: OrderStatus, level: Level, rules: PriorityRules) -> timedelta:
    """In-warehouse time left from ``status``: the level's processing hours times the
    share of the work still ahead (``rules.stage_remaining``; a status without a share,
    such as on_hold, counts as all of it); zero once closed."""
    if not is_open(status):
        return timedelta(0)
    share = rules.stage_remaining.get(status.value, 1.0)
    return timedelta(hours=rules.processing_for(level) * share)


def _fmt(delta: timedelta) -> str:
    minutes = round(abs(delta.total_seconds()) / 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours}h{mins:02d}m" if hours else f"{mins}m"


def _arrival(
    choice: CarrierChoice | None, ready: datetime, rules: PriorityRules, zone: tzinfo
) -> datetime:
    if choice is None:
        return ready + timedelta(hours=rules.default_transit_hours)
    return promised_arrival(choice.service, ready, zone)


def assess(
    order: Order,
    now: datetime,
    level: Level,
    rules: PriorityRules,
    choice: CarrierChoice | None,
    faster: CarrierChoice | None = None,
    short_lines: Sequence[OrderLine] = (),
    transfer_eta: datetime | None = None,
    *,
    tz: tzinfo | None = None,
) -> SlaRisk:
    """Assess the order at ``now``; ``short_lines`` are lines without stock here and
    ``transfer_eta`` when a transfer would bring it. ``tz`` is the warehouse's zone for
    carrier cutoffs (default ``now``'s)."""
    if now.tzinfo is None:
        raise DomainError("now has no time zone")
    zone = tz or now.tzinfo or order.deadline.tzinfo
    if zone is None:
        raise DomainError("no time zone for carrier cutoffs")
    remaining = remaining_processing(order.status, level, rules)
    start = now
    if short_lines and transfer_eta is not None and transfer_eta > now:
        start = transfer_eta
    ready = start + remaining
    expected_at = _arrival(choice, ready, rules, zone)
    slack = order.deadline - expected_at
    margin = timedelta(minutes=rules.safety_margin_minutes)
    reasons: list[str] = []
    carrier_name = (
        f"{choice.service.carrier} {choice.service.service}" if choice else "default transit"
    )
    if slack < timedelta(0):
        reasons.append(
            f"expected {when_text(expected_at, zone)} via {carrier_name}, {_fmt(slack)} after the deadline"
        )
    elif slack < margin:
        reasons.append(
            f"expected {when_text(expected_at, zone)} via {carrier_name}, only {_fmt(slack)} before "
            f"the deadline (margin {_fmt(margin)})"
        )
    if choice is not None and choice.p_on_time < rules.on_time_threshold:
        reasons.append(
            f"{carrier_name} on-time {choice.p_on_time:.0%} below {rules.on_time_threshold:.0%}"
        )
    short_skus = {line.sku for line in short_lines}
    if short_lines:
        listed = ", ".join(f"{line.sku} x{line.qty}" for line in short_lines)
        reasons.append(f"stock short: {listed}")
    at_risk = bool(reasons) and is_open(order.status)
    if not at_risk:
        return SlaRisk(False, expected_at, slack, tuple(reasons), ())

    resolutions: list[Resolution] = []
    if faster is not None and (choice is None or faster.service.id != choice.service.id):
        faster_at = promised_arrival(faster.service, ready, zone)
        if faster_at <= order.deadline and faster_at < expected_at:
            extra = faster.cost - (choice.cost if choice else 0.0)
            resolutions.append(
                Resolution(
                    "upgrade_service",
                    f"upgrade to {faster.service.carrier} {faster.service.service} "
                    f"(+{extra:.2f}), arrives {when_text(faster_at, zone)}",
                )
            )
    if short_lines and transfer_eta is not None:
        resolutions.append(
            Resolution(
                "transfer",
                f"transfer {', '.join(sorted(short_skus))} arriving {when_text(transfer_eta, zone)}, "
                f"expected delivery {when_text(expected_at, zone)}",
            )
        )
    available = [line.sku for line in order.lines if line.sku not in short_skus]
    if short_lines and available:
        resolutions.append(
            Resolution(
                "split_shipment",
                f"ship {', '.join(available)} now; send {', '.join(sorted(short_skus))} later",
            )
        )
    if not resolutions:
        resolutions.append(
            Resolution("expedite", f"move to the front of the queue as a {Level.P1.value} hot pick")
        )
    return SlaRisk(True, expected_at, slack, tuple(reasons), tuple(resolutions))
