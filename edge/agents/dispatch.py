"""The task dispatcher: bridges the central change feed to the floor bus.

It follows the feed through its own store and sync client. A new open hot task (P1/P2)
is assigned to an online handheld of the site (known from retained ``dev/+/state``,
role handheld) with the fewest open tasks, round-robin among equals, and published on
``task/{device_id}`` (durable, QoS 1). A task a handheld's picker opened (its claim on
``claim/{task_id}/{device}``, see ``domain.claims``) is that handheld's: it is not
pushed to anyone else, and it counts as one of that handheld's open tasks until the
picker finishes it, so a picker halfway through a batch is not the first choice for the
next hot pick. Hot tasks of a handheld that goes offline unfinished are given to
another. A pushed hot task nobody has opened after ``repush_after_s`` (simulated time
in the demo) is pushed to a handheld with no open task, if there is one: its picker may
be busy, or away from the handheld.
Priority and status changes of orders are published on
``order/{order_id}/event``. Central never talks MQTT; this agent does.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from domain.claims import ClaimBook, claim_from_payload
from edge import topics
from edge.agents.base import Agent
from edge.bus import BusMessage, Presence
from edge.settings import AgentSettings

log = logging.getLogger(__name__)

HOT_LEVELS = ("P1", "P2")
CLOSED_TASK = ("done", "cancelled")
REPUSH_AFTER_S = 120.0
# A claim still on a task this long after it closed is cleared by the dispatcher (the
# handheld clears its own after ten minutes; one that never came back cannot).
CLAIM_SWEEP_S = 3600.0


class DispatchAgent(Agent):
    """Pushes hot pick tasks to handhelds and order news to the floor."""

    role = "dispatch"

    def __init__(self, settings: AgentSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        table = settings.role_table("dispatch")
        unknown = sorted(set(table) - {"hot_levels", "handheld_role", "repush_after_s"})
        if unknown:
            raise settings.fail(f"dispatch.{unknown[0]}", "unknown key")
        levels = table.get("hot_levels", list(HOT_LEVELS))
        if not isinstance(levels, list) or not all(v in ("P1", "P2", "P3", "P4") for v in levels):
            raise settings.fail("dispatch.hot_levels", f"must be a list of P1..P4, got {levels!r}")
        role = table.get("handheld_role", "handheld")
        if not isinstance(role, str) or not role:
            raise settings.fail("dispatch.handheld_role", f"must be a role name, got {role!r}")
        repush = table.get("repush_after_s", REPUSH_AFTER_S)
        if isinstance(repush, bool) or not isinstance(repush, int | float) or repush < 0:
            raise settings.fail(
                "dispatch.repush_after_s", f"must be seconds >= 0 (0: never), got {repush!r}"
            )
        self.hot_levels = tuple(levels)
        self.handheld_role = role
        self.repush_after = float(repush)
        self._pushed_at: dict[str, datetime] = {}  # pushed, not opened yet
        self._closed_at: dict[str, datetime] = {}  # closed tasks with claims, since
        self.repushed = 0
        self.presence = Presence()
        self._lock = threading.RLock()
        self.assigned: dict[str, str] = {}  # task id -> handheld
        self.claims = ClaimBook(self.device_id)  # what the handhelds say they work on
        self.waiting: dict[str, dict[str, Any]] = {}  # hot tasks with no handheld yet
        self._known_orders: dict[str, tuple[str | None, str | None]] = {}
        self._last_pick: str | None = None
        self.pushed = 0
        self.order_events = 0

    # --- lifecycle ----------------------------------------------------------------

    def on_start(self) -> None:
        if self.store is not None:
            for order in self.store.orders():
                self._known_orders[str(order.get("id"))] = _news_key(order)
        if self.bus is not None:
            self.bus.subscribe(topics.any_of(self.site, "dev_state"), self._on_device_state)
            self.bus.subscribe(topics.any_of(self.site, "claim"), self._on_claim)
        self._scan_tasks()

    # --- presence -----------------------------------------------------------------

    def _on_device_state(self, message: BusMessage) -> None:
        device = message.id
        if device is None or device == self.device_id:
            return
        if not self.presence.update(device, message.payload):
            return
        self.claims.device_state(device, bool(message.payload.get("online")))
        if message.payload.get("online"):
            self._assign_waiting()
        else:
            self._take_back(device)

    def _take_back(self, device: str) -> None:
        """A handheld went offline: its unfinished hot tasks go to someone else (not
        those its picker finished, a done claim, nor those another handheld opened)."""
        with self._lock:
            tasks = []
            for task_id in [t for t, d in self.assigned.items() if d == device]:
                holding = self.claims.holding(task_id)
                if holding is not None:
                    self.assigned[task_id] = holding.device
                    continue
                del self.assigned[task_id]
                row = self.store.get("task", task_id) if self.store is not None else None
                if row is not None and self.is_hot(row):  # a batch task waits on the lists
                    tasks.append(task_id)
                    self.waiting[task_id] = row
        if tasks:
            log.info(
                "%s: %s went offline; reassigning %d tasks", self.device_id, device, len(tasks)
            )
            self._assign_waiting()

    def _on_claim(self, message: BusMessage) -> None:
        """A handheld's picker opened a task: the task is that handheld's now (the
        earliest claim when two opened it at once), and no longer waits for a push."""
        task_id, device = message.id, message.sub
        if task_id is None or device is None:
            return
        self.claims.heard(task_id, device, claim_from_payload(task_id, device, message.payload))
        row = self.store.get("task", task_id) if self.store is not None else None
        if row is not None and row.get("status") in CLOSED_TASK:
            with self._lock:  # a claim left on a closed task: swept later, not assigned
                self._closed_at.setdefault(task_id, self.clock())
            return
        holding = self.claims.holding(task_id)
        if holding is None:
            return
        with self._lock:
            before = self.assigned.get(task_id)
            self.waiting.pop(task_id, None)
            self._pushed_at.pop(task_id, None)
            self.assigned[task_id] = holding.device
        if before not in (None, holding.device):
            log.info(
                "%s: task %s taken by %s (pushed to %s)",
                self.device_id,
                task_id,
                holding.device,
                before,
            )

    # --- tasks --------------------------------------------------------------------

    def is_hot(self, task: dict[str, Any]) -> bool:
        """True for an open task that must be pushed now."""
        return task.get("status") == "open" and (
            task.get("kind") == "hot" or task.get("level") in self.hot_levels
        )

    def _scan_tasks(self, ids: list[str] | None = None) -> None:
        if self.store is None:
            return
        if ids is None:
            rows = self.store.tasks(status=None, warehouse=self.site)
        else:
            rows = [r for r in (self.store.get("task", i) for i in ids) if r is not None]
        with self._lock:
            for row in rows:
                task_id = str(row.get("id"))
                if row.get("warehouse") not in (None, self.site):
                    continue
                if row.get("status") in CLOSED_TASK:
                    self.assigned.pop(task_id, None)
                    self.waiting.pop(task_id, None)
                    self._pushed_at.pop(task_id, None)
                    if self.claims.claimants(task_id):
                        self._closed_at.setdefault(task_id, self.clock())
                elif self.is_hot(row) and task_id not in self.assigned:
                    self.waiting[task_id] = row
        self._assign_waiting()

    def open_counts(self) -> dict[str, int]:
        """Open tasks per online handheld: hot tasks pushed to it and tasks its picker
        opened, less those the picker finished (a done claim)."""
        with self._lock:
            counts = dict.fromkeys(self.presence.online(self.handheld_role), 0)
            for task_id, device in self.assigned.items():
                holding = self.claims.holding(task_id)
                if device in counts and (holding is None or not holding.done):
                    counts[device] += 1
            return counts

    def choose(self) -> str | None:
        """The online handheld with the fewest open tasks; round-robin among equals."""
        counts = self.open_counts()
        if not counts:
            return None
        devices = sorted(counts)
        if self._last_pick in devices:
            start = devices.index(self._last_pick) + 1
            devices = devices[start:] + devices[:start]
        return min(devices, key=lambda d: counts[d])

    def _assign_waiting(self) -> None:
        with self._lock:
            # Most urgent first: level, then deadline.
            order = sorted(
                self.waiting.values(),
                key=lambda t: (str(t.get("level") or "P4"), str(t.get("deadline") or "")),
            )
            for task in order:
                device = self.choose()
                if device is None:
                    return
                task_id = str(task.get("id"))
                self.waiting.pop(task_id, None)
                self.assigned[task_id] = device
                self._last_pick = device
                self._push(device, task)

    def on_tick(self) -> None:
        self.repush_overdue()
        self.sweep_claims()

    def sweep_claims(self) -> list[str]:
        """Clear the claims still on tasks closed ``CLAIM_SWEEP_S`` ago (a handheld that
        never came back); returns the tasks."""
        now = self.clock()
        with self._lock:
            due = [
                t
                for t, at in self._closed_at.items()
                if (now - at).total_seconds() >= CLAIM_SWEEP_S
            ]
            for task_id in due:
                del self._closed_at[task_id]
        for task_id in due:
            for claim in self.claims.claimants(task_id):
                if self.bus is not None:
                    self.bus.clear_retained(topics.claim(self.site, task_id, claim.device))
            self.claims.forget(task_id)
        return due

    def repush_overdue(self) -> list[str]:
        """Push again, to a handheld with no open task, each hot task nobody has opened
        ``repush_after_s`` after it was pushed; returns their ids."""
        if self.repush_after <= 0 or self.store is None:
            return []
        now = self.clock()
        moved = []
        with self._lock:
            for task_id, at in sorted(self._pushed_at.items(), key=lambda kv: kv[1]):
                current = self.assigned.get(task_id)
                if current is None or self.claims.holding(task_id) is not None:
                    self._pushed_at.pop(task_id, None)
                    continue
                if (now - at).total_seconds() < self.repush_after:
                    continue
                row = self.store.get("task", task_id)
                if row is None or not self.is_hot(row):
                    self._pushed_at.pop(task_id, None)
                    continue
                counts = self.open_counts()
                free = [d for d in sorted(counts) if counts[d] == 0 and d != current]
                if not free:
                    continue  # nobody free now: look again at the next tick
                device = free[0]
                self.assigned[task_id] = device
                self._push(device, row)
                self.repushed += 1
                moved.append(task_id)
                log.info(
                    "%s: task %s not opened on %s in %.0f s; pushed to %s",
                    self.device_id,
                    task_id,
                    current,
                    self.repush_after,
                    device,
                )
        return moved

    def _push(self, device: str, task: dict[str, Any]) -> None:
        self._pushed_at[str(task.get("id"))] = self.clock()
        if self.bus is None:
            return
        self.bus.publish(
            topics.task(self.site, device),
            {"task_id": task.get("id"), "assigned_to": device, "task": task},
        )
        self.pushed += 1
        log.info("%s: task %s -> %s", self.device_id, task.get("id"), device)

    # --- order news -----------------------------------------------------------------

    def _order_news(self, ids: list[str]) -> None:
        if self.store is None or self.bus is None:
            return
        for order_id in ids:
            row = self.store.order(order_id)
            if row is None:
                continue
            key = _news_key(row)
            before = self._known_orders.get(order_id)
            self._known_orders[order_id] = key
            if before is None or before == key:
                continue  # a new order is not news; an unchanged one neither
            priority = row.get("priority") or {}
            self.bus.publish(
                topics.order_event(self.site, order_id),
                {
                    "order_id": order_id,
                    "status": row.get("status"),
                    "level": priority.get("level"),
                    "priority": priority,
                    "previous": {"status": before[1], "level": before[0]},
                },
            )
            self.order_events += 1

    def on_view_change(self, entity: str, ids: list[str]) -> None:
        if entity == "task":
            self._scan_tasks(ids)
        elif entity == "order":
            self._order_news(ids)
        elif entity == "*":
            self._scan_tasks()

    def metrics(self) -> dict[str, Any]:
        with self._lock:
            return {
                "dispatch": {
                    "pushed": self.pushed,
                    "repushed": self.repushed,
                    "waiting": len(self.waiting),
                    "assigned_open": len(self.assigned),
                    "handhelds_online": self.presence.online(self.handheld_role),
                    "order_events": self.order_events,
                }
            }


def _news_key(order: dict[str, Any]) -> tuple[str | None, str | None]:
    return ((order.get("priority") or {}).get("level"), order.get("status"))


def run(settings: AgentSettings) -> int:
    """``rushline agent dispatch``: run until SIGTERM/SIGINT."""
    return DispatchAgent(settings).run()
