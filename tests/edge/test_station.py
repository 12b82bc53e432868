"""Pure station logic: pack session, shipment planning, documents, dock and manifest,
tracking numbers (no I/O except one SQLite file for the tracking counter)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.printer.preview import preview
from domain.models import CarrierService, Carton
from edge.station.dock import DockDesk
from edge.station.documents import render_documents, tracking_url
from edge.station.feedback import FeedbackLevel
from edge.station.manifest import carrier_key, render_manifest
from edge.station.pack_session import PackSession, PackState
from edge.station.shipment import (
    PlanError,
    excluded_carriers,
    plan_shipment,
    rates_from_stats,
    ship_to_of,
    sku_from_row,
)
from edge.tracking_numbers import (
    TrackingCounter,
    TrackingError,
    is_tracking,
    make_tracking,
    parse_tracking,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SKUS = {
    "SKU-1": {"sku": "SKU-1", "gtin": "4260000010010", "name": "Bottle", "weight_g": 400,
              "dims_mm": [280, 80, 80]},
    "SKU-2": {"sku": "SKU-2", "gtin": "4260000010027", "name": "Mug", "weight_g": 300,
              "dims_mm": [120, 95, 95]},
    "SKU-9": {"sku": "SKU-9", "gtin": "4260000010096", "name": "Puzzle", "weight_g": 500,
              "dims_mm": [300, 220, 60]},
}  # fmt: skip
CARTONS = (
    Carton("S1", (200, 150, 100), 2000, 90, 0.35),
    Carton("M", (400, 300, 200), 10000, 280, 0.8),
)
SERVICES = (
    CarrierService("dhl-express", "DHL", "Express", 24, time(17, 0), 14.9, frozenset({"DE"})),
    CarrierService("dpd-classic", "DPD", "Classic", 72, time(18, 0), 5.2, frozenset({"DE"})),
)


def order(status: str = "picked", **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "A1",
        "warehouse": "DE-FRA",
        "status": status,
        "ship_to": {"name": "Ann", "line1": "Main 1", "city": "Berlin", "postcode": "10115",
                    "country": "DE"},
        "lines": [{"sku": "SKU-1", "qty": 2, "picked": 2, "packed": 0},
                  {"sku": "SKU-2", "qty": 1, "picked": 1, "packed": 0}],
        "deadline": (NOW + timedelta(days=5)).isoformat(),
        "priority": {"level": "P2", "score": 70, "reasons": []},
        "tracking_token": "tok123",
    }  # fmt: skip
    body.update(extra)
    return body


def opened(status: str = "picked", **extra: object) -> PackSession:
    session = PackSession("pack-1")
    step = session.open(order(status, **extra), "TOTE-1", SKUS)
    assert step.accepted
    return session


# --- pack session -----------------------------------------------------------------------


def test_every_unit_is_verified_then_complete() -> None:
    session = opened()
    assert session.state is PackState.ORDER
    first = session.scan_item(SKUS["SKU-1"], "4260000010010")
    assert first.feedback.level is FeedbackLevel.OK
    assert [(op.kind, dict(op.data)) for op in first.ops] == [
        ("pack.verified", {"order_id": "A1", "sku": "SKU-1", "qty": 1})
    ]
    assert session.state is PackState.VERIFYING
    assert {r.sku: r.left for r in first.feedback.remaining} == {"SKU-1": 1, "SKU-2": 1}
    session.scan_item(SKUS["SKU-1"], "x")
    last = session.scan_item(SKUS["SKU-2"], "x")
    assert session.state is PackState.COMPLETE
    assert "all items verified" in last.feedback.text
    assert last.feedback.remaining == ()


def test_wrong_item_is_refused_with_exception() -> None:
    session = opened()
    step = session.scan_item(SKUS["SKU-9"], "4260000010096")
    assert not step.accepted
    assert "WRONG ITEM" in step.feedback.text and "SKU-9" in step.feedback.text
    assert [(op.kind, op.data["kind"]) for op in step.ops] == [("exception.raised", "wrong_item")]
    assert session.verified() == {"SKU-1": 0, "SKU-2": 0}


def test_unknown_gtin_is_a_wrong_item() -> None:
    step = opened().scan_item(None, "4006381333931")
    assert not step.accepted and "4006381333931" in step.feedback.text
    assert step.ops[0].data["kind"] == "wrong_item"


def test_too_many_is_refused() -> None:
    session = opened()
    session.scan_item(SKUS["SKU-2"], "x")
    step = session.scan_item(SKUS["SKU-2"], "x")
    assert not step.accepted and "TOO MANY" in step.feedback.text
    assert session.verified()["SKU-2"] == 1
    assert step.ops[0].kind == "exception.raised"


@pytest.mark.parametrize("status", ["cancelled", "on_hold"])
def test_stopped_order_is_not_packed(status: str) -> None:
    session = PackSession("pack-1")
    step = session.open(order(status), "TOTE-1", SKUS)
    assert not step.accepted and "STOP" in step.feedback.text
    assert step.feedback.order_id == "A1"
    assert step.ops[0].kind == "exception.raised"
    assert session.state is PackState.IDLE
    assert not session.scan_item(SKUS["SKU-1"], "x").accepted


def test_cancel_while_verifying_stops() -> None:
    session = opened()
    session.scan_item(SKUS["SKU-1"], "x")
    step = session.update_order(order("cancelled"))
    assert step is not None and "cancelled" in step.feedback.text
    assert session.state is PackState.IDLE


def test_resume_from_packed_counts() -> None:
    lines = [{"sku": "SKU-1", "qty": 2, "packed": 2}, {"sku": "SKU-2", "qty": 1, "packed": 0}]
    session = opened(lines=lines)
    assert [r.sku for r in session.remaining()] == ["SKU-2"]


def test_unknown_order_and_already_packed() -> None:
    session = PackSession()
    assert not session.open(None, "TOTE-9", SKUS).accepted
    step = session.open(order("packed", tracking="DHL-X"), "ORD-A1", SKUS)
    assert step.feedback.level is FeedbackLevel.INFO and "already packed" in step.feedback.text
    assert session.state is PackState.IDLE


def test_packed_records_order_packed_only_when_complete() -> None:
    session = opened()
    assert not session.packed("S1", 1000, "dhl-express", "T", "x").accepted
    for sku in ("SKU-1", "SKU-1", "SKU-2"):
        session.scan_item(SKUS[sku], "x")
    step = session.packed("M", 1380, "dhl-express", "DHL-PACK1-000000017", "DHL Express")
    assert step.ops[0].kind == "order.packed"
    assert step.ops[0].data["tracking"] == "DHL-PACK1-000000017"
    assert step.feedback.to_payload()["level"] == "ok"


# --- shipment planning and documents --------------------------------------------------


def test_plan_chooses_cheapest_reliable_carrier_and_smallest_carton() -> None:
    skus = {k: sku_from_row(v) for k, v in SKUS.items()}
    plan = plan_shipment(order(), skus, CARTONS, SERVICES, NOW)
    assert plan.carton.id == "M"  # bottles are 280 mm long: S1 is too short
    assert plan.weight_g == 2 * 400 + 300 + 280
    assert plan.service.id == "dpd-classic"


def test_plan_tight_deadline_and_outage() -> None:
    skus = {k: sku_from_row(v) for k, v in SKUS.items()}
    tight = order(deadline=(NOW + timedelta(hours=40)).isoformat())
    assert plan_shipment(tight, skus, CARTONS, SERVICES, NOW).service.id == "dhl-express"
    outage = [{"id": "d1", "kind": "carrier_outage", "carrier": "DHL",
               "starts_at": NOW.isoformat(), "ends_at": (NOW + timedelta(hours=2)).isoformat()}]  # fmt: skip
    plan = plan_shipment(tight, skus, CARTONS, SERVICES, NOW, disruptions=outage)
    assert plan.service.id == "dpd-classic" and plan.choice.at_risk
    assert excluded_carriers(outage, ship_to_of(tight), NOW + timedelta(hours=3)) == frozenset()


def test_measured_rates_steer_choice() -> None:
    skus = {k: sku_from_row(v) for k, v in SKUS.items()}
    rates = rates_from_stats([{"service": "dpd-classic", "country": "de", "on_time": 10,
                               "total": 100}, {"service": "bad"}])  # fmt: skip
    assert rates == {("dpd-classic", "DE"): (10, 100)}
    plan = plan_shipment(order(), skus, CARTONS, SERVICES, NOW, rates=rates)
    assert plan.service.id == "dhl-express"


def test_plan_errors_name_the_problem() -> None:
    skus = {k: sku_from_row(v) for k, v in SKUS.items()}
    with pytest.raises(PlanError, match="SKU-1"):
        plan_shipment(order(), {}, CARTONS, SERVICES, NOW)
    with pytest.raises(PlanError, match="no carton"):
        plan_shipment(order(), skus, CARTONS[:1], SERVICES, NOW)
    far = order(ship_to={"name": "x", "line1": "y", "city": "z", "postcode": "1", "country": "JP"})
    with pytest.raises(PlanError, match="JP"):
        plan_shipment(far, skus, CARTONS, SERVICES, NOW)


def test_label_carries_tracking_as_code128_and_url_qr() -> None:
    skus = {k: sku_from_row(v) for k, v in SKUS.items()}
    plan = plan_shipment(order(), skus, CARTONS, SERVICES, NOW)
    tracking = make_tracking("DPD", "pack-1", 42)
    url = tracking_url(order(), "http://central:8700/")
    label, slip = render_documents(order(), plan, tracking, {"SKU-1": "Bottle"}, url)
    seen = preview(label)
    assert ("CODE128", tracking) in [(k.split()[0], d) for k, d in seen.barcodes]
    assert seen.qrcodes == ["http://central:8700/track/tok123"]
    assert "URGENT" in seen.text
    slip_text = preview(slip).text
    assert "Bottle" in slip_text and "CARTON M" in slip_text


# --- dock -------------------------------------------------------------------------------


def test_dock_ships_packed_refuses_others_and_manifests() -> None:
    desk = DockDesk("DE-FRA", {"dhl-express": "DHL", "dpd-classic": "DPD"})
    packed = order("packed", carrier_service="dhl-express", tracking="DHL-PACK1-000000017")
    step, parcel = desk.handover(packed, "ORD-A1", NOW, 1380)
    assert step.accepted and step.ops[0].kind == "order.shipped" and parcel is not None
    refused, none = desk.handover(order("picked", id="B2"), "ORD-B2", NOW)
    assert not refused.accepted and "not packed" in refused.feedback.text and none is None
    assert not refused.ops
    again, _ = desk.handover(order("shipped", carrier_service="dhl-express"), "x", NOW)
    assert again.feedback.level is FeedbackLevel.INFO and not again.ops
    assert not desk.close("UPS", NOW)[0].accepted
    assert not desk.close("dpd", NOW)[0].accepted  # nothing handed to DPD
    step, manifest = desk.close("CLOSE-dhl".removeprefix("CLOSE-"), NOW)
    assert step.accepted and manifest is not None
    assert manifest.count == 1 and manifest.total_weight_g == 1380
    assert manifest.pickup_id == "dhl-20261125-1"
    text = preview(render_manifest(manifest)).text
    assert "DHL-PACK1-000000017" in text and "PARCELS 1" in text
    assert desk.close("dhl", NOW)[1] is None  # closed: a new pickup opens on the next scan


def test_carrier_key() -> None:
    assert carrier_key("Poczta Polska") == "poczta-polska"
    assert carrier_key(" DHL ") == "dhl"


# --- tracking numbers -------------------------------------------------------------------


def test_tracking_format_and_check() -> None:
    number = make_tracking("InPost", "pack-1", 427)
    assert number.startswith("INP-PACK1-00000427")
    assert parse_tracking(number).counter == 427
    assert not is_tracking(number[:-1] + ("0" if number[-1] != "0" else "1"))
    with pytest.raises(TrackingError, match="counter"):
        make_tracking("DHL", "pack-1", 0)
    with pytest.raises(TrackingError, match="device"):
        make_tracking("DHL", "--", 1)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10**8 - 1), st.integers(0, 17), st.sampled_from("0123456789"))
def test_single_digit_errors_are_caught(counter: int, pos: int, digit: str) -> None:
    number = make_tracking("DHL", "pack-1", counter)
    index = 10 + pos % 8  # a digit of the counter
    changed = number[:index] + digit + number[index + 1 :]
    assert is_tracking(changed) == (changed == number)


def test_counter_is_persisted_and_stable_per_order(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with TrackingCounter(path, "pack-1") as counter:
        first = counter.for_order("A1", "DHL")
        assert counter.for_order("A1", "DHL") == first
        second = counter.for_order("B2", "DHL")
    with TrackingCounter(path, "pack-1") as counter:
        third = counter.for_order("C3", "UPS")
        assert counter.last() == 3
        assert counter.for_order("A1", "DHL") == first
    assert [parse_tracking(t).counter for t in (first, second, third)] == [1, 2, 3]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["SKU-1", "SKU-2", "SKU-9", None]), max_size=12))
def test_pack_session_invariants(scans: list[str | None]) -> None:
    session = opened()
    verified_ops = 0
    for sku in scans:
        before = session.state
        step = session.scan_item(SKUS[sku] if sku else None, "x")
        verified_ops += sum(op.kind == "pack.verified" for op in step.ops)
        if not step.accepted:
            assert len(step.ops) == (0 if before is PackState.COMPLETE else 1)
            assert all(op.data.get("kind") == "wrong_item" for op in step.ops)
        counts = session.verified()
        assert counts["SKU-1"] <= 2 and counts["SKU-2"] <= 1
        assert verified_ops == sum(counts.values())
        assert (session.state is PackState.COMPLETE) == (counts == {"SKU-1": 2, "SKU-2": 1})


def test_an_order_short_of_a_top_up_says_to_set_the_tote_aside_then_bring_it_back() -> None:
    # 1 of the 2 bottles was short-picked; central sends the other in a top-up task.
    lines = [
        {"sku": "SKU-1", "qty": 2, "picked": 1, "packed": 0},
        {"sku": "SKU-2", "qty": 1, "picked": 1, "packed": 0},
    ]
    session = PackSession("pack-1")
    first = session.open(
        order("picking", lines=lines, tote="TOTE-1", totes=["TOTE-1"]), "TOTE-1", SKUS
    )
    assert first.feedback.text == (
        "order A1: scan 2 items; 1 more still to be picked: set this tote aside when done"
    )
    step = session.scan_item(SKUS["SKU-1"], "x")
    assert "set the tote aside" not in step.feedback.text
    step = session.scan_item(SKUS["SKU-2"], "x")
    assert step.feedback.text.endswith(
        "Every unit here is verified; 1 still to be picked: set the tote aside for the top-up"
    )
    assert session.state is PackState.VERIFYING  # not complete: nothing to pack yet
    assert not session.packed("S1", 700, "dhl-express", "T", "x").accepted
    # The top-up tote arrives: the order's lines now say 2 picked and 2 verified.
    lines = [
        {"sku": "SKU-1", "qty": 2, "picked": 2, "packed": 1},
        {"sku": "SKU-2", "qty": 1, "picked": 1, "packed": 1},
    ]
    topped_up = order("picked", lines=lines, tote="TOTE-2", totes=["TOTE-1", "TOTE-2"])
    again = session.open(topped_up, "TOTE-2", SKUS)
    assert again.feedback.text == (
        "order A1: scan 1 item; 2 verified earlier: bring tote TOTE-1 set aside for this order"
    )
    # Opened by its order barcode, the station still names the tote to bring.
    by_order = session.open(topped_up, "ORD-A1", SKUS)
    assert by_order.feedback.text.endswith("bring tote TOTE-1 set aside for this order")
    # The set-aside tote scanned itself: its units are the ones verified before.
    aside = session.open(topped_up, "TOTE-1", SKUS)
    assert aside.feedback.text == (
        "order A1: scan 1 item; 2 verified earlier, in this tote (set aside for this order)"
    )
    done = session.scan_item(SKUS["SKU-1"], "x")
    assert session.state is PackState.COMPLETE and "all items verified" in done.feedback.text


def test_an_order_without_its_tote_history_still_says_to_bring_the_tote_set_aside() -> None:
    # An order row from before the station kept every tote of an order.
    lines = [
        {"sku": "SKU-1", "qty": 2, "picked": 2, "packed": 1},
        {"sku": "SKU-2", "qty": 1, "picked": 1, "packed": 1},
    ]
    step = PackSession("pack-1").open(order("picked", lines=lines, tote="TOTE-2"), "TOTE-2", SKUS)
    assert step.feedback.text == (
        "order A1: scan 1 item; 2 verified earlier: bring the tote set aside for this order"
    )


def test_an_order_picked_into_two_totes_names_the_other_one() -> None:
    # A task taken over halfway: the first picker's tote holds the bottles, the second
    # picker's the rest; every unit is picked.
    lines = [
        {"sku": "SKU-1", "qty": 2, "picked": 2, "packed": 0},
        {"sku": "SKU-2", "qty": 1, "picked": 1, "packed": 0},
    ]
    two = order("picked", lines=lines, tote="TOTE-2", totes=["TOTE-1", "TOTE-2"])
    session = PackSession("pack-1")
    first = session.open(two, "TOTE-1", SKUS)
    assert first.feedback.text == "order A1: scan 3 items; also in tote TOTE-2"
    by_order = session.open(two, "ORD-A1", SKUS)
    assert by_order.feedback.text == "order A1: scan 3 items; in totes TOTE-1, TOTE-2"
    one = order("picked", lines=lines, tote="TOTE-2", totes=["TOTE-2"])
    assert session.open(one, "TOTE-2", SKUS).feedback.text == "order A1: scan 3 items"
