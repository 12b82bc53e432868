"""Pack and dock keep working without the central server or the broker, and reconcile.

Real parts: ``rushline central serve`` (stopped and started again on the same database and
port), Mosquitto with passwords/ACLs (killed and restarted), pty scanners, printer sims.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.printer.sim import PrinterSim
from edge.agents.base import Agent
from edge.agents.dock import DockAgent
from edge.agents.pack import PackAgent
from edge.settings import AgentSettings
from tests.edge.conftest import FloorBroker, FloorCentral
from tests.edge.test_pack import (
    GTIN,
    SITE,
    Pty,
    ops_of,
    order_row,
    printer,
    pty,
    seed,
)
from tests.support.waiting import wait_until

__all__ = ["printer", "pty"]  # fixtures shared with test_pack


def central_order(order_id: str) -> dict[str, Any]:
    return {
        "id": order_id,
        "warehouse": SITE,
        "customer": {"id": "C9", "name": "Bea Example", "email": "", "tier": "gold", "flags": []},
        "ship_to": {
            "name": "Bea Example",
            "line1": "Hauptstr. 5",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
        "lines": [{"sku": "SKU-1001", "qty": 1}, {"sku": "SKU-1002", "qty": 1}],
        "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "service": "express",
    }


def fast_retry(agent: Agent) -> None:
    # The sync client backs off up to 10 s while central is away; the test wants it back
    # within a fraction of a second of the restart.
    assert agent.sync is not None
    agent.sync.backoff_cap = 0.3


@pytest.fixture
def dock_pty() -> Iterator[Pty]:
    pair = Pty()
    yield pair
    pair.close()


@pytest.fixture
def dock_printer(tmp_path: Path) -> Iterator[PrinterSim]:
    sim = PrinterSim(port=0, out_dir=tmp_path / "dock-printed")
    sim.start()
    yield sim
    sim.stop()


def test_central_down_pack_and_dock_keep_working_and_reconcile(
    agent_settings: Callable[..., AgentSettings],
    floor_central: FloorCentral,
    pty: Pty,
    printer: PrinterSim,
    dock_pty: Pty,
    dock_printer: PrinterSim,
) -> None:
    central = floor_central.server
    with central.client() as http:
        http.post("/v1/orders", json=central_order("OFF-1")).raise_for_status()

    def settings(device: str, scanner: Pty, sim: PrinterSim) -> AgentSettings:
        return agent_settings(
            device,
            central_url=floor_central.url,
            token=central.device_token(device, SITE),
            devices={"scanner": scanner.url, "printer": f"{sim.url}?timeout=2"},
            tables={device.split("-")[0]: {"printer_id": f"printer-{device}"}},
        )

    pack = PackAgent(settings("pack-1", pty, printer))
    dock = DockAgent(settings("dock-1", dock_pty, dock_printer))
    try:
        for agent in (pack, dock):
            agent.start(bus_wait=10)
            fast_retry(agent)
        wait_until(lambda: pack.order_view("OFF-1"), timeout=20, what="pack pulled the order")
        wait_until(lambda: dock.order_view("OFF-1"), timeout=20, what="dock pulled the order")

        central.stop()
        pty.scan("ORD-OFF-1", GTIN["SKU-1001"], GTIN["SKU-1002"])
        wait_until(lambda: len(printer.jobs) == 2, timeout=20, what="printed while offline")
        assert pack.store is not None and pack.store.pending_count() >= 4
        packed = ops_of(pack.store, "order.packed")[0]
        tracking, weight_g = packed["tracking"], packed["weight_g"]

        central.start()
        wait_until(lambda: pack.store.pending_count() == 0, timeout=30, what="pack outbox drained")  # type: ignore[union-attr]
        with central.client() as http:
            body = http.get("/v1/orders/OFF-1").json()
        assert body["status"] == "packed" and body["tracking"] == tracking
        assert all(line["packed"] == line["qty"] for line in body["lines"])
        wait_until(
            lambda: (dock.order_view("OFF-1") or {}).get("status") == "packed",
            timeout=30,
            what="dock sees the order packed",
        )

        central.stop()
        dock_pty.scan(tracking, "CLOSE-" + tracking.split("-")[0])
        wait_until(lambda: len(dock_printer.jobs) == 1, timeout=20, what="manifest offline")
        manifest = dock_printer.jobs[0].preview.text
        assert tracking in manifest and "PARCELS 1" in manifest
        assert f"TOTAL WEIGHT {weight_g / 1000:.2f} kg" in manifest  # weight came via central
        assert dock.store is not None and dock.store.pending_count() == 1

        central.start()
        wait_until(lambda: dock.store.pending_count() == 0, timeout=30, what="dock drained")  # type: ignore[union-attr]
        with central.client() as http:
            body = http.get("/v1/orders/OFF-1").json()
        assert body["status"] == "shipped" and body["tracking"] == tracking
        rejected = [op for op in pack.store.outbox_history() if op.state == "rejected"]
        rejected += [op for op in dock.store.outbox_history() if op.state == "rejected"]
        assert rejected == []
    finally:
        pack.stop()
        dock.stop()


def test_broker_killed_mid_stream_no_print_job_lost_or_duplicated(
    agent_settings: Callable[..., AgentSettings],
    floor_broker: FloorBroker,
    pty: Pty,
    printer: PrinterSim,
) -> None:
    orders = [order_row(f"BK{n}", {"SKU-1001": 1}, tote=f"TOTE-9{n}") for n in range(6)]
    settings = agent_settings(
        "pack-1",
        devices={"scanner": pty.url, "printer": f"{printer.url}?timeout=2"},
        tables={"pack": {"printer_id": "printer-pack-1"}},
    )
    seed(settings, orders)
    agent = PackAgent(settings)
    try:
        agent.start(bus_wait=10)
        for n in range(3):
            pty.scan(f"TOTE-9{n}", GTIN["SKU-1001"])
        wait_until(lambda: len(printer.jobs) == 6, timeout=20, what="first three parcels")
        floor_broker.stop(kill=True)
        for n in range(3, 6):
            pty.scan(f"TOTE-9{n}", GTIN["SKU-1001"])
        wait_until(lambda: len(printer.jobs) == 12, timeout=20, what="parcels with broker down")
        assert agent.bus is not None
        wait_until(lambda: agent.bus.pending > 0, timeout=10, what="bus holds messages")  # type: ignore[union-attr]
        floor_broker.restart()
        wait_until(lambda: agent.bus.pending == 0, timeout=30, what="bus outbox drained")  # type: ignore[union-attr]
        names = sorted(job.name.split("-", 1)[1] for job in printer.jobs)
        assert names == sorted(f"BK{n}-{kind}" for n in range(6) for kind in ("shipping", "slip"))
        assert agent.store is not None
        assert sorted(o["order_id"] for o in ops_of(agent.store, "order.packed")) == [
            f"BK{n}" for n in range(6)
        ]
        trackings = {o["tracking"] for o in ops_of(agent.store, "order.packed")}
        assert len(trackings) == 6
    finally:
        agent.stop()
    assert len(printer.jobs) == 12  # nothing printed again on the way out


def test_central_down_dock_ships_an_order_packed_during_the_same_outage(
    agent_settings: Callable[..., AgentSettings],
    floor_central: FloorCentral,
    pty: Pty,
    printer: PrinterSim,
    dock_pty: Pty,
    dock_printer: PrinterSim,
) -> None:
    central = floor_central.server
    with central.client() as http:
        http.post("/v1/orders", json=central_order("OUT-1")).raise_for_status()

    def settings(device: str, scanner: Pty, sim: PrinterSim) -> AgentSettings:
        return agent_settings(
            device,
            central_url=floor_central.url,
            token=central.device_token(device, SITE),
            devices={"scanner": scanner.url, "printer": f"{sim.url}?timeout=2"},
            tables={device.split("-")[0]: {"printer_id": f"printer-{device}"}},
        )

    pack = PackAgent(settings("pack-1", pty, printer))
    dock = DockAgent(settings("dock-1", dock_pty, dock_printer))
    try:
        for agent in (pack, dock):
            agent.start(bus_wait=10)
            fast_retry(agent)
        wait_until(lambda: pack.order_view("OUT-1"), timeout=20, what="pack pulled the order")
        wait_until(lambda: dock.order_view("OUT-1"), timeout=20, what="dock pulled the order")
        assert dock.store is not None and pack.store is not None
        assert dock.store.order("OUT-1")["status"] != "packed"  # type: ignore[index]

        central.stop()
        pty.scan("ORD-OUT-1", GTIN["SKU-1001"], GTIN["SKU-1002"])
        wait_until(lambda: len(printer.jobs) == 2, timeout=20, what="printed while offline")
        packed = ops_of(pack.store, "order.packed")[0]
        tracking, weight_g = packed["tracking"], packed["weight_g"]
        # Only the bus told the dock: its store still holds the pre-outage order.
        wait_until(
            lambda: (dock.order_view("OUT-1") or {}).get("status") == "packed",
            timeout=20,
            what="dock hears the order packed on the bus",
        )
        assert dock.store.order("OUT-1")["status"] != "packed"  # type: ignore[index]
        view = dock.order_view("OUT-1") or {}
        assert (view["tracking"], view["carrier_service"]) == (tracking, packed["carrier_service"])

        dock_pty.scan(tracking)
        wait_until(lambda: ops_of(dock.store, "order.shipped"), timeout=20, what="shipped offline")  # type: ignore[arg-type]
        shipped = ops_of(dock.store, "order.shipped")
        assert [(o["order_id"], o["tracking"]) for o in shipped] == [("OUT-1", tracking)]
        assert dock.last_feedback is not None and dock.last_feedback.text.startswith("SHIPPED")
        assert (dock.order_view("OUT-1") or {}).get("status") == "shipped"  # news does not undo it
        dock_pty.scan(tracking)  # a second handover scan ships nothing twice
        wait_until(lambda: dock.scans == 2, timeout=10, what="second scan handled")
        assert len(ops_of(dock.store, "order.shipped")) == 1
        dock_pty.scan("CLOSE-" + tracking.split("-")[0])
        wait_until(lambda: len(dock_printer.jobs) == 1, timeout=20, what="manifest offline")
        manifest = dock_printer.jobs[0].preview.text
        assert tracking in manifest and "PARCELS 1" in manifest
        assert f"TOTAL WEIGHT {weight_g / 1000:.2f} kg" in manifest  # weight from the bus

        central.start()
        for agent in (pack, dock):
            store, bus = agent.store, agent.bus
            assert store is not None and bus is not None
            wait_until(lambda: store.pending_count() == 0, timeout=30, what="sync outbox drained")  # noqa: B023
            wait_until(lambda: bus.pending == 0, timeout=10, what="bus outbox drained")  # noqa: B023
            assert bus.counters.refused == 0
        with central.client() as http:
            body = http.get("/v1/orders/OUT-1").json()
        assert body["status"] == "shipped" and body["tracking"] == tracking
        assert body["carton"] == packed["carton"] and body["weight_g"] == weight_g
        rejected = [op for op in pack.store.outbox_history() if op.state == "rejected"]
        rejected += [op for op in dock.store.outbox_history() if op.state == "rejected"]
        assert rejected == []
        wait_until(
            lambda: dock.order_news("OUT-1") is None, timeout=20, what="dock store caught up"
        )
        assert (dock.order_view("OUT-1") or {}).get("status") == "shipped"
    finally:
        pack.stop()
        dock.stop()
