"""The demo's packers at a split order: the first tote waits on the shelf for its top-up;
when the station asks for it, the packer brings it over, even when the station's view of
the order lags behind another station's scans (a central outage).

Each station is the real ``PackSession`` over an order row the test sets (what the
station's store would show), answering on a ``Display`` as the pack agent does; the
floor around the world is a stand-in with a fast clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from domain.totes import totes_of
from edge.station.pack_session import PackSession, PackState
from rushline.demo.monitor import Display
from rushline.demo.world import Tote as WorldTote
from rushline.demo.world import World

SKUS = {s: {"sku": s, "gtin": f"G-{s}", "name": f"item {s}"} for s in ("A", "B")}


class Station:
    """A pack station: the session's answers to scans, over ``view`` (order id -> row)."""

    def __init__(self, name: str) -> None:
        self.session = PackSession(name)
        self.display = Display()
        self.view: dict[str, dict[str, Any]] = {}
        self.packed: list[str] = []

    def scan(self, raw: str) -> None:
        if raw.startswith("G-"):
            step = self.session.scan_item(SKUS.get(raw[2:]), raw)
        else:
            order = self.view.get(raw.removeprefix("ORD-")) or next(
                (o for o in self.view.values() if raw in totes_of(o)), None
            )
            step = self.session.open(order, raw, SKUS)
        for op in step.ops:  # the store's view shows the station's own scans at once
            if op.kind == "pack.verified":
                rows = self.view[str(op.data["order_id"])]["lines"]
                line = next(li for li in rows if li["sku"] == op.data["sku"])
                line["packed"] += op.data["qty"]
        payload = step.feedback.to_payload()
        if self.session.state is PackState.COMPLETE and step.accepted:
            self.packed.append(str(self.session.order_id))
            payload = {"level": "ok", "text": "PACKED", "order_id": self.session.order_id}
            self.session.open(None, "", SKUS)
        self.display.put(payload)


def row(lines: dict[str, tuple[int, int, int]], tote: str, totes: list[str]) -> dict[str, Any]:
    """Order O1 as a station's store shows it: ``lines`` sku -> (qty, picked, packed)."""
    return {
        "id": "O1",
        "status": "picking",
        "tote": tote,
        "totes": totes,
        "lines": [{"sku": s, "qty": q, "picked": p, "packed": k} for s, (q, p, k) in lines.items()],
    }


@pytest.fixture
def world() -> Iterator[World]:
    clock = SimpleNamespace(rate=1e6, now=lambda: datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    floor = SimpleNamespace(clock=clock, gtin_of=lambda sku: f"G-{sku}", order_level=lambda o: "P3")
    stations = SimpleNamespace(
        floor=floor,
        scanners={},
        devices=[],
        monitor=None,
        conveyor=None,
        role_running=lambda role: role == "pack",
    )
    floor_world = World(stations)  # type: ignore[arg-type]
    yield floor_world
    floor_world.stop()


def pack(world: World, station: Station, tote: WorldTote) -> None:
    world._pack(station, station.display, tote)


def test_the_top_up_tote_brings_the_first_one_over_even_to_a_station_that_lags(
    world: World,
) -> None:
    # O1 wants 2 A and 1 B; the picker found 1 A and the B (T1), a top-up brings 1 A (T2).
    first, top_up = WorldTote("T1", "O1", contents={"A": 1, "B": 1}), None
    pack_2 = Station("pack-2")
    pack_2.view["O1"] = row({"A": (2, 1, 0), "B": (1, 1, 0)}, "T1", ["T1"])
    pack(world, pack_2, first)
    assert world._waiting == {"O1": [first]}
    assert first.trail[-1].endswith("set aside for its top-up")
    # pack-1 has heard of pack-2's A but not of its B, nor of the top-up (central is away):
    # it cannot find T2 and asks for the order barcode, then for the tote set aside.
    pack_1 = Station("pack-1")
    pack_1.view["O1"] = row({"A": (2, 1, 1), "B": (1, 1, 0)}, "T1", ["T1"])
    top_up = WorldTote("T2", "O1", contents={"A": 1})
    pack(world, pack_1, top_up)
    # The packer scanned A out of T2 and the B again out of T1, which it brought over.
    assert pack_1.packed == ["O1"]
    assert world._waiting == {}
    assert (world.counts["rejoined"], world.counts["packed"]) == (1, 1)
    assert [t.split(" ", 1)[1] for t in first.trail[-2:]] == [
        "brought to T2 at packing",
        "rejoined with T2",
    ]


def test_a_second_tote_set_aside_for_the_same_order_is_looked_at_again(world: World) -> None:
    # O1 wants 1 A and 2 B; T1 held the A; the first top-up (T2) brought 1 B.
    pack_1 = Station("pack-1")
    pack_1.view["O1"] = row({"A": (1, 1, 0), "B": (2, 0, 0)}, "T1", ["T1"])
    first = WorldTote("T1", "O1", contents={"A": 1})
    pack(world, pack_1, first)
    assert world._waiting == {"O1": [first]} and world._jobs == []
    pack_1.view["O1"] = row({"A": (1, 1, 1), "B": (2, 1, 0)}, "T2", ["T1", "T2"])
    second = WorldTote("T2", "O1", contents={"B": 1})
    pack(world, pack_1, second)
    assert pack_1.display.messages.empty()
    # One B is still to be picked: both totes wait together, and one of them is looked at
    # again later (the station's view may have been behind).
    assert world._waiting == {"O1": [second, first]}
    assert len(world._jobs) == 1
    world._jobs.pop().action()
    assert [entry for _, _, entry in world._pack_queue] == [second]
    assert world._waiting == {"O1": [first]}
    world._pack_queue.clear()
    pack(world, pack_1, second)  # still short: back beside T1, looked at again once more
    assert world._waiting == {"O1": [second, first]} and second.checks == 1
    # The last B comes in T3: both waiting totes are brought over and the order packs.
    pack_1.view["O1"] = row({"A": (1, 1, 1), "B": (2, 2, 1)}, "T3", ["T1", "T2", "T3"])
    pack(world, pack_1, WorldTote("T3", "O1", contents={"B": 1}))
    assert pack_1.packed == ["O1"]
    assert world._waiting == {}
    assert world.counts["rejoined"] == 2
