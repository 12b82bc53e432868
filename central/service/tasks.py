"""Pick tasks: P1/P2 orders become a hot task at once; the others are batched when
enough are waiting (or on the periodic tick). An order whose tote has left the picker
while units are still reserved for it to pick (a short pick moved them to another bin,
or stock for a short line arrived later) gets a top-up task for them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from central.service import rules
from central.service.context import Ctx
from central.service.docs import order_of
from domain.models import Level, Location, OrderStatus, parse_time


def _pick_lines(ctx: Ctx, doc: dict[str, Any]) -> list[tuple[str, Location, int]]:
    lines = []
    for a in doc["allocations"]:
        loc = ctx.locations.get((doc["warehouse"], a["location"]))
        if loc is None:
            loc = Location(doc["warehouse"], a["location"])
        lines.append((a["sku"], loc, int(a["qty"])))
    return lines


def _save(ctx: Ctx, warehouse: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for task in tasks:
        task["warehouse"] = warehouse
        task["status"] = "open"
        if task["kind"] not in ("hot", "topup") or not task["id"]:
            # Ids from one call may repeat across calls; an order belongs to one task.
            task["id"] = f"BATCH-{warehouse}-{min(task['order_ids'])}"
        for order_id in task["order_ids"]:
            ctx.note(order_id, "task", f"{task['kind']} pick task {task['id']}")
        ctx.feed.append(("task", task["id"], warehouse, task))
    ctx.tx.upsert_tasks(tasks)
    # A task on the floor commits its orders' units: a picker may be walking to them, so
    # a more urgent order no longer takes them, nor does a recount move them elsewhere.
    ctx.tx.lock_reservations(o for task in tasks for o in task["order_ids"])
    return tasks


def hot_task(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any] | None:
    """A hot task for an urgent, allocated order that has none yet."""
    level = Level(doc["priority"]["level"])
    if not level.is_urgent or not doc["allocations"]:
        return None
    if any(t["status"] != "cancelled" for t in ctx.tx.tasks_of(doc["id"])):
        return None
    tasks = rules.build_tasks(
        [(order_of(doc), level, _pick_lines(ctx, doc))], ctx.settings.batch_size
    )
    return _save(ctx, doc["warehouse"], tasks)[0] if tasks else None


# An order in these statuses may still have units to pick after its tote left.
_TOP_UP_STATUSES = frozenset((OrderStatus.PICKING.value, OrderStatus.PICKED.value))


def top_up(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any] | None:
    """A top-up task for the units still reserved for an order whose tote has left the
    picker (``handed_over``: the tote went down the conveyor or reached packing), unless
    one was already made after that tote. Until then the picker's own task takes them
    (the handheld adds a follow-up line). The task names the tote it completes
    (``after_tote``) so the packer knows to bring the two together. An open top-up made
    after an earlier tote that nobody has worked on yet is replaced by this one (one
    top-up at a time sends a picker for the same units)."""
    tote = doc.get("handed_over")
    if not tote or doc["status"] not in _TOP_UP_STATUSES:
        return None
    waiting = in_flight(doc)
    lines = []
    for sku, loc, qty in _pick_lines(ctx, doc):
        held = min(qty, waiting.get((sku, loc.code), 0))
        waiting[(sku, loc.code)] = waiting.get((sku, loc.code), 0) - held
        if qty - held > 0:
            lines.append((sku, loc, qty - held))
    if not lines:
        return None
    earlier = [t for t in ctx.tx.tasks_of(doc["id"]) if t["kind"] == "topup"]
    if any(t.get("after_tote") == tote and t["status"] != "cancelled" for t in earlier):
        return None
    level = Level(doc["priority"]["level"])
    tasks = rules.build_tasks([(order_of(doc), level, lines)], ctx.settings.batch_size)
    if not tasks:
        return None
    worked = doc.get("task_work") or {}
    for old in earlier:
        if old["status"] == "open" and old["id"] not in worked:
            _cancel(ctx, doc, old, f"replaced: tote {tote} has left too")
    task = tasks[0]
    task.update(id=f"TOP-{doc['id']}-{len(earlier) + 1}", kind="topup", after_tote=tote)
    return _save(ctx, doc["warehouse"], [task])[0]


def in_flight(
    doc: dict[str, Any], tasks: Collection[str] | None = None
) -> dict[tuple[str, str], int]:
    """Units of the order, per (sku, bin), that pickers of a task taken over (of
    ``tasks``, default all) said are with another handheld (``tote.assigned``'s
    ``elsewhere``: its claim's progress on the floor bus) and whose picks or shorts from
    that handheld have not reached central yet. They are in that picker's tote, not on
    the shelf: no top-up sends anyone for them. Once its ops arrive, the picks consume
    the reservation and a short re-allocates as usual."""
    waiting: dict[tuple[str, str], int] = {}
    work = doc.get("task_work") or {}
    for task_id, devices in (doc.get("elsewhere") or {}).items():
        if tasks is not None and task_id not in tasks:
            continue
        done = work.get(task_id) or {}
        for device, skus in devices.items():
            arrived = done.get(device) or {}
            for sku, bins in skus.items():
                for location, qty in bins.items():
                    left = qty - (arrived.get(sku) or {}).get(location, 0)
                    if left > 0:
                        waiting[(sku, location)] = waiting.get((sku, location), 0) + left
    return waiting


def waiting_since(doc: dict[str, Any]) -> dict[str, str]:
    """When central was told, per task taken over, of the order's units with another
    handheld (``elsewhere_since``; one time for all of them in orders written before
    it was kept per task)."""
    since = doc.get("elsewhere_since")
    if isinstance(since, str):
        return dict.fromkeys(doc.get("elsewhere") or {}, since)
    return dict(since or {})


def stop_waiting(ctx: Ctx, docs: list[dict[str, Any]]) -> None:
    """Orders whose units with another handheld (``in_flight``) have not arrived within
    ``handover_wait_s`` of central being told, task by task: central stops waiting for
    them (that handheld may be lost), says so on the timeline and makes the top-up for
    them once the order's tote has left. Units of a task taken over later are waited
    for their own full time."""
    wait = timedelta(seconds=ctx.settings.handover_wait_s)
    for doc in docs:
        since = waiting_since(doc)
        expired = {t for t, told in since.items() if ctx.now - parse_time(told) >= wait}
        if not expired:
            continue
        waiting = in_flight(doc, expired)
        elsewhere = doc.get("elsewhere") or {}
        for task_id in expired:
            elsewhere.pop(task_id, None)
            since.pop(task_id, None)
        if elsewhere:
            doc["elsewhere"], doc["elsewhere_since"] = elsewhere, since
        else:
            doc.pop("elsewhere", None)
            doc.pop("elsewhere_since", None)
        ctx.change(doc)
        if not waiting or doc["status"] not in _TOP_UP_STATUSES:
            continue  # they all arrived, or the order is past picking
        units = ", ".join(f"{q} x {sku} at {loc}" for (sku, loc), q in sorted(waiting.items()))
        minutes = round(wait.total_seconds() / 60)
        detail = f"{units} from another handheld not here after {minutes} min: no longer waited for"
        ctx.note(doc["id"], "task", detail)
        if doc.get("handed_over"):
            for task in _unstarted_top_ups(ctx, doc):  # one without those units: made anew
                _cancel(ctx, doc, task, "made anew with the other handheld's units")
            top_up(ctx, doc)


def remake_top_up(ctx: Ctx, doc: dict[str, Any]) -> None:
    """Cancel the order's open top-up made for its current tote, unless a pick or short
    was made for it already, when units of the order are with another picker
    (``in_flight``): ``top_up`` makes it anew without them."""
    if not in_flight(doc):
        return
    for task in _unstarted_top_ups(ctx, doc):
        _cancel(ctx, doc, task, "units are with another picker")


def _unstarted_top_ups(ctx: Ctx, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's open top-ups made for its current tote that nobody has picked on."""
    tote, worked = doc.get("handed_over"), doc.get("task_work") or {}
    return [
        t
        for t in ctx.tx.tasks_of(doc["id"])
        if t["kind"] == "topup"
        and t["status"] == "open"
        and t.get("after_tote") == tote
        and t["id"] not in worked
    ]


def _cancel(ctx: Ctx, doc: dict[str, Any], task: dict[str, Any], why: str) -> None:
    task["status"] = "cancelled"
    ctx.tx.upsert_tasks([task])
    ctx.feed.append(("task", task["id"], task["warehouse"], task))
    ctx.note(doc["id"], "task", f"top-up {task['id']} cancelled: {why}")


def close_top_ups(ctx: Ctx, doc: dict[str, Any], picked_for: set[str]) -> None:
    """The order has nothing left to pick: its open top-up tasks are closed. One is done
    when picks in this step were made for it. Otherwise it is cancelled: the first
    picker's picks reached central after the tote did (a handheld that was offline), or
    a short left nothing to pick. A cancelled top-up does not stop a new one when
    stock for the order arrives."""
    for task in ctx.tx.tasks_of(doc["id"]):
        if task["kind"] != "topup" or task["status"] != "open":
            continue
        task["status"] = "done" if task["id"] in picked_for else "cancelled"
        ctx.tx.upsert_tasks([task])
        ctx.feed.append(("task", task["id"], task["warehouse"], task))
        ctx.note(doc["id"], "task", f"top-up {task['id']} {task['status']}: nothing left to pick")


def batch_waiting(
    ctx: Ctx, force: bool = False, warehouse: str | None = None
) -> list[dict[str, Any]]:
    """Batch allocated orders without a task, per warehouse: full batches always, a last
    partial batch only when ``force`` (the tick)."""
    waiting: dict[str, list[dict[str, Any]]] = {}
    for doc in ctx.tx.waiting_orders(warehouse):
        doc = ctx.changed.get(doc["id"], doc)
        if doc["allocations"] and doc["status"] == OrderStatus.ALLOCATED.value:
            waiting.setdefault(doc["warehouse"], []).append(doc)
    size = ctx.settings.batch_size
    made: list[dict[str, Any]] = []
    for wh, docs in sorted(waiting.items()):
        for doc in docs:
            if Level(doc["priority"]["level"]).is_urgent:
                task = hot_task(ctx, doc)
                if task is not None:
                    made.append(task)
        rest = [d for d in docs if not Level(d["priority"]["level"]).is_urgent]
        take = len(rest) if force else len(rest) - len(rest) % size
        if take <= 0:
            continue
        items = [
            (order_of(d), Level(d["priority"]["level"]), _pick_lines(ctx, d)) for d in rest[:take]
        ]
        made.extend(_save(ctx, wh, rules.build_tasks(items, size)))
    return made


def close_tasks_of(ctx: Ctx, order_id: str, status: str) -> None:
    """Mark open tasks that hold only this order done/cancelled (shipped or cancelled)."""
    for task in ctx.tx.tasks_of(order_id):
        if task["status"] == "open" and task["order_ids"] == [order_id]:
            task["status"] = status
            ctx.tx.upsert_tasks([task])
            ctx.feed.append(("task", task["id"], task["warehouse"], task))
