"""Who is picking which task: the claims handhelds make on the floor bus.

A handheld that opens a pick task claims it (``claim/{task_id}/{device}``, retained), so
the other handhelds leave the task off their lists and the dispatcher counts it as that
handheld's. When the picker finishes the task, the claim says so (``done``) and stays
until ten minutes after the handheld sees the task closed by the central server (its
orders shipped or cancelled): until then the other handhelds, which do not see each
other's picks while central is away and may pull the close later, still leave it
alone. A claim on an unfinished task is given up when the picker signs out or the task
is cancelled (see below). This works without the central server: the bus is on site.

Two handhelds may open the same task within the same moment and both claim it. Each of
them, and the dispatcher, then settles it the same way without asking anyone: the
earlier claim holds the task (claim time, then device id). A claim of a device the bus
reports offline (signed out, or off the air: its last will) holds nothing unless it is
``done``; an unfinished task is free for the next picker.

A claim also says how far its picker got: the units picked or reported short per order
line and bin (``progress``). A handheld that takes over an unfinished task sends its
picker for the rest only, also while the central server is away and the first
handheld's picks have not reached it. So that the progress is not lost, a picker who
signs out (or whose task is cancelled) halfway through leaves the claim ``released``:
it holds nothing but keeps the progress until the task closes. A claim with no
progress is simply cleared.

A handheld that comes back on the air may find its unfinished task taken over: a later
claim of another handheld on the bus, with units picked (or done). It then leaves the
task to that picker (``taken_over``): its picker drops the units picked so far in a
tote bound to their order, which goes to packing; the other handheld was not sent for
them.

Pure rules: the bus clients feed a ``ClaimBook`` with what they hear.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Claim", "ClaimBook", "LineKey", "Progress", "claim_from_payload", "progress_of"]

LineKey = tuple[str, str, str]  # (order_id, sku, location)
# Units picked or reported short per order line and bin, sorted by key.
Progress = tuple[tuple[LineKey, int], ...]


def progress_of(units: Mapping[LineKey, int]) -> Progress:
    """A claim's progress from units per (order, sku, bin); keys with none are left out."""
    return tuple(sorted((key, qty) for key, qty in units.items() if qty > 0))


@dataclass(frozen=True)
class Claim:
    """One device's claim on one task: ``at`` is when it was made (ISO 8601 text);
    ``done`` once the device's picker finished the task; ``released`` when the picker
    left it unfinished (it holds nothing then); ``progress`` the units done so far."""

    task_id: str
    device: str
    operator: str
    at: str
    done: bool = False
    released: bool = False
    progress: Progress = ()

    def body(self) -> dict[str, Any]:
        """The claim's message body (the bus adds its envelope)."""
        body: dict[str, Any] = {
            "task_id": self.task_id,
            "device": self.device,
            "operator": self.operator,
        }
        if self.done:
            body["done"] = True
        if self.released:
            body["released"] = True
        if self.progress:
            body["progress"] = [
                {"order_id": o, "sku": s, "location": loc, "qty": qty}
                for (o, s, loc), qty in self.progress
            ]
        return body

    def units(self) -> dict[LineKey, int]:
        """The progress as units per (order, sku, bin)."""
        return dict(self.progress)

    def sort_key(self) -> tuple[str, str]:
        return (self.at, self.device)


def claim_from_payload(task_id: str, device: str, payload: Any) -> Claim | None:
    """The claim a retained message on ``claim/{task_id}/{device}`` carries; None for an
    empty message (a cleared claim) or one that is not a claim. The topic names the task
    and the device; a payload that names others is not believed."""
    if not isinstance(payload, dict) or not payload:
        return None
    if payload.get("task_id", task_id) != task_id or payload.get("device", device) != device:
        return None
    at = payload.get("at")
    if not isinstance(at, str) or not at:
        return None
    operator = payload.get("operator")
    operator = operator if isinstance(operator, str) else ""
    done, released = payload.get("done") is True, payload.get("released") is True
    return Claim(task_id, device, operator, at, done, released, _progress(payload))


