"""Analytics maths against a small data set whose figures are worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.analytics import (
    OnTime,
    duration_text,
    milestones,
    percentile,
    summarise,
    throughput,
)
from domain.models import DomainError

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).replace(hour=11, minute=20)  # T0 + 200 min


def m(minutes: float) -> float:
    """T0 plus ``minutes``, as POSIX seconds."""
    return T0 + minutes * 60


MIN = 60.0  # seconds in a minute, to write expected figures in minutes

ORDERS = [
    ("A", "P1", "delivered", m(600)),
    ("B", "P1", "delivered", m(200)),
    ("C", "P4", "shipped", m(2000)),
    ("D", "P4", "picking", m(3000)),
    ("E", "P3", "received", m(3000)),
    ("F", "P2", "cancelled", m(3000)),
    ("G", "P4", "delivered", m(500)),
]

TIMELINE = [
    # A: allocate 5, pick 25 (done at the LAST picked event, 30), pack 10, ship 20,
    # deliver 240 minutes.
    ("A", "received", m(0)),
    ("A", "priority", m(0)),
    ("A", "allocated", m(5)),
    ("A", "picked", m(20)),
    ("A", "picked", m(30)),
    ("A", "packed", m(40)),
    ("A", "shipped", m(60)),
    ("A", "delivered", m(300)),
    # B: allocate 15, pick 20, pack 15, ship 20, deliver 190.
    ("B", "received", m(0)),
    ("B", "allocated", m(15)),
    ("B", "picked", m(35)),
    ("B", "packed", m(50)),
    ("B", "shipped", m(70)),
    ("B", "delivered", m(260)),
    # C: allocate 10, pick 60, pack 10, ship 60; shipped at 150, not delivered yet.
    ("C", "received", m(10)),
    ("C", "allocated", m(20)),
    ("C", "picked", m(80)),
    ("C", "packed", m(90)),
    ("C", "shipped", m(150)),
    # D: allocate 20 (the first "allocated" counts; the repeat at 50 is a late duplicate),
    # then waits to be picked since minute 40 (its status is still "picking").
    ("D", "received", m(20)),
    ("D", "allocated", m(40)),
    ("D", "allocated", m(50)),
    ("D", "picked", m(60)),  # one line of two: still picking, not a finished pick stage
    # E: waits to be allocated since minute 100.
    ("E", "received", m(100)),
    # F: allocate 10, then cancelled (no queue).
    ("F", "received", m(0)),
    ("F", "allocated", m(10)),
    ("F", "cancelled", m(12)),
    # G: only shipped and delivered known: deliver 300.
    ("G", "shipped", m(100)),
    ("G", "delivered", m(400)),
    # An order the report does not know is ignored.
    ("Z", "received", m(0)),
    ("Z", "allocated", m(999)),
]

DELIVERIES = [
    ("A", "dhl-express", "DE", m(300)),  # deadline 600: on time
    ("B", "dhl-express", "AT", m(260)),  # deadline 200: late
    ("G", "ups-std", "de", m(400)),  # deadline 500: on time; lane country upper-cased
    ("A", "dhl-express", "DE", m(900)),  # a second delivery of A: ignored
    ("Z", "dhl-express", "DE", m(1)),  # unknown order: ignored
]

# (device, kind, operator, ops, units, first, last): single ops, and pack-1's two packed
# orders as one group.
WORK = [
    ("hh-1", "pick.confirmed", "op-anna", 1, 2, m(0), m(0)),
    ("hh-1", "pick.confirmed", "op-anna", 1, 1, m(30), m(30)),
    ("hh-1", "pick.confirmed", "op-ben", 1, 3, m(60), m(60)),
    ("hh-2", "pick.confirmed", "op-ben", 1, 1, m(10), m(10)),
    ("pack-1", "pack.verified", None, 1, 2, m(39), m(39)),
    ("pack-1", "order.packed", None, 2, 2, m(40), m(50)),
    ("dock-1", "order.shipped", None, 1, 1, m(60), m(60)),
    ("hh-1", "stock.counted", "op-anna", 1, 0, m(70), m(70)),  # not throughput work
]


@pytest.fixture(scope="module")
def report() -> dict:
    return summarise(ORDERS, milestones(TIMELINE), DELIVERIES, WORK, now=NOW).to_dict()


def stage(report: dict, name: str) -> dict:
    return next(s for s in report["stages"] if s["stage"] == name)


def test_order_counts(report: dict) -> None:
    assert report["orders"]["total"] == 7
    assert report["orders"]["by_status"] == {
        "cancelled": 1,
        "delivered": 3,
        "picking": 1,
        "received": 1,
        "shipped": 1,
    }
    assert report["orders"]["by_level"] == {"P1": 2, "P2": 1, "P3": 1, "P4": 3}


def test_allocate_stage(report: dict) -> None:
    # Durations A 5, B 15, C 10, D 20, F 10 -> sorted [5, 10, 10, 15, 20].
    # p50: position 0.5*4 = 2 -> 10. p90: position 3.6 -> 15 + 0.6*(20-15) = 18.
    # mean 60/5 = 12, max 20.
    allocate = stage(report, "allocate")
    assert (allocate["from"], allocate["to"]) == ("received", "allocated")
    assert allocate["overall"] == {
        "count": 5,
        "p50_s": 10 * MIN,
        "p90_s": 18 * MIN,
        "mean_s": 12 * MIN,
        "max_s": 20 * MIN,
    }
    # P1 [5, 15]: p50 10, p90 5 + 0.9*10 = 14. P2 [10]. P4 [10, 20]: p50 15, p90 19.
    by_level = allocate["by_level"]
    assert sorted(by_level) == ["P1", "P2", "P4"]
    assert (by_level["P1"]["p50_s"], by_level["P1"]["p90_s"]) == (10 * MIN, 14 * MIN)
    assert (by_level["P2"]["p50_s"], by_level["P2"]["p90_s"]) == (10 * MIN, 10 * MIN)
    assert (by_level["P4"]["p50_s"], by_level["P4"]["p90_s"]) == (15 * MIN, 19 * MIN)


def test_later_stages(report: dict) -> None:
    # pick [20, 25, 60]: p50 25, p90 position 1.8 -> 25 + 0.8*35 = 53, mean 35.
    pick = stage(report, "pick")["overall"]
    assert (pick["count"], pick["p50_s"], pick["p90_s"], pick["mean_s"]) == (
        3,
        25 * MIN,
        53 * MIN,
        35 * MIN,
    )
    # pack [10, 10, 15]: p50 10, p90 10 + 0.8*5 = 14.
    pack = stage(report, "pack")["overall"]
    assert (pack["p50_s"], pack["p90_s"]) == (10 * MIN, 14 * MIN)
    # ship [20, 20, 60]: p50 20, p90 20 + 0.8*40 = 52.
    ship = stage(report, "ship")["overall"]
    assert (ship["p50_s"], ship["p90_s"]) == (20 * MIN, 52 * MIN)
    # deliver A 240, B 190, G 300 -> [190, 240, 300]: p50 240, p90 240 + 0.8*60 = 288.
    deliver = stage(report, "deliver")
    assert (deliver["overall"]["p50_s"], deliver["overall"]["p90_s"]) == (240 * MIN, 288 * MIN)
    # P1 deliveries [190, 240]: p90 190 + 0.9*50 = 235; P4 only G's 300.
    assert deliver["by_level"]["P1"]["p90_s"] == 235 * MIN
    assert deliver["by_level"]["P4"]["p50_s"] == 300 * MIN


def test_queues(report: dict) -> None:
    # Now is minute 200. E waits to allocate since 100 (100 min); D waits to pick since
    # its first allocation at 40 (160 min); C waits for delivery since 150 (50 min).
    queues = {q["stage"]: q for q in report["queues"]}
    assert queues["allocate"] == {
        "stage": "allocate",
        "waiting": 1,
        "oldest_s": 100 * MIN,
        "p90_age_s": 100 * MIN,
    }
    assert (queues["pick"]["waiting"], queues["pick"]["oldest_s"]) == (1, 160 * MIN)
    assert queues["pack"]["waiting"] == 0 and queues["pack"]["oldest_s"] is None
    assert queues["ship"]["waiting"] == 0
    assert (queues["deliver"]["waiting"], queues["deliver"]["oldest_s"]) == (1, 50 * MIN)


def test_bottleneck(report: dict) -> None:
    # Floor p90s: allocate 18 + pick 53 + pack 14 + ship 52 = 137 min; pick's share is
    # 53/137 = 0.38686 (39%). Queues older than 53 min (allocate 100, pick 160) are named.
    bottleneck = report["bottleneck"]
    assert bottleneck["stage"] == "pick"
    assert bottleneck["p90_s"] == 53 * MIN
    assert bottleneck["share"] == pytest.approx(53 / 137, abs=1e-4)
    assert "39%" in bottleneck["reason"]
    assert "1 orders waiting to allocate, p90 wait 1h40m" in bottleneck["reason"]
    assert "1 orders waiting to pick, p90 wait 2h40m" in bottleneck["reason"]


def test_on_time(report: dict) -> None:
    # Urgent (P1/P2): A on time, B late -> 1/2. Standard: G on time -> 1/1.
    on_time = report["on_time"]
    assert on_time["urgent"] == {"on_time": 1, "total": 2, "rate": 0.5}
    assert on_time["standard"] == {"on_time": 1, "total": 1, "rate": 1.0}
    assert on_time["by_level"] == {
        "P1": {"on_time": 1, "total": 2, "rate": 0.5},
        "P4": {"on_time": 1, "total": 1, "rate": 1.0},
    }
    assert on_time["by_carrier"] == [
        {"service": "dhl-express", "on_time": 1, "total": 2, "rate": 0.5},
        {"service": "ups-std", "on_time": 1, "total": 1, "rate": 1.0},
    ]
    assert on_time["by_lane"] == [
        {"service": "dhl-express", "country": "AT", "on_time": 0, "total": 1, "rate": 0.0},
        {"service": "dhl-express", "country": "DE", "on_time": 1, "total": 1, "rate": 1.0},
        {"service": "ups-std", "country": "DE", "on_time": 1, "total": 1, "rate": 1.0},
    ]
    assert report["notes"] == []


def test_throughput(report: dict) -> None:
    # hh-1: 3 pick lines, 6 units over 60 min -> 3/h. pack-1: 3 ops (2 packed, 1 scan),
    # 4 units over 11 min -> 180/11 = 16.36/h. hh-2, dock-1: one op, span floored to a
    # minute -> 60/h. Busiest first, then by name.
    stations = [
        (s["name"], s["kind"], s["ops"], s["units"], s["per_hour"]) for s in report["stations"]
    ]
    assert stations == [
        ("hh-1", "pick lines", 3, 6, 3.0),
        ("pack-1", "orders packed", 3, 4, 16.36),
        ("dock-1", "orders shipped", 1, 1, 60.0),
        ("hh-2", "pick lines", 1, 1, 60.0),
    ]
    # op-anna: 2 lines, 3 units over 30 min -> 4/h. op-ben: 2 lines (hh-2 at 10, hh-1 at
    # 60), 4 units over 50 min -> 2.4/h.
    operators = [(o["name"], o["ops"], o["units"], o["per_hour"]) for o in report["operators"]]
    assert operators == [("op-anna", 2, 3, 4.0), ("op-ben", 2, 4, 2.4)]


def test_no_deliveries_and_no_work() -> None:
    marks = milestones([("A", "received", m(0))])
    summary = summarise([("A", "P1", "received", m(10))], marks, now=NOW)
    assert summary.bottleneck is None
    assert summary.on_time_urgent == OnTime(0, 0) and summary.on_time_urgent.rate is None
    assert summary.stations == () and summary.operators == ()
    assert "no deliveries recorded yet" in summary.notes[0]


def test_negative_span_is_skipped() -> None:
    # A pack stamped before the pick (clock skew between writers) is not a duration.
    marks = milestones([("A", "picked", m(10)), ("A", "packed", m(5))])
    assert marks == [("A", None, None, m(10), m(5), None, None)]
    summary = summarise([("A", "P2", "packed", m(99))], marks, now=NOW)
    assert next(s for s in summary.stages if s.stage == "pack").overall is None


def test_summarise_needs_aware_now() -> None:
    with pytest.raises(DomainError, match="aware"):
        summarise([], [], now=datetime(2026, 11, 23, 8, 0))


def test_percentile_edges() -> None:
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    with pytest.raises(DomainError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(DomainError, match=r"within 0\.\.1"):
        percentile([1.0], 1.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=40), st.floats(0, 1), st.floats(0, 1))
def test_percentile_is_monotone_and_bounded(values: list[float], q1: float, q2: float) -> None:
    ordered = sorted(values)
    low, high = sorted((q1, q2))
    a, b = percentile(ordered, low), percentile(ordered, high)
    assert ordered[0] - 1e-6 <= a <= b + 1e-6 <= ordered[-1] + 2e-6


def test_throughput_ignores_non_work() -> None:
    stations, operators = throughput([("hh-9", "stock.adjusted", "op-x", 1, 5, m(0), m(0))])
    assert stations == () and operators == ()


def test_duration_text() -> None:
    assert [duration_text(s) for s in (45, 720, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "45s",
        "12m",
        "3h05m",
        "2d04h",
    ]
