"""How far this device got with each pick task, from its own recorded ops.

Central keeps a task ``open`` until its order ships, so the handheld cannot read "done"
off the task row. Every op the handheld records for a task carries ``task_id``; the
outbox keeps them (history is never deleted), so progress survives a restart and is
the same whether or not the ops reached central yet.

A line reported short is allocated again by central from other bins when it can. Once
that comes back in the order (a sync later), the task gets a follow-up line at the new
bin for the units still to pick, as long as the order is not in its tote yet: the
picker takes them on the same walk, into the same tote.

No line asks for more than its order still misses in the replica (ordered less picked
and short, by any handheld), nor for units another handheld's claim on the task says
its picker picked or reported short (``elsewhere``, heard on the floor bus): a task
taken over from a handheld that went off the air, or whose picker signed out halfway,
sends the next picker for the rest, whether or not central has seen the first picks.

A top-up task (central's, for units still reserved for an order whose tote has left the
picker) sends no one for units the order no longer holds in that bin: when the first
picker's own picks reach central after the tote did (a handheld that was offline), the
order's allocation there shrinks and so does the top-up line, after the next sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from domain.claims import LineKey

Row = dict[str, Any]
# Order statuses before the first pick: nothing is picked or short yet.
_NOT_STARTED = frozenset({"received", "allocated"})


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

    def __init__(
        self,
        ops: Iterable[OpRecord] = (),
        orders: Callable[[str], Row | None] | None = None,
        statuses: Callable[[list[str]], Mapping[str, str]] | None = None,
        elsewhere: Callable[[str], Mapping[LineKey, int]] | None = None,
    ) -> None:
        self._done: dict[str, dict[LineKey, int]] = {}
        self._picked: dict[str, dict[str, int]] = {}  # task -> order -> units picked
        self._shorted: dict[str, set[tuple[str, str]]] = {}  # task -> (order, sku)
        self._dropped: dict[str, dict[str, str]] = {}
        self._orders = orders  # the replica's order documents (for follow-up lines)
        # The replica's order statuses, read without the documents: an order nobody has
        # picked from yet (received, allocated) is not looked up for what it misses.
        self._statuses = statuses
        # Units other handhelds did on a task, by their claims (see the module docstring).
        self._elsewhere = elsewhere
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
            if kind == "pick.confirmed":
                per_order = self._picked.setdefault(str(task_id), {})
                per_order[key[0]] = per_order.get(key[0], 0) + qty
            if kind == "pick.short":
                self._shorted.setdefault(str(task_id), set()).add(key[:2])
        elif kind == "tote.assigned":
            self._dropped.setdefault(str(task_id), {})[str(data["order_id"])] = str(data["tote"])

    def lines(self, task: Row, statuses: Mapping[str, str] | None = None) -> list[LineState]:
        """The task's lines in route order with what is left of each."""
        # Units done for a (order, sku, bin), here or on another handheld, fill that
        # key's lines in route order.
        task_id = str(task.get("id"))
        budget = dict(self._done.get(task_id, {}))
        if self._elsewhere is not None:
            for key, qty in self._elsewhere(task_id).items():
                budget[key] = budget.get(key, 0) + qty
        topup = task.get("kind") == "topup"
        held = self._held(task) if topup else None
        missing = None if topup else self._missing(task, statuses)
        out = []
        for index, line in enumerate(task.get("lines") or []):
            key = (str(line["order_id"]), str(line["sku"]), str(line["location"]))
            qty = int(line.get("qty") or 0)
            take = min(qty, budget.get(key, 0))
            budget[key] = budget.get(key, 0) - take
            left = qty - take
            if held is not None and key[0] in held:
                left = max(0, min(left, held[key[0]].get(key, 0)))
                held[key[0]][key] = held[key[0]].get(key, 0) - left
            elif missing is not None and key[:2] in missing:
                left = max(0, min(left, missing[key[:2]]))
                missing[key[:2]] -= left
            out.append(LineState(index, *key, qty, left))
        return out + self._follow_ups(task, out)

    def _held(self, task: Row) -> dict[str, dict[LineKey, int]]:
        """Units each of the task's orders still holds per (order, sku, bin) in the
        replica (orders the replica does not have are left out)."""
        held: dict[str, dict[LineKey, int]] = {}
        for order_id in task.get("order_ids") or []:
            order = self._orders(str(order_id)) if self._orders is not None else None
            if order is None:
                continue
            per_bin = held.setdefault(str(order_id), {})
            for alloc in order.get("allocations") or []:
                key = (str(order_id), str(alloc.get("sku")), str(alloc.get("location")))
                per_bin[key] = per_bin.get(key, 0) + int(alloc.get("qty") or 0)
        return held

    def _missing(
        self, task: Row, statuses: Mapping[str, str] | None = None
    ) -> dict[tuple[str, str], int]:
        """Units each (order, SKU) of the task still misses in the replica: ordered less
        picked and short, by every handheld. A task taken over from a handheld that went
        off the air (its picks synced) then sends the new picker for the rest only."""
        missing: dict[tuple[str, str], int] = {}
        order_ids = [str(o) for o in task.get("order_ids") or []]
        if self._orders is None or not order_ids:
            return missing
        if statuses is None and self._statuses is not None:
            statuses = self._statuses(order_ids)
        if statuses is not None:
            order_ids = [o for o in order_ids if statuses.get(o) not in _NOT_STARTED]
        for order_id in order_ids:
            order = self._orders(order_id)
            for line in (order or {}).get("lines") or []:
                key = (str(order_id), str(line.get("sku")))
                todo = int(line.get("qty") or 0) - int(line.get("picked") or 0)
                missing[key] = missing.get(key, 0) + todo - int(line.get("short") or 0)
        return missing

    def _follow_ups(self, task: Row, lines: list[LineState]) -> list[LineState]:
        """Lines at the bins central moved shorted units to (see the module docstring):
        the order line's units not picked, short or left on other lines of this task."""
        task_id = str(task.get("id"))
        shorted = self._shorted.get(task_id)
        if not shorted or self._orders is None:
            return []
        dropped = self._dropped.get(task_id, {})
        extra: list[LineState] = []
        for order_id, sku in sorted(shorted):
            order = self._orders(order_id) if order_id not in dropped else None
            if order is None:
                continue
            line = next((li for li in order.get("lines") or [] if li.get("sku") == sku), None)
            if line is None:
                continue
            todo = int(line.get("qty") or 0) - int(line.get("picked") or 0)
            todo -= int(line.get("short") or 0)
            # Units the task's own lines of this order and SKU still send the picker for,
            # per bin: a bin the task visits may hold more for it now (a split line).
            pending: dict[str, int] = {}
            for ls in lines:
                if (ls.order_id, ls.sku) == (order_id, sku):
                    pending[ls.location] = pending.get(ls.location, 0) + ls.left
            todo -= sum(pending.values())
            for alloc in order.get("allocations") or []:
                where = str(alloc.get("location") or "")
                if todo <= 0 or alloc.get("sku") != sku or not where:
                    continue
                qty = min(todo, int(alloc.get("qty") or 0) - pending.get(where, 0))
                if qty > 0:
                    index = len(lines) + len(extra)
                    extra.append(LineState(index, order_id, sku, where, qty, qty))
                    todo -= qty
        return extra

    def units(self, task_id: str) -> dict[LineKey, int]:
        """Units this device picked or reported short on the task, per (order, sku, bin)."""
        return dict(self._done.get(str(task_id), {}))

    def picked(self, task_id: str) -> dict[str, int]:
        """Units this device picked on the task, per order (shorts not counted)."""
        return dict(self._picked.get(str(task_id), {}))

    def started(self, task_id: str) -> bool:
        """Whether this device picked, shorted or filled a tote for the task yet."""
        task_id = str(task_id)
        return bool(self._done.get(task_id) or self._dropped.get(task_id))

    def totes(self, task_id: str) -> dict[str, str]:
        """order_id -> tote bound by this task's tote scans."""
        return dict(self._dropped.get(str(task_id), {}))

    def unbound(self, task: Row, statuses: Mapping[str, str] | None = None) -> list[str]:
        """Orders of the task that still need a tote scanned: all not bound yet, except
        an order with nothing left to pick and nothing picked or shorted here (on a
        top-up task, the first picker's own picks took its units after all; on another,
        a handheld before this one picked them)."""
        task_id = str(task.get("id"))
        bound = self.totes(task_id)
        orders = [str(o) for o in task.get("order_ids") or [] if str(o) not in bound]
        picked = {key[0] for key, qty in self._done.get(task_id, {}).items() if qty > 0}
        if all(o in picked for o in orders):
            return orders
        left = {line.order_id for line in self.lines(task, statuses) if line.left}
        return [o for o in orders if o in picked or o in left]

    def finished(self, task: Row, statuses: Mapping[str, str] | None = None) -> bool:
        """Every line picked or shorted and every order that needs one dropped in a
        tote."""
        if any(line.left for line in self.lines(task, statuses)):
            return False
        return not self.unbound(task, statuses)