def _progress(payload: Mapping[str, Any]) -> Progress:
    """The ``progress`` entries of a claim that are well formed (text ids, a whole
    positive quantity); the others are left out (they count nothing)."""
    entries = payload.get("progress")
    if not isinstance(entries, list):
        return ()
    units: dict[LineKey, int] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        order_id, sku, location = entry.get("order_id"), entry.get("sku"), entry.get("location")
        qty = entry.get("qty")
        if not (isinstance(order_id, str) and isinstance(sku, str) and isinstance(location, str)):
            continue
        if order_id and sku and location and type(qty) is int and qty > 0:
            key = (order_id, sku, location)
            units[key] = units.get(key, 0) + qty
    return progress_of(units)


class ClaimBook:
    """The claims one device has heard, and which devices the bus says are offline.
    Thread-safe: the bus client writes from its network thread, the UI reads."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self._lock = threading.Lock()
        self._claims: dict[str, dict[str, Claim]] = {}  # task -> device -> claim
        self._offline: set[str] = set()

    def heard(self, task_id: str, device: str, claim: Claim | None) -> None:
        """A claim made (``claim``) or cleared (None) on the bus."""
        with self._lock:
            per_task = self._claims.setdefault(task_id, {})
            if claim is None:
                per_task.pop(device, None)
                if not per_task:
                    del self._claims[task_id]
            else:
                per_task[device] = claim

    def forget(self, task_id: str) -> None:
        """Drop every claim on ``task_id`` (the task is closed)."""
        with self._lock:
            self._claims.pop(task_id, None)

    def device_state(self, device: str, online: bool) -> None:
        """A device's retained state: an offline device's claims hold nothing."""
        with self._lock:
            if online:
                self._offline.discard(device)
            else:
                self._offline.add(device)

    def holding(self, task_id: str) -> Claim | None:
        """The claim that holds ``task_id``: the earliest of those that are done or of a
        device not offline, released ones left out."""
        with self._lock:
            live = [
                c
                for d, c in self._claims.get(task_id, {}).items()
                if not c.released and (c.done or d not in self._offline)
            ]
        return min(live, key=Claim.sort_key) if live else None

    def taken_over(self, task_id: str) -> Claim | None:
        """The claim of another device that took ``task_id`` over from this one: made
        after this device's own unfinished claim, not released, with units picked or
        done, by a device not offline. None when there is no such claim."""
        with self._lock:
            claims = dict(self._claims.get(task_id, {}))
            offline = set(self._offline)
        mine = claims.pop(self.device_id, None)
        if mine is None or mine.done or mine.released:
            return None
        takers = [
            c
            for d, c in claims.items()
            if not c.released
            and (c.progress or c.done)
            and (c.done or d not in offline)
            and c.sort_key() > mine.sort_key()
        ]
        return min(takers, key=Claim.sort_key) if takers else None

    def done_elsewhere(self, task_id: str) -> dict[LineKey, int]:
        """Units the other devices' claims on ``task_id`` say they picked or reported
        short, per (order, sku, bin), held claims or not."""
        units: dict[LineKey, int] = {}
        for claim in self.claimants(task_id):
            if claim.device == self.device_id:
                continue
            for key, qty in claim.progress:
                units[key] = units.get(key, 0) + qty
        return units

    def claimants(self, task_id: str) -> list[Claim]:
        """Every claim heard on ``task_id``, offline devices' too, earliest first."""
        with self._lock:
            return sorted(self._claims.get(task_id, {}).values(), key=Claim.sort_key)

    def holder(self, task_id: str) -> Claim | None:
        """The claim holding ``task_id`` when it is another device's, else None."""
        claim = self.holding(task_id)
        return claim if claim is not None and claim.device != self.device_id else None

    def own(self, task_id: str) -> Claim | None:
        """This device's claim on ``task_id`` (held or not)."""
        with self._lock:
            return self._claims.get(task_id, {}).get(self.device_id)

    def own_tasks(self) -> list[str]:
        """Tasks this device has a claim on."""
        with self._lock:
            return sorted(t for t, per_task in self._claims.items() if self.device_id in per_task)
