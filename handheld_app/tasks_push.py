"""Pushed hot picks: a small MQTT 5 subscriber to ``rushline/v1/{site}/task/{device_id}``.

The floor bus (``edge.bus``) belongs to the station agents; the handheld only listens on
one topic, so it keeps this thin paho-mqtt client rather than importing its sibling.
A persistent session (fixed client id, no clean start) means a task pushed while the
handheld was briefly off the air is delivered when it reconnects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

TaskHandler = Callable[[dict[str, Any]], None]
SESSION_EXPIRY_S = 3600


def task_topic(site: str, device_id: str) -> str:
    """The topic hot picks for one handheld are pushed on (DESIGN.md §4.3)."""
    for name, value in (("site", site), ("device_id", device_id)):
        if not value or any(c in value for c in "/+#"):
            raise ValueError(f"{name} {value!r} cannot be a topic level")
    return f"rushline/v1/{site}/task/{device_id}"


def task_from_payload(payload: bytes | bytearray) -> dict[str, Any] | None:
    """The task in a pushed message: the payload's ``task`` object, or the payload
    itself (the bus envelope flattens its body); None when it is not a task."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    inner = data.get("task")
    task: dict[str, Any] = inner if isinstance(inner, dict) else data
    if not isinstance(task.get("id"), str) or not task.get("id"):
        return None
    return task


class TaskPush:
    """Subscribes to this handheld's task topic; calls ``on_task(task)`` per message
    (on paho's network thread: the app hops to the UI thread itself)."""

    def __init__(
        self,
        host: str,
        port: int,
        site: str,
        device_id: str,
        on_task: TaskHandler,
        username: str = "",
        password: str = "",
    ) -> None:
        self.topic = task_topic(site, device_id)
        self.on_task = on_task
        self.host = host
        self.port = port
        self.received = 0
        self.malformed = 0
        self.connected = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{device_id}-tasks",
            protocol=mqtt.MQTTv5,
        )
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.reconnect_delay_set(1, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background (reconnects by itself)."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.host, self.port, clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("task push: broker refused the connection: %s", reason)
            return
        self.connected = True
        client.subscribe(self.topic, qos=1)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        task = task_from_payload(msg.payload)
        if task is None:
            self.malformed += 1
            log.warning("task push: dropped a message that is not a task on %s", msg.topic)
            return
        self.received += 1
        try:
            self.on_task(task)
        except Exception:  # a UI bug must not kill the network thread
            log.exception("task push: handler failed")
