"""`rushline demo` v1 on a small stream: the summary's numbers hang together."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from config.loader import load_site
from domain.models import order_from_dict
from rushline.cli import main
from rushline.demo.orders import generate_order_stream, generate_orders


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo")
    assert (
        main(
            [
                "demo",
                "--decisions-only",
                "--orders",
                "40",
                "--minutes",
                "10",
                "--seed",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    data: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return data


def test_every_order_is_classified(summary: dict[str, Any]) -> None:
    orders = summary["orders"]
    assert orders["total"] == 40 == orders["classified"] == len(summary["order_detail"])
    assert sum(orders["by_level"].values()) == 40
    assert all(row["level"] in ("P1", "P2", "P3", "P4") for row in summary["order_detail"])
    assert all(row["reasons"] for row in summary["order_detail"])
    assert orders["urgent"] == orders["by_level"]["P1"] + orders["by_level"]["P2"]


def test_urgent_orders_are_hot_tasks(summary: dict[str, Any]) -> None:
    urgent = [r for r in summary["order_detail"] if r["level"] in ("P1", "P2")]
    assert urgent
    for row in urgent:
        if row["task"] is not None:  # an order with nothing allocated has no pick task
            assert row["task_kind"] == "hot", row
    others = [r for r in summary["order_detail"] if r["level"] in ("P3", "P4") and r["task"]]
    assert all(r["task_kind"] == "batch" for r in others)
    hot_ids = {r["task"] for r in urgent if r["task"]}
    assert summary["picking"]["hot_tasks"] == len(hot_ids)


def test_allocation_and_transfer_counts_agree(summary: dict[str, Any]) -> None:
    alloc = summary["allocation"]
    short_rows = [r for r in summary["order_detail"] if r["short"]]
    assert alloc["short"] == len(short_rows)
    assert alloc["complete"] + alloc["short"] == 40
    assert alloc["short_units"] == sum(s["qty"] for r in short_rows for s in r["short"])
    assert summary["transfers"]["proposed"] <= alloc["short"]


def test_no_carrier_choice_misses_a_reachable_deadline(summary: dict[str, Any]) -> None:
    shipped = [r for r in summary["order_detail"] if "carrier" in r]
    assert shipped
    for row in shipped:
        if row["deadline_reachable"]:
            assert row["at_risk"] is False, row
            assert datetime.fromisoformat(row["promised_at"]) <= datetime.fromisoformat(
                row["deadline"]
            )
    assert summary["carrier_at_risk"] == sum(1 for r in shipped if r["at_risk"])
    assert sum(summary["carriers"].values()) == len(shipped) == sum(summary["cartons"].values())


def test_routes_are_no_longer_than_s_shape(summary: dict[str, Any]) -> None:
    picking = summary["picking"]
    assert picking["route_m_total"] <= picking["s_shape_m_total"]
    assert picking["saving_vs_s_shape_pct"] >= 0


def test_order_stream_is_deterministic_and_contract_shaped() -> None:
    site = load_site()
    start = site.demo.start
    a = generate_order_stream(site, 60, start, seed=11)
    b = generate_order_stream(site, 60, start, seed=11)
    assert a == b
    assert generate_orders(site, 60, start, 11) == [item.body for item in a]
    assert generate_order_stream(site, 60, start, seed=12) != a
    offsets = [item.offset_s for item in a]
    assert offsets == sorted(offsets) and offsets[0] >= 0 and offsets[-1] <= 1800
    skus = site.sku_by_id()
    for item in a:
        body = item.body
        assert 1 <= len(body["lines"]) <= 4
        assert all(line["sku"] in skus for line in body["lines"])
        order = order_from_dict(body, created_at=start)  # §4.2 shape parses
        assert order.deadline.tzinfo is not None and order.deadline > start
    assert len({item.body["id"] for item in a}) == 60
    names = " ".join(item.body["ship_to"]["name"] + item.body["ship_to"]["city"] for item in a)
    assert not names.isascii()


def test_bad_flag_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--orders", "0", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "rushline: error: --orders: must be at least 1, got 0"
    assert not (tmp_path / "summary.json").exists()


def test_floor_demo_refuses_bad_flags_before_starting_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "old.txt").write_text("an earlier run")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "must be a new or empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]
    fresh = tmp_path / "fresh"
    assert main(["demo", "--rate", "0", "--out", str(fresh)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "rushline: error: --rate: must be from 1 to 10000, got 0.0"
    )
    assert main(["demo", "--outage-seconds", "61", "--out", str(fresh)]) == 2
    assert "--outage-seconds: at most 60" in capsys.readouterr().err
    assert not fresh.exists()


def test_label_previews_parse_back_to_order_and_tracking() -> None:
    from rushline.demo.labels import parse_label

    text = (
        "URGENT\nSHIPPING LABEL\nSHIP TO\nZoë Müller\nORDER 261125-007-0003\nPRIORITY P1\n"
        "TRACKING DHL-PACK1-000000013\n\n[BARCODE CODE128] {BDHL-PACK1-000000013\n[CUTS] 1\n"
    )
    label = parse_label(text, "0001.txt")
    assert label is not None
    assert (label.order_id, label.tracking, label.consistent) == (
        "261125-007-0003",
        "DHL-PACK1-000000013",
        True,
    )
    assert parse_label("PACKING SLIP\nORDER 1\n") is None
    wrong = parse_label(text.replace("{BDHL-PACK1-000000013", "{BDHL-PACK1-000000014"))
    assert wrong is not None and not wrong.consistent


def test_ops_proof_counts_an_op_missing_at_central_as_lost(tmp_path: Path) -> None:
    from datetime import UTC

    from rushline.demo.readers import read_device
    from rushline.demo.report import ops_proof
    from rushline.demo.stations import DeviceStore
    from sync.store import LocalStore

    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    path = tmp_path / "hh-1.db"
    with LocalStore(path, "hh-1", "DE-FRA") as store:
        ops = [
            store.record("tote.assigned", {"tote": f"TOTE-{n}", "order_id": "O-1"}, at)
            for n in (1, 2, 3)
        ]
        store.mark_acked([{"op_id": ops[0].op_id, "status": "duplicate"}], ops[0].seq)
    device = read_device(DeviceStore(path, "hh-1", "DE-FRA"))
    central = {op.op_id: {"status": "applied"} for op in ops[:2]}
    proof = ops_proof([device], central)
    assert proof["recorded_on_devices"] == 3
    assert proof["lost"] == 1 and proof["lost_op_ids"] == [ops[2].op_id]
    assert proof["duplicates_absorbed"] == 1
    assert proof["still_pending_on_devices"] == 2
    assert ops_proof([device], {op.op_id: {"status": "applied"} for op in ops})["lost"] == 0


def test_supervisor_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    import sys
    import time

    from rushline.demo.processes import Supervisor

    stubborn = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    with Supervisor(tmp_path) as supervisor:
        child = supervisor.start("stubborn", (sys.executable, "-c", stubborn))
        supervisor.wait_ready(child, lambda: "ready" in child.log_tail(), 10, "ready line")
        started = time.monotonic()
        code = supervisor.stop("stubborn", grace=0.5)
        assert code == -9 and time.monotonic() - started < 5
        other = supervisor.start("sleeper", (sys.executable, "-c", "import time; time.sleep(60)"))
    assert other.popen.poll() is not None  # the context manager stopped it
    assert supervisor.stopped == ["stubborn", "sleeper"]
