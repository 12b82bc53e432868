"""Carrier choice: coverage, cutoffs, smoothed on-time rates, choice and fallback."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.carriers import (
    CarrierChoice,
    choose_service,
    covers,
    on_time_probability,
    promised_arrival,
)
from domain.models import CarrierService, DomainError, ShipTo

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 23 Nov 2026, 10:00 in Frankfurt.
READY = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
TO_FRA = ShipTo("Ada", "Zeil 1", "Frankfurt", "60311", "DE")
TO_BER = ShipTo("Bob", "Unter den Linden 1", "Berlin", "10117", "DE")

DHL_EXPRESS = CarrierService(
    "dhl-express", "DHL", "Express", 24, time(17, 0), 14.9, frozenset({"DE", "AT", "PL"})
)
DHL_PAKET = CarrierService(
    "dhl-paket", "DHL", "Paket", 48, time(18, 0), 5.9, frozenset({"DE", "AT"})
)
UPS_STANDARD = CarrierService(
    "ups-standard", "UPS", "Standard", 72, time(16, 0), 4.5, frozenset({"DE"})
)
COURIER = CarrierService(
    "fra-courier", "CityRun", "Same Day", 4, time(14, 0), 9.0, frozenset({"DE"}),
    max_weight_g=10_000, local_postcode_prefixes=("603", "604"),
)  # fmt: skip
ALL = (DHL_EXPRESS, DHL_PAKET, UPS_STANDARD, COURIER)


def test_covers_country_weight_and_local_zone() -> None:
    assert covers(DHL_EXPRESS, TO_FRA, 1000)
    assert not covers(DHL_EXPRESS, TO_FRA, 40_000)
    assert not covers(UPS_STANDARD, ShipTo("x", "y", "Wien", "1010", "AT"), 100)
    assert covers(COURIER, TO_FRA, 1000)
    assert not covers(COURIER, TO_BER, 1000)
    assert not covers(COURIER, TO_FRA, 12_000)
    assert covers(COURIER, ShipTo("x", "y", "Frankfurt", "604 19", "de"), 10)


def test_promised_arrival_same_day_cutoff() -> None:
    assert promised_arrival(DHL_EXPRESS, READY) == datetime(2026, 11, 24, 17, 0, tzinfo=BERLIN)


def test_promised_arrival_exactly_at_cutoff_makes_it() -> None:
    at_cutoff = READY.replace(hour=17)
    assert promised_arrival(DHL_EXPRESS, at_cutoff) == datetime(2026, 11, 24, 17, 0, tzinfo=BERLIN)


def test_promised_arrival_after_cutoff_takes_next_day() -> None:
    late = READY.replace(hour=17, minute=1)
    assert promised_arrival(DHL_EXPRESS, late) == datetime(2026, 11, 25, 17, 0, tzinfo=BERLIN)


def test_promised_arrival_uses_warehouse_zone_for_cutoff() -> None:
    ready_utc = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 16:30 in Berlin: before 17:00
    arrival = promised_arrival(DHL_EXPRESS, ready_utc, BERLIN)
    assert arrival == datetime(2026, 11, 24, 17, 0, tzinfo=BERLIN)
    # Read in UTC the cutoff 17:00 UTC is still ahead, giving a different, later answer.
    assert promised_arrival(DHL_EXPRESS, ready_utc) == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def test_promised_arrival_counts_transit_across_dst_change() -> None:
    # Clocks go back on 25 Oct 2026: 24h after Saturday 17:00 is Sunday 16:00 local.
    ready = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)
    assert promised_arrival(DHL_EXPRESS, ready) == datetime(2026, 10, 25, 16, 0, tzinfo=BERLIN)


def test_naive_ready_at_rejected() -> None:
    with pytest.raises(DomainError):
        promised_arrival(DHL_EXPRESS, READY.replace(tzinfo=None))


def test_on_time_probability_uses_prior_lane_then_star() -> None:
    assert on_time_probability("dhl-express", "DE", {}) == pytest.approx(0.9)
    rates = {("dhl-express", "DE"): (47, 50), ("dhl-express", "*"): (10, 20)}
    assert on_time_probability("dhl-express", "de", rates) == pytest.approx(56 / 60)
    assert on_time_probability("dhl-express", "PL", rates) == pytest.approx(19 / 30)
    assert on_time_probability("dhl-express", "DE", rates, prior=(0, 0)) == pytest.approx(0.94)


def test_on_time_probability_rejects_bad_counts() -> None:
    with pytest.raises(DomainError, match="bad counts"):
        on_time_probability("x", "DE", {("x", "DE"): (5, 3)})


def test_chooses_cheapest_meeting_deadline_with_reasons() -> None:
    deadline = datetime(2026, 11, 24, 18, 0, tzinfo=BERLIN)
    rates = {("dhl-express", "DE"): (47, 50)}
    choice = choose_service(TO_BER, 1000, deadline, READY, ALL, rates)
    assert choice is not None
    assert choice.service is DHL_EXPRESS and not choice.at_risk and choice.cost == 14.9
    assert choice.reasons[0] == (
        "cheapest meeting deadline: DHL Express 14.90, arrives Tue 17:00, on-time 93% (47/50 measured)"
    )
    assert "skipped UPS Standard: arrives after deadline" in choice.reasons
    assert "skipped DHL Paket: arrives after deadline" in choice.reasons


def test_local_courier_wins_inside_its_zone() -> None:
    deadline = READY.replace(hour=20)
    choice = choose_service(TO_FRA, 1000, deadline, READY, ALL)
    assert choice is not None and choice.service is COURIER
    assert choice.promised_at == READY.replace(hour=18)


def test_low_measured_on_time_rate_is_skipped() -> None:
    deadline = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
    rates = {("ups-standard", "*"): (30, 60)}
    choice = choose_service(TO_BER, 1000, deadline, READY, ALL, rates)
    assert choice is not None and choice.service is DHL_PAKET
    assert any(r.startswith("skipped UPS Standard: on-time") for r in choice.reasons)


def test_excluded_carrier_not_chosen() -> None:
    deadline = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
    choice = choose_service(
        TO_BER, 1000, deadline, READY, ALL, excluded_carriers=frozenset({"ups"})
    )
    assert choice is not None and choice.service is DHL_PAKET
    assert "skipped UPS Standard: carrier excluded" in choice.reasons


def test_falls_back_to_fastest_at_risk() -> None:
    deadline = READY + timedelta(hours=2)
    choice = choose_service(TO_BER, 1000, deadline, READY, ALL)
    assert choice is not None
    assert choice.at_risk and choice.service is DHL_EXPRESS
    assert choice.reasons[0].startswith("no service meets the deadline")


def test_none_when_nothing_covers() -> None:
    far = ShipTo("x", "y", "Paris", "75001", "FR")
    assert choose_service(far, 1000, READY + timedelta(days=5), READY, ALL) is None
    assert choose_service(TO_BER, 50_000, READY + timedelta(days=5), READY, ALL) is None


# --- property: when some service can meet the deadline reliably, the choice does --------

services = st.lists(
    st.builds(
        CarrierService,
        id=st.sampled_from(["a", "b", "c", "d", "e"]),
        carrier=st.sampled_from(["DHL", "UPS", "GLS"]),
        service=st.just("S"),
        transit_hours=st.floats(1, 96),
        cutoff=st.times(),
        cost=st.floats(1, 30),
        countries=st.just(frozenset({"DE"})),
        max_weight_g=st.sampled_from([5_000, 31_500]),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda s: s.id,
)
rate_tables = st.dictionaries(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.sampled_from(["DE", "*"])),
    st.integers(0, 50).flatmap(lambda total: st.tuples(st.integers(0, total), st.just(total))),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(services, rate_tables, st.floats(0, 150), st.integers(100, 10_000))
def test_choice_meets_deadline_when_any_service_can(
    candidates: list[CarrierService],
    rates: dict[tuple[str, str], tuple[int, int]],
    hours: float,
    weight: int,
) -> None:
    deadline = READY + timedelta(hours=hours)
    choice = choose_service(TO_BER, weight, deadline, READY, candidates, rates)
    covering = [s for s in candidates if covers(s, TO_BER, weight)]
    if not covering:
        assert choice is None
        return
    assert isinstance(choice, CarrierChoice)
    feasible = [
        s
        for s in covering
        if promised_arrival(s, READY) <= deadline and on_time_probability(s.id, "DE", rates) >= 0.9
    ]
    if feasible:
        assert not choice.at_risk
        assert choice.promised_at <= deadline and choice.p_on_time >= 0.9
        assert choice.cost == min(s.cost for s in feasible)
    else:
        assert choice.at_risk
        assert choice.promised_at == min(promised_arrival(s, READY) for s in covering)
