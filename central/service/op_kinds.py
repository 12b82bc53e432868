"""What each device operation does to the central state (SYNC_CONTRACT.md, op kinds),
applied set-wise for one push: orders, reservations and bin totals are read once and
written once at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from central.service.context import Ctx
from central.service.docs import all_lines_done, line_of, set_state, state_of
from central.service.op_fields import (
    LATE,
    Rejected,
    allocations_from,
    elsewhere_field,
    number_field,
    text_field,
)
from central.service.stock import allocate_orders
from central.service.stock_follow import follow_stock, stock_arrived
from central.service.tasks import (
    close_tasks_of,
    close_top_ups,
    remake_top_up,
    top_up,
    waiting_since,
)
from central.store.base import MovementRow, ReservationRow, make_row
from domain.models import ExceptionKind, OrderStatus, parse_time
from domain.status import add_exception, advance
from domain.totes import put_in_tote

# A pick changes nothing of these statuses (the merge would keep them).
_PICKING_OR_LATER = frozenset(
    s.value
    for s in OrderStatus
    if s not in (OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.ON_HOLD)
)


__all__ = ["LATE", "PushState", "Rejected"]


@dataclass
class PushState:
    """One push's working set: what it read up front and what it will write at the end."""

    ctx: Ctx
    site: str | None
    device: str = ""  # the pushing device
    movements: list[MovementRow] = field(default_factory=list)
    on_hand: dict[tuple[str, str, str], int] = field(default_factory=dict)
    holds: dict[str, list[ReservationRow]] = field(default_factory=dict)
    holds_before: dict[str, list[ReservationRow]] = field(default_factory=dict)
    dirty_holds: set[str] = field(default_factory=set)
    left: dict[str, list[int]] = field(default_factory=dict)
    excluded: set[tuple[str, str]] = field(default_factory=set)
    reallocate: set[str] = field(default_factory=set)
    shipped: list[str] = field(default_factory=list)
    picks: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)
    pick_at: dict[str, str] = field(default_factory=dict)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    # Bins a count, adjustment or move took units out of (see ``stock_follow.follow_stock``)
    # or put units into (see ``stock_follow.stock_arrived``).
    shrunk: set[tuple[str, str, str]] = field(default_factory=set)
    grown: set[tuple[str, str, str]] = field(default_factory=set)
    # Orders whose tote left the picker in this push (see ``tasks.top_up``), and the
    # top-up tasks this push's picks were made for, per order (see ``close_top_ups``).
    handed: set[str] = field(default_factory=set)
    top_up_picks: dict[str, set[str]] = field(default_factory=dict)
    # Orders a picker said units of are with another handheld (see ``in_flight``).
    told_elsewhere: set[str] = field(default_factory=set)
    # Latest recorded count time per bin, read from ``counts_read_from`` on (see
    # ``counted_since``).
    counted_at: dict[tuple[Any, Any, Any], datetime] = field(default_factory=dict)
    counts_read_from: str | None = None

    def prefetch(self, ops: list[dict[str, Any]]) -> None:
        """Read the push's orders, their reservations and the on-hand of the bins it
        names in three queries instead of one per op."""
        tx = self.ctx.tx
        datas = [d for op in ops if isinstance(d := op.get("data"), dict)]
        ids = {o for d in datas if isinstance(o := d.get("order_id"), str)}
        self.docs = tx.get_orders(ids) if ids else {}
        # An order id looked for here and not found is unknown: no second query per op.
        self.missing = ids - self.docs.keys()
        holds = self.holds
        for order_id in self.docs:
            holds[order_id] = []
        for r in tx.reservations(order_ids=self.docs) if self.docs else []:
            holds[r.order_id].append(r)
        for order_id, rows in holds.items():
            self.holds_before[order_id] = list(rows)
        keys: set[tuple[str, str, str]] = set()
        add = keys.add
        docs = self.docs
        for d in datas:
            sku = d.get("sku")
            if type(sku) is not str:
                continue
            oid = d.get("order_id")
            doc = docs.get(oid) if type(oid) is str else None
            wh = doc["warehouse"] if doc is not None else d.get("warehouse")
            if type(wh) is not str:
                continue
            code = d.get("location")
            if type(code) is str:
                add((wh, code, sku))
            elif "from_location" in d or "to_location" in d:  # stock.moved
                for name in ("from_location", "to_location"):
                    code = d.get(name)
                    if type(code) is str:
                        add((wh, code, sku))
        on_hand = self.on_hand
        for key in keys:
            on_hand[key] = 0
        for line in tx.stock_lines(keys=keys) if keys else []:
            on_hand[(line.warehouse, line.location, line.sku)] += line.on_hand

    # --- field checks -------------------------------------------------------------------

    text = staticmethod(text_field)
    number = staticmethod(number_field)

    # These checks run for every op of a push: the common case (a non-empty text that
    # names something known) is tested inline, ``text`` only builds the rejection.

    def order(self, data: dict[str, Any]) -> dict[str, Any]:
        order_id = data.get("order_id")
        if type(order_id) is not str or not order_id:
            order_id = self.text(data, "order_id")
        doc = self.ctx.changed.get(order_id) or self.docs.get(order_id)
        if doc is None:
            if order_id in self.missing:
                raise Rejected(f"unknown order {order_id!r}")
            row = self.ctx.tx.get_order(order_id)
            if row is None:
                raise Rejected(f"unknown order {order_id!r}")
            doc = row.doc
        if self.site is not None and doc["warehouse"] != self.site:
            self.in_site(doc["warehouse"])
        return doc

    def in_site(self, warehouse: str) -> None:
        if self.site is not None and warehouse != self.site:
            raise Rejected(f"warehouse {warehouse!r} is outside the device's site {self.site!r}")

    def bin(self, warehouse: str, data: dict[str, Any], name: str = "location") -> str:
        code = data.get(name)
        if type(code) is not str or not code:
            code = self.text(data, name)
        if (warehouse, code) not in self.locations:
            raise Rejected(f"unknown location {warehouse}/{code} in field {name!r}")
        return code

    def sku(self, data: dict[str, Any]) -> str:
        sku = data.get("sku")
        if type(sku) is not str or not sku:
            sku = self.text(data, "sku")
        if sku not in self.skus:
            raise Rejected(f"unknown sku {sku!r}")
        return sku

    @staticmethod
    def lot(data: dict[str, Any]) -> tuple[str, str | None]:
        """The optional ``lot`` and ``expiry`` of a stock op ("" and None when absent)."""
        if "lot" not in data and "expiry" not in data:
            return "", None
        lot, expiry = data.get("lot") or "", data.get("expiry") or None
        for name, value in (("lot", lot), ("expiry", expiry or "")):
            if type(value) is not str:
                raise Rejected(f"invalid field {name!r}: must be text, got {value!r}")
        return lot, expiry

    @cached_property
    def locations(self) -> dict[tuple[str, str], Any]:
        return self.ctx.locations

    @cached_property
    def skus(self) -> dict[str, Any]:
        return self.ctx.skus

    def stock_target(self, data: dict[str, Any]) -> tuple[str, str, str]:
        warehouse = data.get("warehouse")
        if type(warehouse) is not str or not warehouse:
            warehouse = self.text(data, "warehouse")
        if warehouse not in self.ctx.warehouses:
            raise Rejected(f"unknown warehouse {warehouse!r}")
        if self.site is not None and warehouse != self.site:
            self.in_site(warehouse)
        return warehouse, self.bin(warehouse, data), self.sku(data)

    # --- effects ------------------------------------------------------------------------

    def move(
        self,
        op_id: str,
        key: tuple[str, str, str],
        delta: int,
        reason: str,
        at: str,
        lot: str = "",
        expiry: str | None = None,
    ) -> int:
        """Queue a ledger movement; returns the bin's running on-hand after it."""
        left = self.on_hand.get(key)
        if left is None:
            left = self.ctx.tx.on_hand(*key)
        left += delta
        self.on_hand[key] = left
        self.movements.append(
            make_row(MovementRow, (op_id, *key, delta, reason, at, lot, expiry, 0))
        )
        self.ctx.touched.add(key)
        return left

    def reservations(self, order_id: str) -> list[ReservationRow]:
        if order_id not in self.holds:
            rows = self.ctx.tx.reservations(order_ids=[order_id])
            self.holds[order_id] = rows
            self.holds_before[order_id] = list(rows)
        return self.holds[order_id]

    def consume(self, doc: dict[str, Any], location: str, sku: str, qty: int) -> None:
        """A pick fulfils the order's reservation in that bin first, then in its other
        bins of the SKU; every reservation of an order being picked is protected."""
        order_id = doc["id"]
        # Quantities left per row are counted down here and written into the rows once
        # (``settle``), not rebuilt on every scan.
        left = self.left.get(order_id)
        if left is None:
            rows = self.reservations(order_id)
            if order_id not in self.dirty_holds:
                rows[:] = [r._replace(picking=True) for r in rows]
                self.dirty_holds.add(order_id)
            left = self.left[order_id] = [r.qty for r in rows]
        else:
            rows = self.holds[order_id]  # counted down before: already protected
        remaining = qty
        for same_bin in (True, False):
            for i, r in enumerate(rows):
                if r.sku != sku or (r.location == location) != same_bin or left[i] <= 0:
                    continue
                take = min(remaining, left[i])
                remaining -= take
                left[i] -= take
                if remaining <= 0:
                    return

    def settle(self, order_id: str) -> list[ReservationRow]:
        """The order's reservation rows with the picks counted so far written in."""
        rows = self.holds[order_id]
        left = self.left.pop(order_id, None)
        if left is not None:
            rows[:] = [
                r
                if qty == r.qty
                else ReservationRow(
                    r.order_id, r.warehouse, r.location, r.sku, r.lot, qty, r.level, True
                )
                for r, qty in zip(rows, left, strict=True)
            ]
        return rows

    def release(self, order_id: str, sku: str | None = None, location: str | None = None) -> None:
        self.reservations(order_id)
        rows = self.settle(order_id)
        self.holds[order_id] = [
            r
            for r in rows
            if not ((sku is None or r.sku == sku) and (location is None or r.location == location))
        ]
        self.dirty_holds.add(order_id)

    def stamp(self, doc: dict[str, Any], at: str) -> str:
        """The timeline time of a floor event: the device's ``at`` (already checked and in
        UTC), never before the order was received (a device clock a little behind)."""
        created = doc.get("created_at")
        if isinstance(created, str) and created and parse_time(created) > parse_time(at):
            return created
        return at

    def note(self, doc: dict[str, Any], at: str, event: str, detail: str = "") -> None:
        """A timeline entry at the event's device time; when it reached the server late
        (after an outage) the detail says when it was received."""
        when = self.stamp(doc, at)
        if self.ctx.now - parse_time(when) > LATE:
            detail = f"{detail} (received {self.ctx.at})" if detail else f"received {self.ctx.at}"
        self.ctx.note(doc["id"], event, detail, at=when)

    def state(self, doc: dict[str, Any], change: Callable[[Any], Any]) -> None:
        set_state(doc, change(state_of(doc)))
        self.ctx.change(doc)

    # --- op kinds -----------------------------------------------------------------------

    def pick_confirmed(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        doc = self.order(data)
        wh = doc["warehouse"]
        sku, location, qty = self.sku(data), self.bin(wh, data), data.get("qty")
        if type(qty) is not int or qty <= 0:
            qty = self.number(data, "qty")
        line = line_of(doc, sku)
        if line is None:
            raise Rejected(f"sku {sku!r} is not on order {doc['id']}")
        lot = data.get("lot") or ""
        expiry = data.get("expiry") or None
        left = self.move(op_id, (wh, location, sku), -qty, "pick", at, str(lot), expiry)
        self.consume(doc, location, sku, qty)
        picked = line["picked"] = line.get("picked", 0) + qty
        tote = data.get("tote")
        if tote and type(tote) is str and doc.get("tote") != tote:
            put_in_tote(doc, tote)
        task_id = data.get("task_id")
        if type(task_id) is str and task_id:
            self.task_work(doc, task_id, sku, location, qty)
            if task_id.startswith("TOP-"):
                self.top_up_picks.setdefault(doc["id"], set()).add(task_id)
        if doc["status"] not in _PICKING_OR_LATER:
            self.state(doc, lambda s: advance(s, OrderStatus.PICKING))
        else:
            self.ctx.change(doc)
        # Only a pick that completes its line can complete the order.
        if picked + line.get("short", 0) >= line["qty"] and all_lines_done(doc):
            self.state(doc, lambda s: advance(s, OrderStatus.PICKED))
        # One timeline entry per order and push sums its picks (not one per scan).
        order_id = doc["id"]
        picks = self.picks.get(order_id)
        if picks is None:
            self.picks[order_id] = [(sku, qty, location)]
            self.pick_at[order_id] = at
        else:
            picks.append((sku, qty, location))
            # The entry is stamped with the last pick's device time (the order's pick end).
            if at > self.pick_at[order_id]:
                self.pick_at[order_id] = at
        if left < 0:
            self.state(doc, lambda s: add_exception(s, ExceptionKind.OVERSOLD))
            self.note(doc, at, "exception", f"oversold: {wh}/{location} {sku} on hand {left}")

    def pick_short(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        doc = self.order(data)
        wh = doc["warehouse"]
        sku, location = self.sku(data), self.bin(wh, data)
        qty = self.number(data, "qty_short")
        task_id = data.get("task_id")
        if type(task_id) is str and task_id:
            self.task_work(doc, task_id, sku, location, qty)
        self.release(doc["id"], sku, location)
        if not self.counted_since((wh, location, sku), at):
            self.excluded.add((wh, location))
        self.reallocate.add(doc["id"])
        self.state(doc, lambda s: add_exception(s, ExceptionKind.SHORT_PICK))
        self.note(
            doc, at, "short_pick", f"{sku} x{qty} short at {location}: {data.get('reason', '')}"
        )

    def counted_since(self, key: tuple[str, str, str], at: str) -> bool:
        """The bin was counted after ``at`` (a short reported there, which reached central
        late): its stock is known again, so the short does not rule it out."""
        when = parse_time(at)
        if self.counts_read_from is None or at < self.counts_read_from:
            # Read once per push (again only for a short older than the first one read).
            self.counted_at = {}
            for op in self.ctx.tx.bin_checks(at):
                if op.kind == "stock.counted":
                    d = op.data
                    counted = (d.get("warehouse"), d.get("location"), d.get("sku"))
                    t = parse_time(op.at)
                    if counted not in self.counted_at or t > self.counted_at[counted]:
                        self.counted_at[counted] = t
            self.counts_read_from = at
        latest = self.counted_at.get(key)
        return latest is not None and latest > when

    def task_work(
        self, doc: dict[str, Any], task_id: str, sku: str, location: str, qty: int
    ) -> None:
        """Count units this device picked or reported short for the order on a task (see
        ``in_flight``)."""
        per_bin = doc.setdefault("task_work", {}).setdefault(task_id, {})
        per_bin = per_bin.setdefault(self.device, {}).setdefault(sku, {})
        per_bin[location] = per_bin.get(location, 0) + qty

    def tote_assigned(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        tote = self.text(data, "tote")
        doc = self.order(data)
        units = elsewhere_field(data)
        task_id = self.text(data, "task_id") if units else ""
        put_in_tote(doc, tote)
        self.ctx.change(doc)
        self.note(doc, at, "tote", f"tote {tote}")
        if not units:
            return
        # A task taken over: these units are in the other pickers' hands, their ops not
        # necessarily here yet. A top-up waits for them (``in_flight``).
        since = waiting_since(doc)
        since.setdefault(task_id, self.ctx.at)
        doc["elsewhere_since"] = since
        per_task = doc.setdefault("elsewhere", {}).setdefault(task_id, {})
        for device, sku, location, qty in units:
            per_bin = per_task.setdefault(device, {}).setdefault(sku, {})
            per_bin[location] = max(per_bin.get(location, 0), qty)
        self.told_elsewhere.add(doc["id"])
        said = ", ".join(f"{q} x {s} at {loc} by {d}" for d, s, loc, q in units)
        self.note(doc, at, "tote", f"task {task_id} taken over: {said} picked or short elsewhere")

    def tote_diverted(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        tote, lane = self.text(data, "tote"), data.get("lane")
        if lane is None:
            raise Rejected("missing field 'lane'")
        if data.get("order_id"):
            doc: dict[str, Any] | None = self.order(data)
        else:
            doc = next((d for d in self.ctx.changed.values() if d.get("tote") == tote), None)
            doc = doc or self.ctx.tx.order_by_tote(tote)
        if doc is not None:
            self.note(
                doc, at, "diverted", f"tote {tote} to lane {lane} on {data.get('conveyor', '?')}"
            )
            self.hand_over(doc, tote)

    def hand_over(self, doc: dict[str, Any], tote: str) -> None:
        """The order's tote is out of the picker's hands (on the conveyor, at packing):
        units still reserved for it now need a top-up task."""
        if doc.get("handed_over") != tote:
            doc["handed_over"] = tote
            self.ctx.change(doc)
        self.handed.add(doc["id"])

    def pack_verified(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        doc = self.order(data)
        sku, qty = self.sku(data), self.number(data, "qty")
        line = line_of(doc, sku)
        if line is None:
            raise Rejected(f"sku {sku!r} is not on order {doc['id']}")
        line["packed"] = min(line["qty"], line.get("packed", 0) + qty)
        self.ctx.change(doc)
        self.hand_over(doc, doc.get("tote") or "packing")

    def order_packed(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        doc = self.order(data)
        for name in ("carton", "carrier_service", "tracking"):
            if data.get(name) is not None:
                doc[name] = data[name]
        if data.get("weight_g") is not None:
            doc["weight_g"] = data["weight_g"]
        self.state(doc, lambda s: advance(s, OrderStatus.PACKED))
        self.note(doc, at, "packed", f"carton {data.get('carton')}, {data.get('carrier_service')}")

    def order_shipped(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        doc = self.order(data)
        for name in ("carrier_service", "tracking"):
            if data.get(name):
                doc[name] = data[name]
        self.state(doc, lambda s: advance(s, OrderStatus.SHIPPED))
        self.release(doc["id"])
        self.shipped.append(doc["id"])
        self.note(doc, at, "shipped", f"{doc.get('carrier_service')} {doc.get('tracking')}")
        if ExceptionKind.CANCEL_AFTER_SHIP.value in doc["exceptions"]:
            self.note(
                doc,
                at,
                "exception",
                "cancel_after_ship: order was cancelled before this shipment",
            )

    def stock_adjusted(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        key = self.stock_target(data)
        delta = data.get("delta")
        if type(delta) is not int:
            delta = self.number(data, "delta", positive=False)
        reason = data.get("reason")
        if type(reason) is not str or not reason:
            reason = self.text(data, "reason")
        self.move(op_id, key, delta, reason, at, *self.lot(data))
        if delta < 0:
            self.shrunk.add(key)
        elif delta > 0:
            self.grown.add(key)

    def stock_counted(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        key = self.stock_target(data)
        counted = self.number(data, "counted", positive=False, minimum=0)
        seen = self.number(data, "seen_cursor", positive=False, minimum=0)
        # Movements after the position the device saw are kept: only the difference
        # between the count and what the device was looking at is booked.
        then = self.ctx.tx.on_hand(*key, upto_seq=seen)
        self.move(op_id, key, counted - then, "count", at)
        self.excluded.discard(key[:2])  # counted: a short reported there no longer rules it out
        if counted < then:
            self.shrunk.add(key)
        elif counted > then:
            self.grown.add(key)

    def stock_moved(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        warehouse = self.text(data, "warehouse")
        if warehouse not in self.ctx.warehouses:
            raise Rejected(f"unknown warehouse {warehouse!r}")
        self.in_site(warehouse)
        sku = self.sku(data)
        source, target = (
            self.bin(warehouse, data, "from_location"),
            self.bin(warehouse, data, "to_location"),
        )
        qty = self.number(data, "qty")
        # Units of a lot stay that lot (and keep its expiry) in the bin they go to.
        lot, expiry = self.lot(data)
        self.move(f"{op_id}/from", (warehouse, source, sku), -qty, "move", at, lot, expiry)
        self.move(f"{op_id}/to", (warehouse, target, sku), qty, "move", at, lot, expiry)
        self.shrunk.add((warehouse, source, sku))
        self.grown.add((warehouse, target, sku))

    def label_printed(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        doc = self.order(data)
        self.note(
            doc,
            at,
            "label_printed",
            f"printer {data.get('printer', '?')} job {data.get('job_id', '?')}",
        )

    def exception_raised(self, op_id: str, at: str, data: dict[str, Any]) -> None:
        doc = self.order(data)
        raw = self.text(data, "kind")
        try:
            kind = ExceptionKind(raw)
        except ValueError:
            raise Rejected(f"invalid field 'kind': unknown exception kind {raw!r}") from None
        self.state(doc, lambda s: add_exception(s, kind))
        self.note(doc, at, "exception", f"{kind.value}: {data.get('detail', '')}")

    # --- end of the push ----------------------------------------------------------------

    def finish(self) -> None:
        tx = self.ctx.tx
        for order_id, picked in self.picks.items():
            # Units of one SKU from one bin are summed: "SKU-1 x7@A01", not seven "x1"s.
            units: dict[tuple[str, str], int] = {}
            for sku, qty, loc in picked:
                units[(sku, loc)] = units.get((sku, loc), 0) + qty
            shown = ", ".join(f"{sku} x{qty}@{loc}" for (sku, loc), qty in list(units.items())[:10])
            if len(units) > 10:
                shown += f" and {len(units) - 10} more"
            picked_doc = self.ctx.changed.get(order_id) or self.docs.get(order_id)
            self.note(picked_doc or {"id": order_id}, self.pick_at[order_id], "picked", shown)
        tx.append_movements(self.movements)
        for order_id in list(self.left):
            self.settle(order_id)
        if self.shrunk:
            follow_stock(self)
        tx.replace_reservations_of({o: self.holds[o] for o in sorted(self.dirty_holds)})
        for order_id in self.dirty_holds:
            for r in [*self.holds_before[order_id], *self.holds[order_id]]:
                self.ctx.touched.add((r.warehouse, r.location, r.sku))
        for order_id in self.shipped:
            close_tasks_of(self.ctx, order_id, "done")
        docs = [self.ctx.changed[o] for o in sorted(self.reallocate) if o in self.ctx.changed]
        allocate_orders(self.ctx, docs, self.excluded)
        if self.grown:
            stock_arrived(self)
        for order_id in self.dirty_holds - self.reallocate:
            doc = self.ctx.changed.get(order_id)
            if doc is not None:
                doc["allocations"] = allocations_from(self.holds[order_id], doc["allocations"])
        for order_id in sorted(self.dirty_holds | self.reallocate):
            doc = self.ctx.changed.get(order_id)
            if (
                doc is not None
                and doc.get("handed_over")
                and not any(a["qty"] > 0 for a in doc["allocations"])
            ):
                close_top_ups(self.ctx, doc, self.top_up_picks.get(order_id, set()))
        for order_id in sorted(self.told_elsewhere):
            doc = self.ctx.changed.get(order_id)
            if doc is not None:
                # A top-up made before central knew the units were with another picker
                # asks for them again: it is made anew without them.
                remake_top_up(self.ctx, doc)
        for order_id in sorted(self.handed | self.reallocate | self.told_elsewhere):
            doc = self.ctx.changed.get(order_id)
            if doc is not None and doc.get("handed_over"):
                top_up(self.ctx, doc)
