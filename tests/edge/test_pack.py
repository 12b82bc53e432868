"""Pack station agent over real parts: Mosquitto with passwords and ACLs, a scanner on a
real pseudo-terminal, the TCP printer simulator, the device's SQLite store.

The store is seeded the way a pull would fill it (``apply_changes``), so these tests need
no central server; tests/edge/test_agents_offline.py runs against a real one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import tty
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from config.loader import load_masterdata, load_site, masterdata_to_dict
from devices.printer.preview import preview
from devices.printer.sim import PrinterSim
from edge.agents.pack import PackAgent
from edge.agents.station_shell import display_topic
from edge.settings import AgentSettings
from edge.tracking_numbers import parse_tracking
from sync.store import LocalStore
from tests.edge.conftest import FloorBroker, handheld_announces
from tests.support.waiting import wait_until

SITE = "DE-FRA"
NOW = datetime.now(UTC)
GTIN = {"SKU-1001": "4260000010010", "SKU-1002": "4260000010027", "SKU-1009": "4260000010096"}


# --- helpers shared with test_dock.py and test_agents_offline.py -----------------------


class Pty:
    """A pseudo-terminal pair: the agent opens ``path`` as a serial scanner; the test
    types barcodes into ``master``."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    @property
    def url(self) -> str:
        """The scanner URL for the agent settings."""
        return f"serial://{self.path}?baudrate=9600&suffix=CR"

    def scan(self, *codes: str) -> None:
        """Type each code followed by CR, as a scanner in serial mode does."""
        for code in codes:
            os.write(self.master, code.encode() + b"\r")

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Monitor:
    """A subscriber logged in as monitor-1 (reads the whole site) that keeps every message."""

    def __init__(self, broker: FloorBroker) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="monitor-test", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set("monitor-1", broker.passwords["monitor-1"])
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._ready.wait(10), "monitor did not subscribe"

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(f"rushline/v1/{SITE}/#", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            body = {"raw": msg.payload.decode(errors="replace")}
        with self._lock:
            self.messages.append((msg.topic, body))

    def on(self, topic: str) -> list[dict[str, Any]]:
        """Payloads received on ``topic`` so far."""
        with self._lock:
            return [body for t, body in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def order_row(
    order_id: str,
    lines: dict[str, int],
    status: str = "picked",
    tote: str | None = None,
    level: str = "P2",
    **extra: Any,
) -> dict[str, Any]:
    """An order as the change feed carries it (SYNC_CONTRACT ``order``)."""
    row: dict[str, Any] = {
        "id": order_id,
        "warehouse": SITE,
        "customer": {"id": "C1", "name": "Ann Example", "tier": "standard", "flags": []},
        "ship_to": {
            "name": "Ann Example",
            "line1": "Hauptstr. 5",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
        "lines": [{"sku": s, "qty": q, "picked": q, "packed": 0} for s, q in lines.items()],
        "deadline": (NOW + timedelta(days=4)).isoformat(),
        "created_at": NOW.isoformat(),
        "service": "standard",
        "tags": [],
        "status": status,
        "exceptions": [],
        "priority": {"level": level, "score": 50.0, "reasons": []},
        "allocations": [],
        "tote": tote,
        "carrier_service": None,
        "tracking": None,
        "carton": None,
        "tracking_token": f"tok-{order_id}",
        "updated_at": NOW.isoformat(),
    }
    row.update(extra)
    return row


def masterdata_changes() -> list[dict[str, Any]]:
    """The shipped SKUs and carriers as pulled rows."""
    site = load_site()
    assert site.masterdata_path is not None
    md = masterdata_to_dict(load_masterdata(site.masterdata_path))
    changes = [{"entity": "sku", "id": s["sku"], "data": s} for s in md["skus"]]
    changes += [{"entity": "carrier", "id": c["id"], "data": c} for c in md["carriers"]]
    return changes


def seed(settings: AgentSettings, orders: list[dict[str, Any]]) -> None:
    """Fill the device store as a pull from central would."""
    changes = masterdata_changes() + [{"entity": "order", "id": o["id"], "data": o} for o in orders]
    with LocalStore(settings.store, settings.device_id, settings.site) as store:
        store.apply_changes(changes, cursor=len(changes), epoch="seeded")


def ops_of(store: LocalStore, kind: str) -> list[dict[str, Any]]:
    """Data of every op of ``kind`` in the outbox history."""
    return [op.data for op in store.outbox_history() if op.kind == kind]


@pytest.fixture
def pty() -> Iterator[Pty]:
    pair = Pty()
    yield pair
    pair.close()


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[PrinterSim]:
    sim = PrinterSim(port=0, out_dir=tmp_path / "printed")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def monitor(floor_broker: FloorBroker) -> Iterator[Monitor]:
    mon = Monitor(floor_broker)
    yield mon
    mon.close()


StartPack = Callable[..., PackAgent]


@pytest.fixture
def start_pack(
    agent_settings: Callable[..., AgentSettings], pty: Pty, printer: PrinterSim
) -> Iterator[StartPack]:
    agents: list[PackAgent] = []

    def start(orders: list[dict[str, Any]], **options: Any) -> PackAgent:
        settings = agent_settings(
            "pack-1",
            devices={"scanner": pty.url, "printer": f"{printer.url}?timeout=2"},
            tables={"pack": {"printer_id": "printer-pack-1"}},
            **options,
        )
        seed(settings, orders)
        agent = PackAgent(settings)
        agents.append(agent)
        return agent.start(bus_wait=10)  # type: ignore[return-value]

    yield start
    for agent in agents:
        agent.stop()


def label_jobs(printer: PrinterSim) -> list[str]:
    return [job.name for job in printer.jobs]


# --- tests ------------------------------------------------------------------------------


def test_pack_flow_prints_label_with_tracking(
    start_pack: StartPack, pty: Pty, printer: PrinterSim, monitor: Monitor
) -> None:
    agent = start_pack([order_row("A100", {"SKU-1001": 2, "SKU-1002": 1}, tote="TOTE-0042")])
    pty.scan("TOTE-0042", GTIN["SKU-1001"], GTIN["SKU-1002"], GTIN["SKU-1001"])
    wait_until(lambda: len(printer.jobs) == 2, timeout=15, what="label and slip printed")
    assert agent.store is not None
    packed = ops_of(agent.store, "order.packed")
    assert len(packed) == 1
    tracking = packed[0]["tracking"]
    assert parse_tracking(tracking).device_tag == "PACK1"
    label = next(j for j in printer.jobs if "shipping" in j.name)
    seen = preview(label.data)
    assert any(kind.startswith("CODE128") and data == tracking for kind, data in seen.barcodes)
    assert "A100" in seen.text and "URGENT" in seen.text
    assert seen.qrcodes and seen.qrcodes[0].endswith("/track/tok-A100")
    slip = next(j for j in printer.jobs if "slip" in j.name)
    assert "SKU-1002" in slip.preview.text
    verified = ops_of(agent.store, "pack.verified")
    assert sorted(v["sku"] for v in verified) == ["SKU-1001", "SKU-1001", "SKU-1002"]
    assert agent.store.order("A100")["status"] == "packed"  # type: ignore[index]
    wait_until(lambda: len(ops_of(agent.store, "label.printed")) == 2, what="label.printed")  # type: ignore[arg-type]
    assert {o["job_id"] for o in ops_of(agent.store, "label.printed")} == {
        "A100-label",
        "A100-slip",
    }
    display = display_topic(SITE, "pack-1")
    wait_until(lambda: any("PACKED" in m["text"] for m in monitor.on(display)), what="display")
    job_topic = f"rushline/v1/{SITE}/printer/printer-pack-1/job"
    wait_until(lambda: len(monitor.on(job_topic)) >= 4, what="job events")
    states = {(m["job_id"], m["state"]) for m in monitor.on(job_topic)}
    assert ("A100-label", "printed") in states and ("A100-slip", "queued") in states
    status_topic = f"rushline/v1/{SITE}/printer/printer-pack-1/status"
    wait_until(lambda: monitor.on(status_topic), what="printer status")
    assert monitor.on(status_topic)[-1]["online"] is True


def test_a_tote_a_handheld_announced_opens_its_order_before_central_hears_of_it(
    start_pack: StartPack,
    pty: Pty,
    printer: PrinterSim,
    monitor: Monitor,
    floor_broker: FloorBroker,
) -> None:
    # The station's store knows A600 without a tote: the binding is still in the
    # handheld's outbox (central is away). The handheld said it on the floor bus.
    agent = start_pack([order_row("A600", {"SKU-1001": 1})])
    handheld_announces(floor_broker, "A600", "TOTE-0600", lambda: agent.order_news("A600"))
    display = display_topic(SITE, "pack-1")
    pty.scan("TOTE-0600")
    wait_until(lambda: monitor.on(display), what="tote opened")
    opened = monitor.on(display)[-1]
    assert (opened["order_id"], opened["level"]) == ("A600", "info"), opened
    pty.scan(GTIN["SKU-1001"])
    wait_until(lambda: len(printer.jobs) == 2, timeout=15, what="label and slip printed")


def test_the_tote_set_aside_for_a_top_up_is_named_and_found_by_its_scan(
    start_pack: StartPack, pty: Pty, printer: PrinterSim, monitor: Monitor
) -> None:
    # A450 reached packing in TOTE-0051 one unit short; what was there was verified and
    # the tote set aside. The top-up unit comes in TOTE-0086.
    row = order_row(
        "A450", {"SKU-1001": 2, "SKU-1002": 1}, tote="TOTE-0086", totes=["TOTE-0051", "TOTE-0086"]
    )
    row["lines"][0]["packed"] = row["lines"][1]["packed"] = 1
    agent = start_pack([row])
    display = display_topic(SITE, "pack-1")
    pty.scan("TOTE-0086")
    wait_until(lambda: monitor.on(display), what="top-up tote opened")
    assert monitor.on(display)[-1]["text"] == (
        "order A450: scan 1 item; 2 verified earlier: bring tote TOTE-0051 set aside for this order"
    )
    # The packer scans the tote off the shelf: it opens the same order.
    pty.scan("TOTE-0051")
    wait_until(lambda: len(monitor.on(display)) >= 2, what="set-aside tote opened")
    reopened = monitor.on(display)[-1]
    assert (reopened["order_id"], reopened["level"]) == ("A450", "info")
    assert reopened["text"].endswith("2 verified earlier, in this tote (set aside for this order)")
    pty.scan(GTIN["SKU-1001"])
    wait_until(lambda: len(printer.jobs) == 2, timeout=15, what="label and slip printed")
    assert agent.store is not None
    assert [v["sku"] for v in ops_of(agent.store, "pack.verified")] == ["SKU-1001"]
    assert len(ops_of(agent.store, "order.packed")) == 1


def test_wrong_item_and_too_many_are_rejected(
    start_pack: StartPack, pty: Pty, printer: PrinterSim, monitor: Monitor
) -> None:
    agent = start_pack([order_row("A200", {"SKU-1001": 1, "SKU-1002": 1})])
    display = display_topic(SITE, "pack-1")
    pty.scan("ORD-A200", GTIN["SKU-1009"])
    wait_until(lambda: any("WRONG ITEM" in m["text"] for m in monitor.on(display)), what="wrong")
    wrong = next(m for m in monitor.on(display) if "WRONG ITEM" in m["text"])
    assert wrong["level"] == "error" and wrong["order_id"] == "A200"
    assert {r["sku"] for r in wrong["remaining"]} == {"SKU-1001", "SKU-1002"}
    pty.scan(GTIN["SKU-1001"], GTIN["SKU-1001"])
    wait_until(lambda: any("TOO MANY" in m["text"] for m in monitor.on(display)), what="too many")
    assert agent.store is not None
    kinds = [e["kind"] for e in ops_of(agent.store, "exception.raised")]
    assert kinds == ["wrong_item", "wrong_item"]
    assert len(ops_of(agent.store, "pack.verified")) == 1
    assert printer.jobs == []  # nothing printed while a line is still open
    pty.scan(GTIN["SKU-1002"])
    wait_until(lambda: len(printer.jobs) == 2, timeout=15, what="printed once complete")


def test_cancelled_order_stops(
    start_pack: StartPack, pty: Pty, printer: PrinterSim, monitor: Monitor
) -> None:
    agent = start_pack([order_row("A300", {"SKU-1001": 1}, status="cancelled", tote="TOTE-7")])
    display = display_topic(SITE, "pack-1")
    pty.scan("TOTE-7", GTIN["SKU-1001"])
    wait_until(lambda: len(monitor.on(display)) >= 2, what="two display messages")
    stop, after = monitor.on(display)[:2]
    assert stop["level"] == "error" and "cancelled" in stop["text"] and "STOP" in stop["text"]
    assert after["level"] == "error"  # no order open: the item is not accepted
    assert agent.store is not None
    assert [e["kind"] for e in ops_of(agent.store, "exception.raised")] == ["other"]
    assert ops_of(agent.store, "pack.verified") == []
    assert printer.jobs == []


def test_bad_barcode_gets_a_clear_message(
    start_pack: StartPack, pty: Pty, monitor: Monitor
) -> None:
    start_pack([])
    display = display_topic(SITE, "pack-1")
    pty.scan("4260000010011", "LOC-A01-01-1")
    wait_until(lambda: len(monitor.on(display)) >= 2, what="two messages")
    bad, location = monitor.on(display)[:2]
    assert "check digit" in bad["text"] and bad["level"] == "error"
    assert "location" in location["text"]


def test_cancel_on_the_bus_stops_the_open_order(
    start_pack: StartPack,
    pty: Pty,
    printer: PrinterSim,
    monitor: Monitor,
    floor_broker: FloorBroker,
) -> None:
    agent = start_pack([order_row("A400", {"SKU-1001": 2})])
    pty.scan("ORD-A400", GTIN["SKU-1001"])
    wait_until(lambda: agent.session.verified().get("SKU-1001") == 1, what="one verified")
    dispatcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cancel", protocol=mqtt.MQTTv5)
    dispatcher.username_pw_set("dispatch-1", floor_broker.passwords["dispatch-1"])
    dispatcher.connect("127.0.0.1", floor_broker.port)
    dispatcher.loop_start()
    try:
        body = {"status": "cancelled", "v": 1, "seq": 1, "at": NOW.isoformat(), "from": "x"}
        topic = f"rushline/v1/{SITE}/order/A400/event"
        dispatcher.publish(topic, json.dumps(body), qos=1).wait_for_publish(timeout=5)
    finally:
        dispatcher.disconnect()
        dispatcher.loop_stop()
    display = display_topic(SITE, "pack-1")
    wait_until(lambda: any("STOP" in m["text"] for m in monitor.on(display)), what="stop shown")
    assert agent.session.state.value == "idle"
    pty.scan(GTIN["SKU-1001"])
    wait_until(lambda: agent.scans == 3, what="third scan handled")
    assert printer.jobs == []
    assert agent.store is not None
    assert [e["kind"] for e in ops_of(agent.store, "exception.raised")] == ["other"]


def test_cli_names_a_bad_pack_setting(tmp_path: Path) -> None:
    config = tmp_path / "pack.toml"
    config.write_text(
        '[device]\nid = "pack-1"\nsite = "DE-FRA"\nrole = "pack"\nstore = "p.db"\n'
        '[central]\nurl = "http://127.0.0.1:9"\ntoken = "t"\n'
        '[pack]\nprinter_id = "p"\ncolour = "red"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "rushline", "agent", "pack", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "pack.colour: unknown key" in done.stderr
    assert "Traceback" not in done.stderr


def test_rushline_agent_pack_runs_and_stops_on_sigterm(
    agent_settings: Callable[..., AgentSettings], pty: Pty, printer: PrinterSim
) -> None:
    settings = agent_settings(
        "pack-1",
        devices={"scanner": pty.url, "printer": f"{printer.url}?timeout=2"},
        tables={"pack": {"printer_id": "printer-pack-1"}},
    )
    seed(settings, [order_row("C1", {"SKU-1002": 1}, tote="TOTE-5")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "rushline", "agent", "pack", "--config", str(settings.path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        bus_file = settings.bus_store
        wait_until(bus_file.exists, timeout=30, what="agent started")

        # The scanner may open a moment after the bus store: repeat the scan until the
        # label shows up (a second complete scan is refused, never printed twice).
        def printed() -> bool:
            if not printer.jobs:
                pty.scan("TOTE-5", GTIN["SKU-1002"])
            return len(printer.jobs) == 2

        wait_until(printed, timeout=30, interval=0.5, what="label printed by the CLI agent")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    with LocalStore(settings.store, settings.device_id, settings.site) as store:
        assert [o["order_id"] for o in ops_of(store, "order.packed")] == ["C1"]


def test_cancel_pulled_from_central_stops_the_open_order(
    start_pack: StartPack, pty: Pty, printer: PrinterSim, monitor: Monitor
) -> None:
    agent = start_pack([order_row("A500", {"SKU-1001": 2})])
    pty.scan("ORD-A500", GTIN["SKU-1001"])
    wait_until(lambda: agent.session.verified().get("SKU-1001") == 1, what="one verified")
    assert agent.store is not None
    cancelled = order_row("A500", {"SKU-1001": 2}, status="cancelled")
    agent.store.apply_changes(
        [{"entity": "order", "id": "A500", "data": cancelled}], cursor=999, epoch="seeded"
    )  # what the sync client does when a pull brings the cancel
    display = display_topic(SITE, "pack-1")
    wait_until(lambda: any("STOP" in m["text"] for m in monitor.on(display)), what="stop shown")
    assert agent.session.order_id is None
    assert printer.jobs == []
