"""The bridge example (``config/broker/bridge-emqx.conf``) between a site's floor bus (with
the shipped device list, passwords and ACL) and a central MQTT broker, run for real: it
forwards what central watches, keeps floor commands on the floor and brings central's
state in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from config.broker.generate import default_devices_path, load_devices
from tests.edge.conftest import FloorBroker
from tests.support.broker import Broker
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SITE = "DE-FRA"
P = f"rushline/v1/{SITE}"


def bridge_conf(central_port: int) -> str:
    """The shipped example pointed at a plain loopback broker: no TLS, no remote account
    (the test's central broker is anonymous); everything else as shipped."""
    lines = []
    for line in (ROOT / "config" / "broker" / "bridge-emqx.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in ("bridge_cafile", "bridge_insecure", "remote_username", "remote_password"):
            continue
        if key == "address":
            line = f"address 127.0.0.1:{central_port}"
        lines.append(line)
    return "\n".join(lines) + "\n"


class Client:
    """A paho client that keeps what it receives."""

    def __init__(self, name: str, port: int, user: str | None = None, pw: str = "") -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[str, bytes, bool]] = []
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        if user:
            self.mqtt.username_pw_set(user, pw)
        self.mqtt.on_message = self._on_message
        self.mqtt.connect("127.0.0.1", port)
        self.mqtt.loop_start()

    def _on_message(self, _client: object, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((msg.topic, msg.payload, bool(msg.retain)))

    def topics(self) -> list[str]:
        with self.lock:
            return [topic for topic, _, _ in self.got]

    def subscribe(self, pattern: str) -> None:
        info = self.mqtt.subscribe(pattern, qos=1)
        assert info[0] == mqtt.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: str) -> None:
        self.mqtt.publish(topic, payload, qos=1).wait_for_publish(timeout=5)

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


@pytest.fixture
def bridged(tmp_path: Path) -> Iterator[tuple[FloorBroker, Broker]]:
    central = Broker(workdir=tmp_path / "central-broker").start()
    site, devices = load_devices(default_devices_path())
    passwords = {d.id: f"pw-{d.id}" for d in devices}
    floor = FloorBroker(
        workdir=tmp_path / "floor-broker",
        site=site or SITE,
        devices=devices,
        passwords=passwords,
        extra=bridge_conf(central.port),
    )
    try:
        floor.start()
        yield floor, central
    finally:
        floor.stop()
        central.stop()


def test_the_bridge_forwards_events_keeps_commands_and_brings_central_state(
    bridged: tuple[FloorBroker, Broker],
) -> None:
    floor, central = bridged
    watcher = Client("central-watcher", central.port)
    monitor = Client("monitor", floor.port, "monitor-1", floor.passwords["monitor-1"])
    sorter = Client("sorter", floor.port, "sorter-1", floor.passwords["sorter-1"])
    pack = Client("pack", floor.port, "pack-1", floor.passwords["pack-1"])
    try:
        watcher.subscribe(f"{P}/#")
        monitor.subscribe(f"{P}/#")
        # The bridge is up and says so, retained, on the floor bus.
        wait_until(
            lambda: (
                (f"{P}/bridge/state", b"1", True) in monitor.got
                or (f"{P}/bridge/state", b"1", False) in monitor.got
            ),
            timeout=15,
            what="the bridge's up notification on the floor bus",
        )
        sorter.publish(f"{P}/conveyor/conveyor-1/divert", '{"tote": "TOTE-1", "lane": 2}')
        pack.publish(f"{P}/printer/printer-pack-1/job", '{"job": "x"}')
        sorter.publish(f"{P}/conveyor/conveyor-1/event", '{"type": "diverted"}')
        pack.publish(f"{P}/order/O-1/event", '{"status": "packed"}')
        wait_until(
            lambda: (
                {f"{P}/conveyor/conveyor-1/event", f"{P}/order/O-1/event"} <= set(watcher.topics())
            ),
            timeout=15,
            what="the conveyor and order events at central",
        )
        # Floor commands published before those events never left the site.
        assert f"{P}/conveyor/conveyor-1/divert" not in watcher.topics()
        assert f"{P}/printer/printer-pack-1/job" not in watcher.topics()
        # Central's state comes in to the floor.
        watcher.publish(f"{P}/central/state", '{"online": true}')
        wait_until(
            lambda: f"{P}/central/state" in monitor.topics(),
            timeout=15,
            what="central's state on the floor bus",
        )
    finally:
        for client in (watcher, monitor, sorter, pack):
            client.close()
