"""The MQTT conveyor adapter against a real Mosquitto, with a raw paho client as the bridge."""

from __future__ import annotations

import json
import queue
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.conveyor import ConveyorError, EventType, open_conveyor
from devices.conveyor.mqtt import MqttConveyor
from devices.errors import DeviceURLError
from tests.support.broker import Broker
from tests.support.waiting import wait_until

PREFIX = "rushline/v1/DE-FRA/conveyor/cv-1"


class Bridge:
    """The conveyor side of the bus: sees divert commands, publishes events."""

    def __init__(self, broker: Broker, username: str | None = None, password: str = "") -> None:
        self.commands: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.subscribed = False
        self.client.on_message = lambda c, u, m: self.commands.put(json.loads(m.payload))
        self.client.on_subscribe = lambda *a: setattr(self, "subscribed", True)
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"{PREFIX}/divert", qos=1)
        self.client.loop_start()
        wait_until(lambda: self.subscribed, what="bridge subscribed")

    def publish(self, body: dict[str, Any] | bytes) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body)
        self.client.publish(f"{PREFIX}/event", payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def bridge(mosquitto: Broker) -> Iterator[Bridge]:
    bridge = Bridge(mosquitto)
    yield bridge
    bridge.close()


def test_divert_command_and_events_round_trip(mosquitto: Broker, bridge: Bridge) -> None:
    url = f"mqtt://{mosquitto.host}:{mosquitto.port}/cv-1?site=DE-FRA"
    with open_conveyor(url) as conveyor:
        bridge.publish(
            {
                "v": 1,
                "seq": 1,
                "at": "2026-11-25T10:00:00+00:00",
                "type": "inducted",
                "tote": "TOTE-0042",
            }
        )
        inducted = conveyor.events(timeout=5)
        assert inducted is not None and inducted.type == EventType.INDUCTED
        assert inducted.tote == "TOTE-0042" and inducted.seq == 1
        assert inducted.at.isoformat() == "2026-11-25T10:00:00+00:00"

        seq = conveyor.divert("TOTE-0042", 2, order_id="ORD-9")
        command = bridge.commands.get(timeout=5)
        assert command["v"] == 1 and command["seq"] == seq
        assert (command["tote"], command["lane"], command["order_id"]) == ("TOTE-0042", 2, "ORD-9")
        assert "T" in command["at"] and command["at"].endswith("+00:00")
        ack = conveyor.events(timeout=5)
        assert ack is not None and (ack.type, ack.seq, ack.lane) == (EventType.ACK, seq, 2)

        bridge.publish(b"{not json")
        bridge.publish({"v": 1, "seq": 2, "type": "teleported"})
        bridge.publish({"v": 1, "seq": 3, "type": "diverted", "tote": "TOTE-0042", "lane": 2})
        bridge.publish({"v": 1, "seq": 4, "type": "fault", "code": "E42", "text": "motor hot"})
        diverted = conveyor.events(timeout=5)
        assert diverted is not None and (diverted.type, diverted.lane) == (EventType.DIVERTED, 2)
        fault = conveyor.events(timeout=5)
        assert fault is not None and (fault.code, fault.text) == ("E42", "motor hot")
        status = conveyor.status
        assert status.connected and status.garbage == 2 and status.pending == 0


def test_broker_restart_is_reported_and_recovered(mosquitto: Broker) -> None:
    conveyor = MqttConveyor(mosquitto.host, mosquitto.port, "cv-1", "DE-FRA").open()
    try:
        mosquitto.restart()
        lost = conveyor.events(timeout=10)
        assert lost is not None and lost.type == EventType.HEARTBEAT_LOST
        back = conveyor.events(timeout=15)
        assert back is not None and back.type == EventType.RECONNECTED
        bridge = Bridge(mosquitto)
        try:
            conveyor.divert("TOTE-1", 1)
            assert bridge.commands.get(timeout=5)["tote"] == "TOTE-1"
        finally:
            bridge.close()
        assert conveyor.status.reconnects == 1
    finally:
        conveyor.close()


def test_username_password_and_refusal(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "auth", users={"sorter": "s3cret"}).start()
    try:
        base = f"mqtt://{broker.host}:{broker.port}/cv-1?site=DE-FRA"
        with open_conveyor(f"{base}&username=sorter&password=s3cret") as conveyor:
            assert conveyor.status.connected
        with pytest.raises(ConveyorError, match="refused"):
            open_conveyor(f"{base}&username=sorter&password=wrong")
    finally:
        broker.stop()


def test_unreachable_broker_and_bad_urls_are_named() -> None:
    with pytest.raises(ConveyorError, match=re.escape("mqtt://127.0.0.1:1/cv-1")):
        open_conveyor("mqtt://127.0.0.1:1/cv-1?site=DE-FRA")
    with pytest.raises(DeviceURLError, match="site=SITE"):
        open_conveyor("mqtt://127.0.0.1:1883/cv-1")
