"""The handheld on the floor bus: pushed hot picks on ``rushline/v1/{site}/task/{device_id}``,
its presence on ``rushline/v1/{site}/dev/{device_id}/state``, the tote an order was
put in on ``rushline/v1/{site}/order/{order_id}/event`` (so the sorter and the pack
stations know the tote even while the central server is away), and the tasks its
picker is working on, on ``rushline/v1/{site}/claim/{task_id}/{device_id}`` (retained;
see ``domain.claims``): it hears every handheld's claims and presence, so a task
another picker has opened is left off this handheld's list.

The task dispatcher pushes hot picks only to handhelds it sees online (retained state,
role ``handheld``): the handheld is available while a picker is signed in; signing out,
closing the app or dropping off the air (the last will) makes it unavailable, so its
open tasks go to someone else. The state follows the bus's shape: {online, epoch, role}
plus ``v``, ``seq``, ``at``, ``from``; the will carries the same ``epoch``.

The floor bus (``edge.bus``) belongs to the station agents; the handheld needs a few
topics, so it keeps this thin paho-mqtt client rather than importing its
sibling. A persistent session (fixed client id, no clean start) means a task pushed
while the handheld was briefly off the air is delivered when it reconnects.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from domain.claims import Claim, ClaimBook, LineKey, claim_from_payload, progress_of

log = logging.getLogger(__name__)

TaskHandler = Callable[[dict[str, Any]], None]
SESSION_EXPIRY_S = 3600


def task_topic(site: str, device_id: str) -> str:
    """The topic hot picks for one handheld are pushed on (DESIGN.md §4.3)."""
    for name, value in (("site", site), ("device_id", device_id)):
        if not value or any(c in value for c in "/+#"):
            raise ValueError(f"{name} {value!r} cannot be a topic level")
    return f"rushline/v1/{site}/task/{device_id}"


def state_topic(site: str, device_id: str) -> str:
    """The retained presence topic of one device (DESIGN.md §4.3)."""
    task_topic(site, device_id)  # the same checks on the two levels
    return f"rushline/v1/{site}/dev/{device_id}/state"


def order_event_topic(site: str, order_id: str) -> str:
    """The topic of an order's floor news (DESIGN.md §4.3)."""
    task_topic(site, order_id)  # the same checks on the two levels
    return f"rushline/v1/{site}/order/{order_id}/event"


