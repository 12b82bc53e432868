"""How far this device got with each pick task, from its own recorded ops.

Central keeps a task ``open`` until its order ships, so the handheld cannot read "done"
off the task row. Every op the handheld records for a task carries ``task_id``; the
outbox keeps them (history is never deleted), so progress survives a restart and is
the same whether or not the ops reached central yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

Row = dict[str, Any]
LineKey = tuple[str, str, str]  # (order_id, sku, location)


class OpRecord(Protocol):
    """The parts of a ``sync.store.Op`` progress reads."""

    @property
    def kind(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LineState:
    """One task line with what is left of it (0 = picked or shorted)."""

    index: int
    order_id: str
    sku: str
    location: str
    qty: int
    left: int


class TaskProgress:
    """Units picked/shorted per task line and orders dropped in a tote, per task."""

    def __init__(self, ops: Iterable[OpRecord] = ()) -> None:
        self._done: dict[str, dict[LineKey, int]] = {}
        self._dropped: dict[str, dict[str, str]] = {}
        for op in ops:
            self.note(op.kind, op.data)

    def note(self, kind: str, data: Mapping[str, Any]) -> None:
        """Count one recorded op (ops without ``task_id`` are not task work)."""
        task_id = data.get("task_id")
        if not task_id:
            return
        if kind in ("pick.confirmed", "pick.short"):
            qty = int(data.get("qty") or data.get("qty_short") or 0)
            key = (str(data["order_id"]), str(data["sku"]), str(data["location"]))
            per_task = self._done.setdefault(str(task_id), {})
            per_task[key] = per_task.get(key, 0) + qty
        elif kind == "tote.assigned":
            self._dropped.setdefault(str(task_id), {})[str(data["order_id"])] = str(data["tote"])

    def lines(self, task: Row) -> list[LineState]:
        """The task's lines in route order with what is left of each."""
        # Units done for a (order, sku, bin) fill that key's lines in route order.
        budget = dict(self._done.get(str(task.get("id")), {}))
        out = []
        for index, line in enumerate(task.get("lines") or []):
            key = (str(line["order_id"]), str(line["sku"]), str(line["location"]))
            qty = int(line.get("qty") or 0)
            take = min(qty, budget.get(key, 0))
            budget[key] = budget.get(key, 0) - take
            out.append(LineState(index, *key, qty, qty - take))
        return out

    def totes(self, task_id: str) -> dict[str, str]:
        """order_id -> tote bound by this task's tote scans."""
        return dict(self._dropped.get(str(task_id), {}))

    def finished(self, task: Row) -> bool:
        """Every line picked or shorted and every order of the task dropped in a tote."""
        if any(line.left for line in self.lines(task)):
            return False
        bound = self.totes(str(task.get("id")))
        return all(str(order_id) in bound for order_id in task.get("order_ids") or [])
