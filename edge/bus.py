"""The floor bus: paho-mqtt 2.x, MQTT 5, QoS 1, persistent session, durable outbox.

* Payloads are JSON objects with ``v`` (schema version), ``seq`` (this sender's counter,
  persisted), ``at`` (UTC ISO 8601) and ``from`` (the sender's device id).
* ``dev/{id}/state`` is retained {online, epoch, role}: published at every connect, with
  a last will {online: false} carrying the same ``epoch`` (a new uuid per process), so a
  consumer can ignore a stale will (``Presence``).
* ``publish(..., durable=True)`` writes the message to the outbox first and deletes it
  after its PUBACK; paho retransmits in-flight messages on reconnect, and messages left
  by an earlier process are sent again at the first connect. A PUBACK with a failure
  reason (135 not authorized) is logged and counted as refused, never retried.
* Inbound messages are deduplicated by (``from``, ``seq``) with a bounded persistent
  window before handlers see them; retained messages delivered on subscribe bypass it
  (state topics are "latest wins").

PUBACKs arrive in paho's network thread while it holds its own lock, so the bus never
takes a lock there that it holds around ``client.publish``; outbox deletions happen in a
worker thread.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import topics
from edge.errors import BusError
from edge.messages import SCHEMA_VERSION, BusCounters, BusMessage, Handler, encode, utc_now
from edge.outbox import BusStore
from edge.presence import Presence
from edge.settings import AgentSettings

log = logging.getLogger(__name__)

__all__ = [
    "QOS",
    "SCHEMA_VERSION",
    "Bus",
    "BusCounters",
    "BusMessage",
    "Handler",
    "Presence",
    "encode",
    "utc_now",
]

QOS = 1


class Bus:
    """One device's connection to the floor bus; ``start``/``stop`` or use ``with``."""

    def __init__(
        self,
        settings: AgentSettings,
        clock: Callable[[], datetime] = utc_now,
        dedupe_window: int = 1024,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
    ) -> None:
        self.settings = settings
        self.site = settings.site
        self.device_id = settings.device_id
        self.role = settings.role
        self.epoch = uuid.uuid4().hex
        self.counters = BusCounters()
        self._clock = clock
        self._store = BusStore(settings.bus_store, window=dedupe_window)
        self._publish_lock = threading.Lock()  # keeps durable messages in seq order
        self._map_lock = threading.Lock()  # never held while calling into paho
        self._mid_rows: dict[int, int] = {}  # in-flight mid -> outbox row id
        self._early: dict[int, ReasonCode] = {}  # PUBACKs that beat the mid bookkeeping
        self._ignored: set[int] = set()  # mids of non-durable messages still in flight
        self._handed: set[int] = set()  # outbox rows given to paho in this process
        self._handlers: list[tuple[str, Handler]] = []
        self._state_extra: dict[str, Any] = {}
        self._jobs: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._connected = threading.Event()
        self._answered = threading.Event()  # the broker answered a CONNECT (yes or no)
        self._refused_login: str | None = None
        self._first_connect_done = False
        self._started = False
        self._closed = False
        self.client = self._make_client(reconnect_min, reconnect_max)

    # --- setup --------------------------------------------------------------------

    def _make_client(self, reconnect_min: float, reconnect_max: float) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.device_id,
            protocol=mqtt.MQTTv5,
        )
        cfg = self.settings.mqtt
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password)
        client.reconnect_delay_set(reconnect_min, reconnect_max)  # type: ignore[arg-type]
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        will = self._state_payload(online=False, seq=self._store.next_seq())
        client.will_set(
            topics.dev_state(self.site, self.device_id), encode(will), qos=QOS, retain=True
        )
        return client

    def _state_payload(self, online: bool, seq: int) -> dict[str, Any]:
        body = {"online": online, "epoch": self.epoch, "role": self.role}
        if online:
            body.update(self._state_extra)
        return self._envelope(body, seq)

    def _envelope(self, body: dict[str, Any], seq: int) -> dict[str, Any]:
        return {
            **body,
            "v": SCHEMA_VERSION,
            "seq": seq,
            "at": self._clock().isoformat(),
            "from": self.device_id,
        }

    # --- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> Bus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, wait: float | None = None) -> Bus:
        """Connect in the background (reconnecting with backoff). With ``wait``, block up
        to that many seconds for the first connection; ``BusError`` if the broker refuses
        the login or does not answer in time."""
        if self._closed:
            raise BusError(f"bus of {self.device_id} is closed")
        if not self._started:
            self._started = True
            self._worker = threading.Thread(
                target=self._work, name=f"bus-{self.device_id}", daemon=True
            )
            self._worker.start()
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.settings.mqtt.session_expiry
            cfg = self.settings.mqtt
            self.client.connect_async(
                cfg.host, cfg.port, keepalive=cfg.keepalive, clean_start=False, properties=props
            )
            self.client.loop_start()
        if wait is not None:
            self.wait_connected(wait)
        return self

    def wait_connected(self, timeout: float) -> None:
        """Block until connected; ``BusError`` on a refused login or after ``timeout``."""
        self._answered.wait(timeout)
        if self._connected.is_set():
            return
        cfg = self.settings.mqtt
        if self._refused_login:
            raise BusError(
                f"MQTT broker {cfg.host}:{cfg.port} refused {cfg.username!r}: {self._refused_login}"
            )
        raise BusError(f"MQTT broker {cfg.host}:{cfg.port} did not answer within {timeout:g} s")

    @property
    def refused_login(self) -> str | None:
        """The broker's reason when it refused our login last time (else None)."""
        return self._refused_login

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Publish ``online: false``, wait briefly for the outbox to drain, disconnect and
        close the store. Messages not acknowledged by then stay in the outbox."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            if self.connected:
                info = self.client.publish(
                    topics.dev_state(self.site, self.device_id),
                    encode(self._state_payload(False, self._store.next_seq())),
                    qos=QOS,
                    retain=True,
                )
                self._forget(info.mid)
                self.flush(flush_timeout)
                try:
                    info.wait_for_publish(timeout=max(flush_timeout, 0.1))
                except (RuntimeError, ValueError):
                    pass
            self.client.disconnect()
            self.client.loop_stop()
            self._jobs.put(("stop", None))
            if self._worker is not None:
                self._worker.join(timeout=5)
        self._store.close()

    # --- publishing ---------------------------------------------------------------

    def publish(
        self, topic: str, payload: dict[str, Any], durable: bool = True, retain: bool = False
    ) -> int:
        """Publish ``payload`` (QoS 1) with ``v``, ``seq``, ``at`` and ``from`` added;
        durable messages survive a crash or a broker outage. Returns the seq."""
        if self._closed:
            raise BusError(f"bus of {self.device_id} is closed")
        topics.parse(topic)  # a malformed topic is a bug: fail before storing anything
        with self._publish_lock:
            seq = self._store.next_seq()
            data = encode(self._envelope(dict(payload), seq))
            row_id = self._store.enqueue(topic, data, retain) if durable else None
            if row_id is not None:
                self._handed.add(row_id)
            info = self.client.publish(topic, data, qos=QOS, retain=retain)
        self.counters.published += 1
        if row_id is not None:
            self._track(info.mid, row_id)
        else:
            self._forget(info.mid)
        return seq

    def clear_retained(self, topic: str) -> None:
        """Remove the broker's retained message on ``topic``: an empty retained message
        (QoS 1, not kept in the outbox: clearing again does no harm)."""
        if self._closed:
            raise BusError(f"bus of {self.device_id} is closed")
        topics.parse(topic)
        with self._publish_lock:
            info = self.client.publish(topic, b"", qos=QOS, retain=True)
        self.counters.published += 1
        self._forget(info.mid)

    def _forget(self, mid: int) -> None:
        """A non-durable message: its PUBACK needs no bookkeeping (and must not linger
        where a later durable message with a reused mid would find it)."""
        with self._map_lock:
            if self._early.pop(mid, None) is None:
                self._ignored.add(mid)

    def _track(self, mid: int, row_id: int) -> None:
        with self._map_lock:
            early = self._early.pop(mid, None)
            if early is None:
                self._mid_rows[mid] = row_id
        if early is not None:
            self._jobs.put(("acked", (row_id, early)))

    def publish_state(self, **extra: Any) -> int:
        """Publish the retained ``dev/{id}/state`` {online: true, epoch, role, **extra};
        the extras (e.g. metrics) are kept and sent again at every reconnect."""
        self._state_extra.update(extra)
        return self.publish(
            topics.dev_state(self.site, self.device_id),
            {"online": True, "epoch": self.epoch, "role": self.role, **self._state_extra},
            durable=False,
            retain=True,
        )

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until every durable message was acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._store.pending_count() == 0:
                return True
            time.sleep(0.01)
        return self._store.pending_count() == 0

    @property
    def pending(self) -> int:
        """Durable messages not yet acknowledged by the broker."""
        return self._store.pending_count()

    # --- subscribing --------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Call ``handler(message)`` (in the network thread: keep it short) for every new
        message matching ``topic_filter``; kept across reconnects."""
        self._handlers.append((topic_filter, handler))
        if self.connected:
            self.client.subscribe(topic_filter, qos=QOS)

    # --- paho callbacks (network thread) --------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._refused_login = str(reason_code)
            self._answered.set()
            log.error("bus %s: broker refused the connection: %s", self.device_id, reason_code)
            return
        self._refused_login = None
        self.counters.connects += 1
        birth = client.publish(
            topics.dev_state(self.site, self.device_id),
            encode(self._state_payload(True, self._store.next_seq())),
            qos=QOS,
            retain=True,
        )
        self._forget(birth.mid)
        filters = list(dict.fromkeys(f for f, _ in self._handlers))
        if filters and not flags.session_present:
            client.subscribe([(f, QOS) for f in filters])
        self._connected.set()
        self._answered.set()
        self._jobs.put(("connected", None))

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._closed:
            log.warning("bus %s: disconnected (%s), reconnecting", self.device_id, reason_code)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        # paho holds its outgoing-message lock here: only the map lock, never the
        # publish lock, and no disk I/O.
        with self._map_lock:
            if mid in self._ignored:
                self._ignored.discard(mid)
                return
            row_id = self._mid_rows.pop(mid, None)
            if row_id is None:
                self._early[mid] = reason_code
                return
        self._jobs.put(("acked", (row_id, reason_code)))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if not msg.payload:
            return  # a retained message cleared (e.g. a task claim): nothing to deliver
        try:
            payload = json.loads(msg.payload)
            if not isinstance(payload, dict):
                raise ValueError("payload is not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            self.counters.malformed += 1
            log.warning("bus %s: dropped a bad message on %s: %s", self.device_id, msg.topic, exc)
            return
        sender = payload.get("from")
        seq = payload.get("seq")
        if not isinstance(sender, str) or isinstance(seq, bool) or not isinstance(seq, int):
            sender, seq = None, None
        try:
            parsed = topics.parse(msg.topic)
            kind, ident, sub = parsed.kind, parsed.id, parsed.sub
        except BusError:
            kind, ident, sub = None, None, None
        message = BusMessage(msg.topic, payload, sender, seq, bool(msg.retain), kind, ident, sub)
        dedupe = sender is not None and seq is not None and not msg.retain
        if dedupe and self._store.is_duplicate(sender, seq):  # type: ignore[arg-type]
            self.counters.duplicates += 1
            return
        self.counters.received += 1
        for topic_filter, handler in list(self._handlers):
            if mqtt.topic_matches_sub(topic_filter, msg.topic):
                try:
                    handler(message)
                except Exception:
                    log.exception("bus %s: handler for %s failed", self.device_id, msg.topic)
        if dedupe:
            self._store.remember(sender, seq)  # type: ignore[arg-type]

    # --- worker: outbox bookkeeping off the network thread ---------------------------

    def _work(self) -> None:
        while True:
            job, arg = self._jobs.get()
            batch = [(job, arg)]
            while len(batch) < 500:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            acked: list[int] = []
            stop = False
            for job, arg in batch:
                if job == "acked":
                    row_id, reason = arg
                    acked.append(row_id)
                    if reason.is_failure:
                        self.counters.refused += 1
                        self.counters.refusal_reasons.append(str(reason))
                        log.error(
                            "bus %s: broker refused a message (%s); dropped", self.device_id, reason
                        )
                    else:
                        self.counters.acked += 1
                elif job == "connected":
                    self._resend_left_over()
                elif job == "stop":
                    stop = True
            try:
                self._store.delete(acked)
            except BusError:
                return  # closed during shutdown: what is left is sent next time
            self._handed.difference_update(acked)
            if stop:
                return

    def _resend_left_over(self) -> None:
        """Send again what an earlier process stored but never got acknowledged."""
        if self._first_connect_done:
            return  # paho itself retransmits what this process handed it
        self._first_connect_done = True
        with self._publish_lock:
            rows = self._store.unsent(exclude=set(self._handed))
            for row in rows:
                self._handed.add(row.id)
                info = self.client.publish(row.topic, row.payload, qos=QOS, retain=row.retain)
                self._track(info.mid, row.id)
                self.counters.resent += 1
        if rows:
            log.info("bus %s: re-sent %d stored messages", self.device_id, len(rows))