def claim_topic(site: str, task_id: str, device_id: str) -> str:
    """The retained topic of one device's claim on one task (DESIGN.md §4.3)."""
    task_topic(site, task_id)  # the same checks on the levels
    task_topic(site, device_id)
    return f"rushline/v1/{site}/claim/{task_id}/{device_id}"


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
        role: str = "handheld",
    ) -> None:
        self.topic = task_topic(site, device_id)
        self.state_topic = state_topic(site, device_id)
        self.site = site
        self.device_id = device_id
        self.role = role
        self.epoch = uuid.uuid4().hex  # a new one per run: a stale will is told apart
        self.on_task = on_task
        self.host = host
        self.port = port
        self.received = 0
        self.malformed = 0
        self.announced = 0
        self.connected = False
        self.connects = 0  # connections made (the first and every reconnect)
        self.claims = ClaimBook(device_id)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{device_id}-tasks",
            protocol=mqtt.MQTTv5,
        )
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.reconnect_delay_set(1, 5)
        self._lock = threading.Lock()
        self._seq = int(time.time() * 1000)  # increasing across runs without a file
        self._available = False
        self._operator = ""
        self.client.will_set(self.state_topic, self._state(False), qos=1, retain=True)
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
        """Say the handheld is gone (a clean disconnect sends no will), then disconnect."""
        if self.connected:
            info = self.client.publish(self.state_topic, self._state(False), qos=1, retain=True)
            try:
                info.wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                log.warning("task push: could not say goodbye on %s", self.state_topic)
        self.client.disconnect()
        self.client.loop_stop()

    def set_available(self, available: bool, operator: str = "") -> None:
        """Signed in (available for hot picks) or not; published at once when connected
        and again at every reconnect."""
        with self._lock:
            self._available = available
            self._operator = operator if available else ""
        if not available:
            for task_id in self.claims.own_tasks():  # signed out: unfinished tasks are free
                self.release(task_id)
        if self.connected:
            self._publish_state()

    # --- task claims (``session.ClaimPort``) ----------------------------------------

    def holder(self, task_id: str) -> Claim | None:
        """Another handheld's claim that holds ``task_id``, else None."""
        return self.claims.holder(task_id)

    def claim(
        self,
        task_id: str,
        operator: str,
        done: bool = False,
        progress: Mapping[LineKey, int] | None = None,
    ) -> None:
        """Say this handheld's picker works on ``task_id``, or (``done``) finished it,
        with the units done so far (``progress``; None keeps what the claim said)
        (retained, QoS 1; paho keeps it until the broker is reachable). A claim keeps the
        time it was first made: that time decides who holds the task. One released
        before is made anew, at the current time."""
        before = self.claims.own(task_id)
        units = progress_of(progress) if progress is not None else None
        if before is not None and not before.released:
            if before.done == done and units in (None, before.progress):
                return
            at = before.at
        else:
            at = datetime.now(UTC).isoformat()
        if units is None:
            units = before.progress if before is not None else ()
        claim = Claim(task_id, self.device_id, operator, at, done, progress=units)
        if self._publish_claim(claim):
            self.claims.heard(task_id, self.device_id, claim)

    def _claim_again(self) -> None:
        """Publish this handheld's claims once more (at every connect): a broker that
        lost its retained messages (a restart without its store) has them back."""
        for task_id in self.claims.own_tasks():
            claim = self.claims.own(task_id)
            if claim is not None:
                self._publish_claim(claim)

    def _publish_claim(self, claim: Claim) -> bool:
        """Send ``claim`` retained at QoS 1, stamped with its own time; False when the
        task id cannot be a topic level."""
        try:
            topic = claim_topic(self.site, claim.task_id, self.device_id)
        except ValueError as exc:
            log.warning("task %s not claimed: %s", claim.task_id, exc)
            return False
        body = self._envelope(claim.body(), at=claim.at)
        self.client.publish(topic, body, qos=1, retain=True)
        return True

    def own_tasks(self) -> list[str]:
        """Tasks this handheld has a claim on."""
        return self.claims.own_tasks()

    def release(self, task_id: str) -> None:
        """This handheld's picker leaves ``task_id`` unfinished: a claim with progress
        stays, ``released`` (it holds nothing, and the next picker is sent for the rest
        only); one without is cleared. A finished task's claim is not touched."""
        claim = self.claims.own(task_id)
        if claim is None or claim.done or claim.released:
            return
        if not claim.progress:
            self.clear(task_id)
            return
        released = replace(claim, released=True)
        if self._publish_claim(released):
            self.claims.heard(task_id, self.device_id, released)

    def clear(self, task_id: str) -> None:
        """Clear this handheld's claim on ``task_id`` (an empty retained message)."""
        if self.claims.own(task_id) is None:
            return
        self.claims.heard(task_id, self.device_id, None)
        try:
            topic = claim_topic(self.site, task_id, self.device_id)
        except ValueError:
            return
        self.client.publish(topic, b"", qos=1, retain=True)

    def taken_over(self, task_id: str) -> Claim | None:
        """Another handheld's claim that took ``task_id`` over from this one (see
        ``ClaimBook.taken_over``)."""
        return self.claims.taken_over(task_id)

    def claimants(self, task_id: str) -> list[Claim]:
        """Every claim heard on ``task_id`` (this handheld's too), earliest first."""
        return self.claims.claimants(task_id)

    def done_elsewhere(self, task_id: str) -> dict[LineKey, int]:
        """Units the other handhelds' claims on ``task_id`` say they picked or reported
        short."""
        return self.claims.done_elsewhere(task_id)

    def announce_tote(self, order_id: str, tote: str) -> None:
        """Tell the floor that ``order_id`` is in ``tote`` now (``order/{id}/event``):
        the sorter and the pack stations know the tote even while central is away.
        Sent at QoS 1; paho keeps it until the broker is reachable again."""
        try:
            topic = order_event_topic(self.site, order_id)
        except ValueError as exc:
            log.warning("tote %s not announced: %s", tote, exc)
            return
        body = self._envelope({"order_id": order_id, "tote": tote})
        self.client.publish(topic, body, qos=1)
        self.announced += 1

    def _envelope(self, body: dict[str, Any], at: str | None = None) -> bytes:
        """``body`` with the bus's ``v``, ``seq``, ``at`` (default now) and ``from``."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        stamped = {**body, "v": 1, "seq": seq, "at": at or datetime.now(UTC).isoformat()}
        stamped["from"] = self.device_id
        return json.dumps(stamped, separators=(",", ":")).encode()

    def _state(self, online: bool) -> bytes:
        with self._lock:
            body: dict[str, Any] = {"online": online, "epoch": self.epoch, "role": self.role}
            if online and self._operator:
                body["operator"] = self._operator
        return self._envelope(body)

    def _publish_state(self) -> None:
        self.client.publish(self.state_topic, self._state(self._available), qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("task push: broker refused the connection: %s", reason)
            return
        self.connected = True
        self.connects += 1
        client.subscribe(
            [
                (self.topic, 1),
                (f"rushline/v1/{self.site}/claim/+/+", 1),
                (f"rushline/v1/{self.site}/dev/+/state", 1),
            ]
        )
        self._publish_state()
        self._claim_again()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        levels = msg.topic.split("/")
        if len(levels) == 6 and levels[3] == "claim":
            self._on_claim(levels[4], levels[5], msg.payload, bool(msg.retain))
            return
        if len(levels) == 6 and levels[3] == "dev" and levels[5] == "state":
            if levels[4] != self.device_id:
                body = _json_object(msg.payload)
                self.claims.device_state(levels[4], bool(body and body.get("online")))
            return
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

    def _on_claim(
        self, task_id: str, device: str, payload: bytes | bytearray, retained: bool
    ) -> None:
        claim = claim_from_payload(task_id, device, _json_object(payload))
        if device != self.device_id:
            self.claims.heard(task_id, device, claim)
            return
        # This handheld's own claim. What it claimed in this run is known here already:
        # an echo of a claim it sent, or a copy queued in its session while it was away,
        # is older news and must not undo a later claim (a task finished since). Only a
        # retained claim from an earlier run is taken in.
        if not retained or claim is None or self.claims.own(task_id) is not None:
            return
        self.claims.heard(task_id, device, claim)
        with self._lock:
            available = self._available
        if not available and not claim.done and not claim.released:
            # An unfinished task from an earlier run: nobody here is picking it. (A
            # finished one stays until the task closes.)
            self.release(task_id)


def _json_object(payload: bytes | bytearray) -> dict[str, Any] | None:
    """A message's JSON object, None when it is empty or not one."""
    try:
        data = json.loads(payload) if payload else None
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
