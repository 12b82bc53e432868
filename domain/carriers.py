"""Carrier choice: the cheapest service whose promised arrival and *measured* on-time rate
still meet the deadline; local same-day couriers only inside their postcode zone.

On-time rates are smoothed with a Beta prior so a lane with two deliveries does not claim
100%: p = (on_time + a) / (total + a + b) for prior pseudo-counts (a on time, b late).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from domain.models import CarrierService, DomainError, ShipTo

OnTimeRates = Mapping[tuple[str, str], tuple[int, int]]
"""(service_id, destination country or "*") -> (on_time, total) deliveries measured."""

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class CarrierChoice:
    """The chosen service, when it promises to arrive, how likely on time, and why."""

    service: CarrierService
    promised_at: datetime
    p_on_time: float
    at_risk: bool
    cost: float
    reasons: tuple[str, ...]


def _postcode(value: str) -> str:
    return value.replace(" ", "").upper()


def covers(service: CarrierService, ship_to: ShipTo, weight_g: int) -> bool:
    """True when the service delivers to the address (country; for a local courier also
    its postcode zone) and carries the weight. No countries listed means any country."""
    if weight_g > service.max_weight_g:
        return False
    countries = {c.upper() for c in service.countries}
    if countries and ship_to.country.upper() not in countries:
        return False
    if service.local_postcode_prefixes:
        postcode = _postcode(ship_to.postcode)
        return any(postcode.startswith(_postcode(p)) for p in service.local_postcode_prefixes)
    return True


def promised_arrival(
    service: CarrierService, ready_at: datetime, tz: tzinfo | None = None
) -> datetime:
    """The next daily cutoff at or after ``ready_at`` (wall clock in ``tz``, default
    ``ready_at``'s zone) plus the transit time, in ``tz``."""
    if ready_at.tzinfo is None:
        raise DomainError("ready_at has no time zone")
    zone = tz or ready_at.tzinfo
    local = ready_at.astimezone(zone)
    cutoff = datetime.combine(local.date(), service.cutoff, tzinfo=zone)
    if cutoff < local:
        cutoff = datetime.combine(local.date() + timedelta(days=1), service.cutoff, tzinfo=zone)
    # Transit is elapsed time: add it in UTC so a DST change in between is counted right.
    arrival = cutoff.astimezone(UTC) + timedelta(hours=service.transit_hours)
    return arrival.astimezone(zone)


def _measured(service_id: str, country: str, rates: OnTimeRates) -> tuple[int, int]:
    counts = rates.get((service_id, country.upper()))
    if counts is None:
        counts = rates.get((service_id, "*"), (0, 0))
    on_time, total = counts
    if on_time < 0 or total < 0 or on_time > total:
        raise DomainError(f"on-time rate for {service_id}/{country}: bad counts {on_time}/{total}")
    return on_time, total


def on_time_probability(
    service_id: str, country: str, rates: OnTimeRates, prior: tuple[float, float] = (9.0, 1.0)
) -> float:
    """Smoothed on-time probability for the lane (or the service's "*" row)."""
    on_time, total = _measured(service_id, country, rates)
    good, bad = prior
    if good < 0 or bad < 0 or good + bad + total == 0:
        raise DomainError(f"prior must be non-negative pseudo-counts, got {prior}")
    return (on_time + good) / (total + good + bad)


def when_text(moment: datetime, zone: tzinfo) -> str:
    """Short local weekday and time, e.g. ``Tue 18:00`` (locale-independent)."""
    local = moment.astimezone(zone)
    return f"{_DAYS[local.weekday()]} {local:%H:%M}"


@dataclass(frozen=True, slots=True)
class _Option:
    service: CarrierService
    promised_at: datetime
    p_on_time: float
    measured: tuple[int, int]

    @property
    def name(self) -> str:
        return f"{self.service.carrier} {self.service.service}"

    def rate_text(self) -> str:
        on_time, total = self.measured
        measured = f"{on_time}/{total} measured" if total else "no measurements yet"
        return f"on-time {self.p_on_time:.0%} ({measured})"


def choose_service(
    ship_to: ShipTo,
    weight_g: int,
    deadline: datetime,
    ready_at: datetime,
    services: Sequence[CarrierService],
    rates: OnTimeRates | None = None,
    threshold: float = 0.9,
    prior: tuple[float, float] = (9.0, 1.0),
    excluded_carriers: frozenset[str] = frozenset(),
    tz: tzinfo | None = None,
) -> CarrierChoice | None:
    """Cheapest covering service arriving by ``deadline`` with on-time >= ``threshold``;
    else the fastest covering one marked at risk; None when nothing covers.
    ``excluded_carriers`` (carrier names or service ids, any case) are never chosen."""
    if deadline.tzinfo is None:
        raise DomainError("deadline has no time zone")
    zone = tz or ready_at.tzinfo or UTC
    excluded = {name.lower() for name in excluded_carriers}
    reasons: list[str] = []
    options: list[_Option] = []
    for service in sorted(services, key=lambda s: (s.cost, s.id)):
        if not covers(service, ship_to, weight_g):
            continue
        if service.carrier.lower() in excluded or service.id.lower() in excluded:
            reasons.append(f"skipped {service.carrier} {service.service}: carrier excluded")
            continue
        options.append(
            _Option(
                service,
                promised_arrival(service, ready_at, zone),
                on_time_probability(service.id, ship_to.country, rates or {}, prior),
                _measured(service.id, ship_to.country, rates or {}),
            )
        )
    if not options:
        return None
    for option in options:
        late = option.promised_at > deadline
        unreliable = option.p_on_time < threshold
        if not late and not unreliable:
            reasons.insert(
                0,
                f"cheapest meeting deadline: {option.name} {option.service.cost:.2f}, "
                f"arrives {when_text(option.promised_at, zone)}, {option.rate_text()}",
            )
            return CarrierChoice(
                option.service,
                option.promised_at,
                option.p_on_time,
                False,
                option.service.cost,
                tuple(reasons),
            )
        why = "arrives after deadline" if late else f"{option.rate_text()} below {threshold:.0%}"
        reasons.append(f"skipped {option.name}: {why}")
    fastest = min(
        options, key=lambda o: (o.promised_at, -o.p_on_time, o.service.cost, o.service.id)
    )
    reasons.insert(
        0,
        f"no service meets the deadline ({when_text(deadline, zone)}) reliably; fastest: "
        f"{fastest.name} {fastest.service.cost:.2f}, arrives {when_text(fastest.promised_at, zone)}, "
        f"{fastest.rate_text()}",
    )
    return CarrierChoice(
        fastest.service,
        fastest.promised_at,
        fastest.p_on_time,
        True,
        fastest.service.cost,
        tuple(reasons),
    )
