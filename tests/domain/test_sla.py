"""SLA risk: remaining processing, at-risk verdicts and the proposed resolutions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.carriers import CarrierChoice, promised_arrival
from domain.models import (
    CarrierService,
    Customer,
    Level,
    Order,
    OrderLine,
    OrderStatus,
    ShipTo,
)
from domain.priority import PriorityRules
from domain.sla import assess, remaining_processing

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # Monday
RULES = PriorityRules()
PAKET = CarrierService("dhl-paket", "DHL", "Paket", 48, time(18, 0), 5.9, frozenset({"DE"}))
EXPRESS = CarrierService("dhl-express", "DHL", "Express", 24, time(17, 0), 14.9, frozenset({"DE"}))


def choice_of(service: CarrierService, p: float = 0.95) -> CarrierChoice:
    return CarrierChoice(service, promised_arrival(service, NOW), p, False, service.cost, ())


def make_order(deadline: datetime, status: OrderStatus = OrderStatus.RECEIVED) -> Order:
    return Order(
        id="O-1",
        customer=Customer("C-1", "Ada"),
        ship_to=ShipTo("Ada", "Zeil 1", "Berlin", "10117", "DE"),
        lines=(OrderLine("SKU-1", 1), OrderLine("SKU-2", 2)),
        deadline=deadline,
        created_at=NOW,
        status=status,
    )


def test_remaining_processing_by_status_and_level() -> None:
    assert remaining_processing(OrderStatus.RECEIVED, Level.P4, RULES) == timedelta(hours=6)
    assert remaining_processing(OrderStatus.PICKED, Level.P4, RULES) == timedelta(hours=2.4)
    assert remaining_processing(OrderStatus.RECEIVED, Level.P1, RULES) == timedelta(hours=1)
    assert remaining_processing(OrderStatus.SHIPPED, Level.P1, RULES) == timedelta(0)
    assert remaining_processing(OrderStatus.CANCELLED, Level.P1, RULES) == timedelta(0)
    assert remaining_processing(OrderStatus.ON_HOLD, Level.P2, RULES) == timedelta(hours=1.5)


def test_comfortable_order_is_not_at_risk() -> None:
    deadline = datetime(2026, 11, 26, 12, 0, tzinfo=BERLIN)
    risk = assess(make_order(deadline), NOW, Level.P4, RULES, choice_of(PAKET))
    assert not risk.at_risk and risk.resolutions == ()
    assert risk.expected_at == datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN)
    assert risk.slack == timedelta(hours=18)


def test_late_order_gets_upgrade_when_faster_meets_deadline() -> None:
    deadline = datetime(2026, 11, 24, 20, 0, tzinfo=BERLIN)
    risk = assess(
        make_order(deadline), NOW, Level.P2, RULES, choice_of(PAKET), faster=choice_of(EXPRESS)
    )
    assert risk.at_risk
    assert risk.slack < timedelta(0)
    assert risk.reasons[0].startswith("expected Wed 18:00 via DHL Paket, 22h00m after the deadline")
    assert [r.kind for r in risk.resolutions] == ["upgrade_service"]
    assert risk.resolutions[0].detail == "upgrade to DHL Express (+9.00), arrives Tue 17:00"


def test_faster_that_also_misses_is_not_proposed_and_expedite_is() -> None:
    deadline = datetime(2026, 11, 24, 12, 0, tzinfo=BERLIN)
    risk = assess(
        make_order(deadline), NOW, Level.P2, RULES, choice_of(PAKET), faster=choice_of(EXPRESS)
    )
    assert risk.at_risk
    assert [r.kind for r in risk.resolutions] == ["expedite"]


def test_inside_safety_margin_is_at_risk() -> None:
    # Express arrives Tue 17:00; deadline 17:20 leaves 20m < 30m margin.
    deadline = datetime(2026, 11, 24, 17, 20, tzinfo=BERLIN)
    risk = assess(make_order(deadline), NOW, Level.P1, RULES, choice_of(EXPRESS))
    assert risk.at_risk
    assert "only 20m before the deadline (margin 30m)" in risk.reasons[0]
    margin_free = replace(RULES, safety_margin_minutes=10)
    assert not assess(make_order(deadline), NOW, Level.P1, margin_free, choice_of(EXPRESS)).at_risk


def test_unreliable_carrier_is_at_risk() -> None:
    deadline = datetime(2026, 11, 27, 12, 0, tzinfo=BERLIN)
    risk = assess(make_order(deadline), NOW, Level.P3, RULES, choice_of(PAKET, p=0.7))
    assert risk.at_risk
    assert "DHL Paket on-time 70% below 90%" in risk.reasons


def test_short_stock_with_transfer_and_split() -> None:
    deadline = datetime(2026, 11, 27, 12, 0, tzinfo=BERLIN)
    eta = NOW + timedelta(hours=20)
    risk = assess(
        make_order(deadline),
        NOW,
        Level.P3,
        RULES,
        choice_of(PAKET),
        short_lines=(OrderLine("SKU-2", 2),),
        transfer_eta=eta,
    )
    assert risk.at_risk
    assert "stock short: SKU-2 x2" in risk.reasons
    assert [r.kind for r in risk.resolutions] == ["transfer", "split_shipment"]
    assert risk.resolutions[1].detail == "ship SKU-1 now; send SKU-2 later"
    # Ready after the transfer (Tue 06:00) + 3h processing -> Tue 18:00 cutoff -> Thu 18:00.
    assert risk.expected_at == datetime(2026, 11, 26, 18, 0, tzinfo=BERLIN)


def test_all_lines_short_without_transfer_expedites() -> None:
    deadline = datetime(2026, 11, 27, 12, 0, tzinfo=BERLIN)
    order = make_order(deadline)
    risk = assess(order, NOW, Level.P3, RULES, choice_of(PAKET), short_lines=order.lines)
    assert risk.at_risk
    assert [r.kind for r in risk.resolutions] == ["expedite"]


def test_no_carrier_uses_default_transit() -> None:
    deadline = datetime(2026, 11, 26, 12, 0, tzinfo=BERLIN)
    risk = assess(make_order(deadline), NOW, Level.P4, RULES, None)
    assert risk.expected_at == NOW + timedelta(hours=6 + RULES.default_transit_hours)
    assert not risk.at_risk


def test_shipped_order_is_never_at_risk() -> None:
    deadline = NOW - timedelta(hours=1)
    risk = assess(
        make_order(deadline, OrderStatus.SHIPPED), NOW, Level.P1, RULES, choice_of(EXPRESS)
    )
    assert not risk.at_risk
    assert risk.slack < timedelta(0)


def test_naive_now_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        assess(make_order(NOW), NOW.replace(tzinfo=None), Level.P1, RULES, None)
