"""What the demo hears on the floor bus: every message of the site as ``monitor-1``, and
each station's display answers, matched to the order they are about."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

if TYPE_CHECKING:
    from rushline.demo.services import BrokerInfo

log = logging.getLogger(__name__)


class FloorMonitor:
    """A subscriber to ``rushline/v1/{site}/#``; handlers by topic tail (e.g.
    ``conveyor/conveyor-1/event``)."""

    def __init__(self, broker: BrokerInfo, site: str) -> None:
        self.prefix = f"rushline/v1/{site}/"
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="demo-monitor", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set("monitor-1", broker.users["monitor-1"])
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host, self.port = broker.host, broker.port

    def start(self, timeout: float = 10.0) -> None:
        """Connect and subscribe (waits until subscribed, bounded)."""
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        self._ready.wait(timeout)

    def stop(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self.prefix + "#", qos=1)
        self._ready.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        tail = message.topic[len(self.prefix) :]
        kind = tail.split("/")[0]
        with self._lock:
            self._counts[kind] += 1
        handler = self.handlers.get(tail)
        if handler is None:
            return
        try:
            payload = json.loads(message.payload or b"{}")
        except ValueError:
            return
        try:
            handler(payload)
        except Exception:  # a handler bug must not stop the network thread
            log.exception("monitor handler failed for %s", tail)

    def counts(self) -> dict[str, int]:
        """Messages seen per first topic level."""
        with self._lock:
            return dict(self._counts)


class Display:
    """The answers a station shows after each scan (``dev/{id}/display``)."""

    def __init__(self) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()

    def put(self, payload: dict[str, Any]) -> None:
        """One message from the station."""
        self.messages.put(payload)

    def clear(self) -> None:
        """Forget answers nobody waited for."""
        while not self.messages.empty():
            self.messages.get_nowait()

    def wait(self, order_id: str, timeout: float, final: bool = False) -> dict[str, Any]:
        """The station's next answer about ``order_id`` (or about no order: a refusal);
        with ``final`` only a ``PACKED`` message or an error. {} after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return {}
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                return {}
            if message.get("order_id") not in (None, order_id):
                continue  # a late answer about an earlier parcel
            if message.get("level") == "error" or not final or packed_answer(message):
                return message


def packed_answer(message: dict[str, Any]) -> bool:
    """True for a pack station's ``PACKED ...`` answer."""
    return str(message.get("text", "")).startswith("PACKED")
