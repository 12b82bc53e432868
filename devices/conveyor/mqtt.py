"""Conveyor behind an MQTT bridge (DESIGN.md §4.3), via paho-mqtt 2.x, MQTT 5, QoS 1.

Commands go to ``rushline/v1/{site}/conveyor/{id}/divert`` as
``{v, seq, at, tote, lane, order_id?}``; events come from ``.../event`` as
``{v, seq, at, type: inducted|diverted|missed|fault, tote?, lane?, code?, text?}``.
An ``ack`` event means the broker accepted the divert (PUBACK), not the controller.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.conveyor.base import (
    ConveyorEvent,
    ConveyorStatus,
    EventType,
    HubConveyor,
    utc_now,
)
from devices.conveyor.protocol import ConveyorError, Div, encode

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_EVENT_TYPES = {
    "inducted": EventType.INDUCTED,
    "diverted": EventType.DIVERTED,
    "missed": EventType.MISSED,
    "fault": EventType.FAULT,
}
_SESSION_EXPIRY_S = 300  # the broker keeps our QoS 1 events across a short blip


def _optional(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValueError(f"{name} is not {kind.__name__}")
    return value


def event_from_payload(payload: bytes | bytearray) -> ConveyorEvent:
    """Decode one event message; ``ValueError`` names what is wrong with it."""
    body = json.loads(payload)
    if not isinstance(body, dict):
        raise ValueError("payload is not a JSON object")
    event_type = _EVENT_TYPES.get(body.get("type"))  # type: ignore[arg-type]
    if event_type is None:
        raise ValueError(f"type {body.get('type')!r} is not one of {sorted(_EVENT_TYPES)}")
    at = body.get("at")
    when = datetime.fromisoformat(at) if isinstance(at, str) else utc_now()
    if when.tzinfo is None:
        raise ValueError(f"at {at!r} has no time zone")
    return ConveyorEvent(
        event_type,
        tote=_optional(body, "tote", str),
        lane=_optional(body, "lane", int),
        seq=_optional(body, "seq", int),
        code=_optional(body, "code", str),
        text=_optional(body, "text", str),
        at=when,
    )


class MqttConveyor(HubConveyor):
    """A conveyor reached through the floor MQTT bus."""

    def __init__(
        self,
        host: str,
        port: int,
        conveyor_id: str,
        site: str,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        connect_timeout: float = 5.0,
        keepalive: int = 30,
    ) -> None:
        self.name = f"mqtt://{host}:{port}/{conveyor_id}"
        prefix = f"rushline/v1/{site}/conveyor/{conveyor_id}"
        self.divert_topic = f"{prefix}/divert"
        self.event_topic = f"{prefix}/event"
        self._host, self._port, self._keepalive = host, port, keepalive
        self._connect_timeout = connect_timeout
        super().__init__()
        self._state = threading.Lock()
        self._unacked: dict[int, tuple[int, str, int]] = {}  # mid -> (seq, tote, lane)
        self._connected = False
        self._closing = False
        self._opened = False
        self._ever_connected = False
        self._refused: str | None = None
        self._subscribed = threading.Event()
        self._last_message: datetime | None = None
        self._garbage = 0
        self._reconnects = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"rushline-conveyor-{conveyor_id}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(1, 4)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish

    def open(self) -> Self:
        """Connect and subscribe; ``ConveyorError`` if the broker is away or refuses us."""
        if self._opened:
            return self
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = _SESSION_EXPIRY_S
        try:
            self._client.connect(self._host, self._port, self._keepalive, properties=properties)
        except (OSError, ValueError) as exc:
            raise ConveyorError(f"conveyor {self.name}: cannot connect: {exc}") from exc
        self._client.loop_start()
        if not self._subscribed.wait(self._connect_timeout) or self._refused:
            reason = self._refused or f"no answer within {self._connect_timeout:g} s"
            self.close()
            raise ConveyorError(f"conveyor {self.name}: broker refused: {reason}")
        self._opened = True
        return self

    def close(self) -> None:
        """Disconnect and stop the network thread; safe to call twice."""
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()

    def divert(self, tote: str, lane: int, order_id: str | None = None) -> int:
        """Publish a divert command (QoS 1; queued while the broker is away); returns seq."""
        with self._state:
            seq = self._next_seq()
        encode(Div(seq, tote, lane))  # the same rules for ids as on the serial line
        body: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "seq": seq,
            "at": utc_now().isoformat(),
            "tote": tote,
            "lane": lane,
        }
        if order_id is not None:
            body["order_id"] = order_id
        with self._state:  # on_publish may run before publish() returns
            info = self._client.publish(self.divert_topic, json.dumps(body), qos=1)
            self._unacked[info.mid] = (seq, tote, lane)
        return seq

    @property
    def status(self) -> ConveyorStatus:
        """Link health and counters (``last_heartbeat``: last event message received)."""
        with self._state:
            return ConveyorStatus(
                connected=self._connected,
                last_heartbeat=self._last_message,
                retransmits=0,
                garbage=self._garbage,
                naks=0,
                pending=len(self._unacked),
                reconnects=self._reconnects,
                events_dropped=self._hub.dropped,
            )

    # -- paho callbacks (network thread) ---------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            self._subscribed.set()
            client.disconnect()  # wrong credentials do not get better by retrying
            return
        client.subscribe(self.event_topic, qos=1)
        with self._state:
            self._connected = True
            again = self._ever_connected
            self._ever_connected = True
            if again:
                self._reconnects += 1
        if again:
            self._hub.publish(ConveyorEvent(EventType.RECONNECTED, text=self.name))

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        if reasons and reasons[0].is_failure:
            self._refused = f"subscribe to {self.event_topic}: {reasons[0]}"
        self._subscribed.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._state:
            was_connected, self._connected = self._connected, False
        if was_connected and not self._closing:
            self._hub.publish(
                ConveyorEvent(EventType.HEARTBEAT_LOST, text=f"broker connection lost: {reason}")
            )

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        with self._state:
            sent = self._unacked.pop(mid, None)
        if sent is not None:
            seq, tote, lane = sent
            self._hub.publish(ConveyorEvent(EventType.ACK, tote=tote, lane=lane, seq=seq))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            event = event_from_payload(message.payload)
        except (ValueError, TypeError) as exc:
            with self._state:
                self._garbage += 1
            log.warning("conveyor %s: dropped event on %s: %s", self.name, message.topic, exc)
            return
        with self._state:
            self._last_message = utc_now()
        self._hub.publish(event)
