"""The task list: open tasks most urgent first, coloured by level, with a countdown to
the deadline and the priority reasons; a banner when a hot task is pushed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.claims import Claim
from handheld_app.presenters.progress import TaskProgress
from handheld_app.presenters.timefmt import countdown, parse_when
from sync.store import LocalStore

Row = dict[str, Any]
URGENT_LEVELS = ("P1", "P2")
# An order in one of these has nothing left to pick (or must not be picked).
_PICKED_OR_LATER = frozenset({"picked", "packed", "shipped", "delivered", "cancelled"})


def task_reasons(store: LocalStore, task: Row, limit: int = 4) -> tuple[str, ...]:
    """Why the task is urgent: the priority reasons of its orders (deduplicated)."""
    seen: dict[str, None] = {}
    for order_id in task.get("order_ids") or []:
        order = store.order(str(order_id)) or {}
        for reason in (order.get("priority") or {}).get("reasons") or []:
            seen.setdefault(str(reason), None)
    return tuple(list(seen)[:limit])


@dataclass(frozen=True)
class TaskRow:
    """One task in the list."""

    task_id: str
    level: str
    kind: str
    title: str
    countdown: str
    late: bool
    lines_left: int
    units_left: int
    first_location: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class TaskListView:
    """The task list screen: rows most urgent first and a banner for a pushed hot task."""

    rows: tuple[TaskRow, ...]
    banner: str = ""
    banner_level: str = ""
    banner_task_id: str = ""


class TaskListPresenter:
    """Open tasks of this device's site that still have work on this device and that no
    other handheld holds (``held``: the claim holding a task, when another's)."""

    def __init__(
        self,
        store: LocalStore,
        progress: TaskProgress,
        clock: Callable[[], datetime],
        held: Callable[[str], Claim | None] | None = None,
    ) -> None:
        self.store = store
        self.progress = progress
        self.clock = clock
        self.held = held
        self._banner = ""
        self._banner_level = ""
        self._banner_task = ""
        self._announced: set[str] = set()

    def open_tasks(self) -> list[Row]:
        """Open tasks with work left here, most urgent first (level, deadline), that
        this handheld may take (``free``)."""
        rows = self.store.tasks(status="open", warehouse=self.store.site)
        # The orders' statuses in one read for the whole list.
        statuses = self.store.order_statuses(o for t in rows for o in t.get("order_ids") or [])
        progress = self.progress
        return [t for t in rows if not progress.finished(t, statuses) and self.free(t, statuses)]

    def free(self, task: Row, statuses: Mapping[str, str] | None = None) -> bool:
        """Whether this handheld may take the task: it started it itself, or nobody else
        holds it and its orders still need picking."""
        task_id = str(task["id"])
        if self.progress.started(task_id):
            return True
        if self.held is not None and self.held(task_id) is not None:
            return False
        return not self.picked_elsewhere(task, statuses)

    def picked_elsewhere(self, task: Row, statuses: Mapping[str, str] | None = None) -> bool:
        """Every order of the task is picked or later in the replica: another handheld
        picked it (central keeps a task open until its orders ship, and the picker's
        claim may be gone by then). A top-up task is for units still to pick."""
        order_ids = [str(o) for o in task.get("order_ids") or []]
        if task.get("kind") == "topup" or not order_ids:
            return False
        if statuses is None:
            statuses = self.store.order_statuses(order_ids)
        return all(statuses.get(o) in _PICKED_OR_LATER for o in order_ids)

    def row(self, task: Row) -> TaskRow:
        """The list row of one task."""
        now = self.clock()
        deadline = parse_when(task.get("deadline"))
        left = [line for line in self.progress.lines(task) if line.left]
        order_ids = [str(o) for o in task.get("order_ids") or []]
        title = order_ids[0] if len(order_ids) == 1 else f"Batch of {len(order_ids)} orders"
        if task.get("kind") == "topup":  # the rest of an order whose tote went ahead
            title = f"{title} top-up for tote {task.get('after_tote') or '?'}"
        return TaskRow(
            task_id=str(task["id"]),
            level=str(task.get("level") or "P4"),
            kind=str(task.get("kind") or ""),
            title=title,
            countdown=countdown(deadline, now),
            late=deadline is not None and deadline < now,
            lines_left=len(left),
            units_left=sum(line.left for line in left),
            first_location=left[0].location if left else "tote",
            reasons=task_reasons(self.store, task),
        )

    def view(self) -> TaskListView:
        """The list as it should be shown now (a banner for a task another picker has
        opened since is dropped)."""
        if self._banner_task and self.held is not None and self.held(self._banner_task):
            self.dismiss_banner()
        rows = tuple(self.row(t) for t in self.open_tasks())
        return TaskListView(rows, self._banner, self._banner_level, self._banner_task)

    def banner(self) -> tuple[str, str, str]:
        """The banner alone (text, level, task id), without reading the task list."""
        return self._banner, self._banner_level, self._banner_task

    def pushed(self, task: Row) -> bool:
        """A task pushed to this device: a new urgent one raises the banner (once).
        Returns True when the banner was raised."""
        task_id = str(task.get("id") or "")
        level = str(task.get("level") or "")
        if not task_id or level not in URGENT_LEVELS or task_id in self._announced:
            return False
        if self.held is not None and self.held(task_id) is not None:
            return False  # another picker has it already
        self._announced.add(task_id)
        order_ids = ", ".join(str(o) for o in task.get("order_ids") or [])
        if task.get("kind") == "topup":
            tote = task.get("after_tote") or "?"
            self._banner = f"NEW {level} TOP-UP PICK {order_ids} (rest of tote {tote})"
        else:
            self._banner = f"NEW {level} HOT PICK {order_ids}".strip()
        self._banner_level = level
        self._banner_task = task_id
        return True

    def dismiss_banner(self) -> None:
        """Hide the banner (the picker saw it or opened the task)."""
        self._banner = ""
        self._banner_level = ""
        self._banner_task = ""

    def find(self, task_id: str) -> Row | None:
        """An open task by id."""
        task = self.store.get("task", task_id)
        return task if task is not None and task.get("status") == "open" else None
