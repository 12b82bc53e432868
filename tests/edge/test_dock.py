"""Dock agent over real parts: authenticated Mosquitto, pty scanner, TCP printer sim."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.printer.sim import PrinterSim
from edge.agents.dock import DockAgent
from edge.agents.station_shell import command_topic, display_topic
from edge.settings import AgentSettings
from edge.tracking_numbers import make_tracking
from tests.edge.conftest import FloorBroker
from tests.edge.test_pack import SITE, Monitor, Pty, monitor, ops_of, order_row, printer, pty, seed
from tests.support.waiting import wait_until

__all__ = ["monitor", "printer", "pty"]  # fixtures shared with test_pack

T1 = make_tracking("DHL", "pack-1", 1)
T2 = make_tracking("DHL", "pack-1", 2)
T3 = make_tracking("DPD", "pack-1", 3)


def packed_order(order_id: str, tracking: str, service: str, **extra: Any) -> dict[str, Any]:
    return order_row(
        order_id,
        {"SKU-1001": 1},
        status="packed",
        tracking=tracking,
        carrier_service=service,
        carton="S2",
        **extra,
    )


StartDock = Callable[..., DockAgent]


@pytest.fixture
def start_dock(
    agent_settings: Callable[..., AgentSettings], pty: Pty, printer: PrinterSim
) -> Iterator[StartDock]:
    agents: list[DockAgent] = []

    def start(orders: list[dict[str, Any]], seeded: bool = True) -> DockAgent:
        settings = agent_settings(
            "dock-1",
            devices={"scanner": pty.url, "printer": f"{printer.url}?timeout=2"},
            tables={"dock": {"printer_id": "printer-dock-1"}},
        )
        if seeded:
            seed(settings, orders)
        agent = DockAgent(settings)
        agents.append(agent)
        return agent.start(bus_wait=10)  # type: ignore[return-value]

    yield start
    for agent in agents:
        agent.stop()


def test_dock_ships_packed_refuses_unpacked_and_prints_manifest(
    start_dock: StartDock,
    pty: Pty,
    printer: PrinterSim,
    monitor: Monitor,
    floor_broker: FloorBroker,
) -> None:
    agent = start_dock(
        [
            packed_order("D1", T1, "dhl-express", tote="TOTE-11"),
            packed_order("D2", T2, "dhl-paket"),
            packed_order("D3", T3, "dpd-classic"),
            order_row("D4", {"SKU-1001": 1}, status="picked", tote="TOTE-44"),
        ]
    )
    display = display_topic(SITE, "dock-1")
    pty.scan(T1, "ORD-D2", "TOTE-44", T1)
    wait_until(lambda: len(monitor.on(display)) >= 4, what="four display messages")
    first, second, refused, again = monitor.on(display)[:4]
    assert first["level"] == "ok" and "SHIPPED D1" in first["text"]
    assert second["level"] == "ok" and "2 in pickup" in second["text"]
    assert refused["level"] == "error" and "not packed" in refused["text"]
    assert again["level"] == "info" and "already shipped" in again["text"]
    assert agent.store is not None
    shipped = ops_of(agent.store, "order.shipped")
    assert [(s["order_id"], s["tracking"]) for s in shipped] == [("D1", T1), ("D2", T2)]
    assert agent.store.order("D4")["status"] == "picked"  # type: ignore[index]

    pty.scan("CLOSE-DHL")
    wait_until(lambda: len(printer.jobs) == 1, timeout=15, what="DHL manifest")
    text = printer.jobs[0].preview.text
    assert "CARRIER MANIFEST" in text and "PARCELS 2" in text
    assert T1 in text and T2 in text and "D1" in text and T3 not in text
    job_topic = f"rushline/v1/{SITE}/printer/printer-dock-1/job"
    wait_until(lambda: monitor.on(job_topic), what="manifest job event")
    assert monitor.on(job_topic)[0]["kind"] == "manifest"
    assert agent.spool is not None
    assert [j.kind for j in agent.spool.jobs()] == ["manifest"]  # the spool's own kind
    # Each shipment was announced on its order topic (durable), for stations and screens.
    news = f"rushline/v1/{SITE}/order/D1/event"
    wait_until(lambda: monitor.on(news), what="shipped news of D1")
    event = monitor.on(news)[0]
    assert (event["status"], event["tracking"], event["from"]) == ("shipped", T1, "dock-1")
    assert not monitor.on(f"rushline/v1/{SITE}/order/D4/event")  # refused: no news

    pty.scan(T3)
    wait_until(lambda: len(ops_of(agent.store, "order.shipped")) == 3, what="D3 shipped")  # type: ignore[arg-type]
    # Close the DPD pickup by MQTT command from a supervisor's console.
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dock-cmd", protocol=mqtt.MQTTv5)
    sender.username_pw_set("supervisor-1", floor_broker.passwords["supervisor-1"])
    sender.connect("127.0.0.1", floor_broker.port)
    sender.loop_start()
    try:
        body = {"cmd": "close_pickup", "carrier": "dpd", "v": 1, "seq": 1, "at": "x"}
        info = sender.publish(command_topic(SITE, "dock-1"), json.dumps(body), qos=1)
        info.wait_for_publish(timeout=5)
    finally:
        sender.disconnect()
        sender.loop_stop()
    wait_until(lambda: len(printer.jobs) == 2, timeout=15, what="DPD manifest")
    dpd = printer.jobs[1].preview.text
    assert "PARCELS 1" in dpd and T3 in dpd
    assert [m.pickup_id.split("-")[0] for m in agent.manifests] == ["dhl", "dpd"]


def test_open_pickup_survives_a_restart(
    start_dock: StartDock, pty: Pty, printer: PrinterSim, monitor: Monitor
) -> None:
    agent = start_dock([packed_order("E1", T1, "dhl-express")])
    pty.scan(T1)
    wait_until(lambda: agent.shipped == 1, what="E1 shipped")
    agent.stop()
    again = start_dock([], seeded=False)
    assert [p.order_id for p in again.desk.pickups["dhl"].parcels] == ["E1"]
    pty.scan("CLOSE-dhl", "CLOSE-dhl")
    wait_until(lambda: len(printer.jobs) == 1, timeout=15, what="manifest after restart")
    assert "PARCELS 1" in printer.jobs[0].preview.text
    display = display_topic(SITE, "dock-1")
    wait_until(
        lambda: any("no open DHL pickup" in m["text"] for m in monitor.on(display)),
        what="second close refused",
    )
    assert len(printer.jobs) == 1


def test_tracking_number_that_looks_like_a_location_code(
    start_dock: StartDock, pty: Pty, monitor: Monitor
) -> None:
    tracking = make_tracking("Locus Kurier", "pack-1", 5)
    assert tracking.startswith("LOC-")  # decodes as a location barcode
    agent = start_dock([packed_order("F1", tracking, "dhl-express")])
    pty.scan(tracking.lower())
    wait_until(lambda: agent.shipped == 1, what="F1 shipped")
    assert agent.store is not None
    assert ops_of(agent.store, "order.shipped")[0]["tracking"] == tracking
