"""Priority engine: each scoring rule, disruptions, rule validation, rerank order and the
slack monotonicity invariant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import (
    Customer,
    Disruption,
    DomainError,
    Level,
    Order,
    OrderLine,
    ShipTo,
    Sku,
)
from domain.priority import PriorityRules, affects, evaluate, rerank

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RULES = PriorityRules()
SKUS = {
    "SKU-1001": Sku("SKU-1001", "4006381333931", "Insulin cooler bag", category="medical"),
    "SKU-2002": Sku(
        "SKU-2002", "4006381333948", "Fresh dates", category="food", flags=frozenset({"perishable"})
    ),
    "SKU-3003": Sku("SKU-3003", "4006381333955", "Phone case"),
}


def make_order(
    order_id: str = "O-1",
    *,
    hours: float = 72.0,
    service: str | None = None,
    flags: frozenset[str] = frozenset(),
    tier: str = "standard",
    skus: tuple[str, ...] = ("SKU-3003",),
    country: str = "DE",
    postcode: str = "60311",
    tags: frozenset[str] = frozenset(),
) -> Order:
    return Order(
        id=order_id,
        customer=Customer("C-1", "Ada", tier=tier, flags=flags),
        ship_to=ShipTo("Ada", "Main St 1", "Frankfurt", postcode, country),
        lines=tuple(OrderLine(s, 1) for s in skus),
        deadline=NOW + timedelta(hours=hours),
        created_at=NOW - timedelta(hours=1),
        service=service,
        tags=tags,
    )


def storm(**kw: object) -> Disruption:
    base: dict[str, object] = {
        "id": "storm-DE",
        "kind": "weather",
        "starts_at": NOW - timedelta(hours=1),
        "ends_at": NOW + timedelta(hours=12),
        "escalate_by": 1,
        "country": "DE",
        "postcode_prefix": "6",
    }
    base.update(kw)
    return Disruption(**base)  # type: ignore[arg-type]


def test_plain_order_with_plenty_of_time_is_p4() -> None:
    p = evaluate(make_order(), NOW, [], RULES, SKUS)
    assert p.level is Level.P4
    assert p.score == 0
    assert p.reasons == ("deadline in 72h00m (slack 46h00m after processing and transit)",)


def test_slack_reason_and_bands() -> None:
    # 3h10m to deadline, 2h processing, 0.5h transit -> 40m slack.
    order = make_order(hours=3 + 10 / 60)
    p = evaluate(order, NOW, [], RULES, SKUS, transit_hours=0.5)
    assert p.reasons[0] == "deadline in 3h10m (slack 40m after processing and transit)"
    assert p.score == 60  # first band: slack < 2h
    assert p.level is Level.P2


def test_negative_slack_is_p1_and_says_how_short() -> None:
    order = make_order(hours=3 + 10 / 60)
    p = evaluate(order, NOW, [], RULES, SKUS, transit_hours=1 + 50 / 60)
    assert p.level is Level.P1
    assert p.reasons[0] == "deadline in 3h10m, 40m short after processing and transit"
    assert p.score == RULES.overdue_points


def test_passed_deadline() -> None:
    p = evaluate(make_order(hours=-0.5), NOW, [], RULES, SKUS)
    assert p.level is Level.P1
    assert p.reasons[0].startswith("deadline passed 30m ago")


@pytest.mark.parametrize(
    ("kwargs", "reason", "points"),
    [
        ({"service": "express"}, "paid service: express", 30),
        ({"flags": frozenset({"medical"})}, "customer flag: medical", 40),
        ({"flags": frozenset({"vip"})}, "customer flag: vip", 20),
        ({"tier": "gold"}, "customer tier: gold", 10),
        ({"skus": ("SKU-2002",)}, "perishable: SKU-2002", 25),
        ({"skus": ("SKU-1001", "SKU-3003")}, "medical: SKU-1001", 30),
        ({"tags": frozenset({"urgent"})}, "order tag: urgent", 30),
    ],
)
def test_static_drivers(kwargs: dict[str, object], reason: str, points: float) -> None:
    p = evaluate(make_order(**kwargs), NOW, [], RULES, SKUS)  # type: ignore[arg-type]
    assert reason in p.reasons
    assert p.score == points


def test_unknown_service_and_flags_add_nothing() -> None:
    p = evaluate(make_order(service="economy", flags=frozenset({"x"})), NOW, [], RULES, SKUS)
    assert p.score == 0 and len(p.reasons) == 1


def test_drivers_add_up_to_levels() -> None:
    p = evaluate(
        make_order(service="express", flags=frozenset({"medical", "vip"})), NOW, [], RULES, SKUS
    )
    assert p.score == 90
    assert p.level is Level.P1


def test_disruption_escalates_one_level_with_reason() -> None:
    order = make_order(service="express")  # 30 points -> P3
    assert evaluate(order, NOW, [], RULES, SKUS).level is Level.P3
    p = evaluate(order, NOW, [storm()], RULES, SKUS)
    assert p.level is Level.P2
    assert "disruption storm-DE (weather, DE 6*): +1 level" in p.reasons
    assert p.score == 30 + RULES.disruption_points


def test_disruption_never_beyond_p1_and_max_of_overlapping() -> None:
    order = make_order(flags=frozenset({"medical"}), service="express")  # 70 -> P2
    p = evaluate(order, NOW, [storm(escalate_by=3), storm(id="s2", escalate_by=1)], RULES, SKUS)
    assert p.level is Level.P1
    assert p.score == 70 + 3 * RULES.disruption_points


def test_affects_region_carrier_and_time() -> None:
    order = make_order(postcode="60311")
    assert affects(storm(), order)
    assert not affects(storm(postcode_prefix="1"), order)
    assert not affects(storm(country="PL"), order)
    assert affects(storm(country="de", postcode_prefix="603 1"), order)
    assert not affects(storm(), order, now=NOW + timedelta(hours=13))
    outage = storm(
        id="dhl-down", kind="carrier_outage", country=None, postcode_prefix=None, carrier="DHL"
    )
    assert affects(outage, order, carrier="dhl")
    assert affects(outage, order, carrier="dhl-express")
    assert not affects(outage, order, carrier="dhlx-express")
    assert not affects(outage, order, carrier=None)
    assert not affects(outage, order, carrier="ups")


def test_inactive_disruption_ignored_by_evaluate() -> None:
    later = storm(starts_at=NOW + timedelta(hours=1))
    assert evaluate(make_order(), NOW, [later], RULES, SKUS).level is Level.P4


def test_naive_now_rejected() -> None:
    with pytest.raises(DomainError, match="time zone"):
        evaluate(make_order(), NOW.replace(tzinfo=None), [], RULES, SKUS)


# --- rules from configuration ---------------------------------------------------------


def test_from_mapping_builds_rules() -> None:
    rules = PriorityRules.from_mapping(
        {
            "default_transit_hours": 12,
            "slack_bands": [[1, 50], {"hours": 4, "points": 20}],
            "service_points": {"express": 35},
            "level_thresholds": {"P1": 80, "P2": 50, "P3": 20},
            "processing_hours": {"P1": 0.5},
        }
    )
    assert rules.default_transit_hours == 12.0
    assert rules.slack_bands == ((1.0, 50.0), (4.0, 20.0))
    assert rules.service_points["express"] == 35.0
    assert rules.level_for(50) is Level.P2
    assert rules.processing_for(Level.P1) == 0.5
    assert rules.processing_for(Level.P4) == rules.default_processing_hours


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": 1}, r"priority\.colour: unknown key"),
        ({"default_transit_hours": "x"}, r"priority\.default_transit_hours: must be a number"),
        ({"default_transit_hours": True}, r"priority\.default_transit_hours: must be a number"),
        ({"default_transit_hours": -1}, r"priority\.default_transit_hours: must not be negative"),
        (
            {"service_points": {"express": "lots"}},
            r"priority\.service_points\.express: must be a number",
        ),
        ({"flag_points": [1]}, r"priority\.flag_points: must be a table"),
        ({"slack_bands": [[2, 10], [1, 5]]}, r"priority\.slack_bands\[1\]\.hours"),
        ({"slack_bands": [[1, 10], [2, 50]]}, r"priority\.slack_bands\[1\]\.points"),
        ({"slack_bands": [[1]]}, r"priority\.slack_bands\[0\]: must be \[hours, points\]"),
        (
            {"level_thresholds": {"P1": 10, "P2": 50, "P3": 5}},
            r"priority\.level_thresholds: must satisfy",
        ),
        ({"level_thresholds": {"P1": 10}}, r"priority\.level_thresholds\.P2: missing"),
        ({"processing_hours": {"P9": 1}}, r"priority\.processing_hours\.P9: unknown key"),
        ({"stage_remaining": {"picked": 2}}, r"priority\.stage_remaining\.picked: must be between"),
        ({"on_time_threshold": 1.5}, r"priority\.on_time_threshold: must be between"),
        ({"overdue_points": 10}, r"priority\.overdue_points: must be at least"),
    ],
)
def test_from_mapping_rejects_bad_values(data: dict[str, object], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        PriorityRules.from_mapping(data)


# --- rerank --------------------------------------------------------------------------


def test_rerank_orders_by_level_score_deadline_id() -> None:
    orders = [
        make_order("O-plain", hours=100),
        make_order("O-med", hours=100, flags=frozenset({"medical", "vip"})),
        make_order("O-late", hours=1),
        make_order("O-b", hours=50, service="express"),
        make_order("O-a", hours=50, service="express"),
        make_order("O-a2", hours=40, service="express"),
    ]
    ranked = rerank(orders, NOW, [], RULES, SKUS)
    assert [o.id for o, _ in ranked] == ["O-late", "O-med", "O-a2", "O-a", "O-b", "O-plain"]
    assert ranked[0][1].level is Level.P1


def test_rerank_matches_evaluate_including_disruptions_and_carriers() -> None:
    outage = storm(id="ups-down", country=None, postcode_prefix=None, carrier="ups", escalate_by=2)
    orders = [
        make_order("O-1", hours=30, service="express"),
        make_order("O-2", hours=5, postcode="10115"),
        make_order("O-3", hours=26, skus=("SKU-2002",), country="PL"),
        make_order("O-4", hours=80, flags=frozenset({"vip"})),
    ]
    carriers = {"O-1": "ups-standard", "O-3": "dhl-express"}
    transit = {"O-2": 2.0}
    ranked = rerank(orders, NOW, [storm(), outage], RULES, SKUS, carriers, transit_hours=transit)
    for order, priority in ranked:
        expected = evaluate(
            order,
            NOW,
            [storm(), outage],
            RULES,
            SKUS,
            carrier=carriers.get(order.id),
            transit_hours=transit.get(order.id),
        )
        assert priority == expected, order.id
    by_id = {o.id: p for o, p in ranked}
    assert any("ups-down" in r for r in by_id["O-1"].reasons)
    assert not any("storm" in r for r in by_id["O-2"].reasons)


def test_rerank_empty() -> None:
    assert rerank([], NOW, [], RULES, SKUS) == []


def test_changed_order_with_same_id_is_not_served_from_cache() -> None:
    first = make_order("O-x")
    assert evaluate(first, NOW, [], RULES, SKUS).score == 0
    changed = make_order("O-x", service="express")
    assert evaluate(changed, NOW, [], RULES, SKUS).score == 30


# --- invariant: less slack never lowers level or score --------------------------------

order_kwargs = st.fixed_dictionaries(
    {
        "service": st.sampled_from([None, "express", "priority", "standard"]),
        "flags": st.frozensets(st.sampled_from(["medical", "vip", "other"]), max_size=2),
        "tier": st.sampled_from(["standard", "gold", "platinum"]),
        "skus": st.lists(st.sampled_from(sorted(SKUS)), min_size=1, max_size=3).map(tuple),
        "postcode": st.sampled_from(["60311", "10115", "61000"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    order_kwargs,
    st.floats(-48, 200, allow_nan=False),
    st.floats(0, 100, allow_nan=False),
    st.floats(0, 100, allow_nan=False),
    st.booleans(),
)
def test_less_slack_never_lowers_level_or_score(
    kwargs: dict[str, object], hours: float, earlier: float, later_now: float, disrupted: bool
) -> None:
    disruptions = [storm(ends_at=NOW + timedelta(days=30))] if disrupted else []
    order = make_order(**kwargs, hours=hours)  # type: ignore[arg-type]
    tighter = make_order(**kwargs, hours=hours - earlier)  # type: ignore[arg-type]
    base = evaluate(order, NOW, disruptions, RULES, SKUS)
    by_deadline = evaluate(tighter, NOW, disruptions, RULES, SKUS)
    by_clock = evaluate(order, NOW + timedelta(hours=later_now), disruptions, RULES, SKUS)
    for worse in (by_deadline, by_clock):
        assert worse.level.rank <= base.level.rank
        assert worse.score >= base.score


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(order_kwargs, st.floats(-30, 120, allow_nan=False)), max_size=8),
    st.sampled_from([0, 1, 2]),
)
def test_rerank_agrees_with_evaluate_on_any_backlog(
    specs: list[tuple[dict[str, object], float]], escalate_by: int
) -> None:
    orders = [
        make_order(f"O-{i}", **kw, hours=hours)  # type: ignore[arg-type]
        for i, (kw, hours) in enumerate(specs)
    ]
    disruptions = [storm(escalate_by=escalate_by)]
    ranked = rerank(orders, NOW, disruptions, RULES, SKUS)
    assert sorted(o.id for o, _ in ranked) == sorted(o.id for o in orders)
    for order, priority in ranked:
        assert priority == evaluate(order, NOW, disruptions, RULES, SKUS)
    keys = [(p.level.rank, -p.score, o.deadline, o.id) for o, p in ranked]
    assert keys == sorted(keys)


@pytest.mark.parametrize("how_many", [1, 3, 70])
def test_rerank_reasons_with_many_overlapping_disruptions(how_many: int) -> None:
    disruptions = [
        storm(id=f"d{k}", postcode_prefix=None if k % 2 else "6", escalate_by=k % 3)
        for k in range(how_many)
    ]
    orders = [
        make_order("O-1", postcode="60311"),
        make_order("O-2", postcode="10115"),
        make_order("O-3", country="PL"),
    ]
    ranked = rerank(orders, NOW, disruptions, RULES, SKUS)
    for order, priority in ranked:
        assert priority == evaluate(order, NOW, disruptions, RULES, SKUS)
    by_id = {o.id: p for o, p in ranked}
    assert sum(r.startswith("disruption") for r in by_id["O-1"].reasons) == how_many
    assert not any(r.startswith("disruption") for r in by_id["O-3"].reasons)


def test_rerank_rejects_negative_transit() -> None:
    with pytest.raises(DomainError, match="transit_hours"):
        rerank([make_order()], NOW, [], RULES, SKUS, transit_hours={"O-1": -100.0})


def test_from_mapping_accepts_the_documented_toml_table() -> None:
    import tomllib

    text = """
    [priority]
    default_processing_hours = 2.0
    default_transit_hours = 24
    processing_hours = { P1 = 1.0, P2 = 1.5, P3 = 3.0, P4 = 6.0 }
    stage_remaining = { received = 1.0, allocated = 0.9, picking = 0.7, picked = 0.4, packed = 0.1 }
    overdue_points = 100
    slack_bands = [[2, 60], [6, 40], [12, 25], [24, 10]]
    service_points = { express = 30, priority = 20, standard = 0 }
    flag_points = { medical = 40, vip = 20 }
    tier_points = { platinum = 15, gold = 10 }
    category_points = { perishable = 25, medical = 30 }
    tag_points = { urgent = 30 }
    level_thresholds = { P1 = 90, P2 = 60, P3 = 30 }
    disruption_points = 15
    safety_margin_minutes = 30
    on_time_threshold = 0.9
    """
    rules = PriorityRules.from_mapping(tomllib.loads(text)["priority"])
    order = make_order(service="express", flags=frozenset({"medical"}))
    assert evaluate(order, NOW, [], rules, SKUS) == evaluate(order, NOW, [], RULES, SKUS)
