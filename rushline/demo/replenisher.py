"""A simulated replenisher: a floor worker with a handheld who keeps pick bins stocked
from reserve bins, on the handheld's stock screen (the app's own code, no UI).

When a SKU's free units in the pick bins of the site fall under its reorder point and a
reserve bin holds some, the worker scans the item, the reserve bin, Move, the pick bin
holding the SKU with the fewest free units, and keys the units: up to twice the reorder
point, as the low-stock alert suggests. The move goes to central as ``stock.moved`` (with
the reserve bin's lot), where orders waiting for the SKU are allocated from it.

A bin a picker found short is counted first: the worker scans the item and the bin and
keys what is on the shelf (``stock.counted``), so central stops counting on units that
are not there; the refill that follows brings the short order the rest, as a top-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rushline.demo.pickers import IDLE_S, SCAN_S, WALK_S, SimPicker, gs1_item
from rushline.demo.shelves import Shelves

log = logging.getLogger(__name__)

# SKUs whose pick bins start the demo's shift low (half the reorder point), so the
# replenisher has work from the start.
LOW_AT_START = 5


def start_some_pick_faces_low(
    masterdata: dict[str, Any], site: str, count: int = LOW_AT_START
) -> list[str]:
    """Lower, in ``masterdata`` (the §4.2 document about to be imported), the pick-bin
    stock of the first ``count`` SKUs of ``site`` that also have reserve stock, to half
    their reorder point; returns those SKUs."""
    kinds = {
        str(loc["code"]): str(loc.get("kind") or "pick")
        for loc in masterdata.get("locations", [])
        if loc.get("warehouse") == site
    }
    points = {str(s["sku"]): int(s.get("reorder_point") or 0) for s in masterdata.get("skus", [])}
    rows = [r for r in masterdata.get("stock", []) if r.get("warehouse") == site]
    in_kind = {
        kind: {str(r["sku"]) for r in rows if kinds.get(str(r["location"])) == kind}
        for kind in ("pick", "reserve")
    }
    chosen = sorted(s for s in in_kind["pick"] & in_kind["reserve"] if points.get(s, 0) >= 2)
    chosen = chosen[:count]
    for row in rows:
        if row["sku"] in chosen and kinds.get(str(row["location"])) == "pick":
            row["qty"] = max(1, points[row["sku"]] // 2)
    return chosen


@dataclass(frozen=True)
class Refill:
    """One move to make: ``qty`` of ``sku`` from reserve bin ``source`` to pick bin
    ``target`` (of lot ``lot``, when the reserve bin holds lots)."""

    sku: str
    gtin: str
    source: str
    target: str
    qty: int
    lot: str | None = None
    expiry: str | None = None


def refills(store_rows: dict[str, list[dict[str, Any]]], site: str) -> list[Refill]:
    """The refills the replica calls for: ``store_rows`` holds the replica's ``sku``,
    ``location`` and ``stock`` rows. Most urgent first (fewest free units against the
    reorder point)."""
    kinds = {
        str(loc["code"]): str(loc.get("kind") or "pick")
        for loc in store_rows["location"]
        if loc.get("warehouse") == site
    }
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for row in store_rows["stock"]:
        if row.get("warehouse") == site and row.get("location") in kinds:
            by_sku.setdefault(str(row["sku"]), []).append(row)
    found: list[tuple[int, Refill]] = []
    for sku in store_rows["sku"]:
        point = int(sku.get("reorder_point") or 0)
        rows = by_sku.get(str(sku["sku"]), [])
        picks = [r for r in rows if kinds[r["location"]] == "pick"]
        reserves = [
            r for r in rows if kinds[r["location"]] == "reserve" and int(r["available"]) > 0
        ]
        free = sum(int(r["available"]) for r in picks)
        if not point or not picks or not reserves or free >= point or not sku.get("gtin"):
            continue
        source = max(reserves, key=lambda r: int(r["available"]))
        target = min(picks, key=lambda r: (int(r["available"]), r["location"]))
        qty = min(int(source["available"]), 2 * point - max(free, 0))
        lots = [lot for lot in source.get("lots") or [] if lot.get("lot") and lot.get("qty")]
        lot = max(lots, key=lambda entry: int(entry["qty"])) if lots else None
        if lot is not None:
            qty = min(qty, int(lot["qty"]))
        if qty <= 0:
            continue
        refill = Refill(
            str(sku["sku"]),
            str(sku["gtin"]),
            str(source["location"]),
            str(target["location"]),
            qty,
            str(lot["lot"]) if lot else None,
            (str(lot["expiry"]) if lot.get("expiry") else None) if lot else None,
        )
        found.append((free - point, refill))
    return [refill for _, refill in sorted(found, key=lambda item: item[0])]


class SimReplenisher(SimPicker):
    """A replenisher: the picker's handheld (store, sync, session), other work."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                shelves = self.shelves
                to_count = shelves.next_count() if shelves is not None else None
                if shelves is not None and to_count is not None:
                    self._count(shelves, *to_count)
                    continue
                due = refills(
                    {name: self.store.all(name) for name in ("sku", "location", "stock")},
                    self.store.site,
                )
                if not due:
                    if self._wait(IDLE_S):
                        return
                    continue
                self._refill(due[0])
            except Exception as exc:  # a worker must not die silently; note it and go on
                log.exception("%s: replenishing failed", self.device_id)
                self.stats.errors.append(f"{exc.__class__.__name__}: {exc}")
                if self._wait(IDLE_S):
                    return

    def _count(self, shelves: Shelves, location: str, sku: str) -> None:
        """Count ``sku`` in ``location`` on the stock screen and key what is on the
        shelf."""
        self.current_task = f"count {location}"
        session = self.session
        master = self.store.sku(sku) or {}
        try:
            session.show_stock()
            self._wait(WALK_S)
            feedback = session.scan(gs1_item(str(master.get("gtin") or ""), None, None))
            if feedback.ok:
                feedback = session.scan(f"LOC-{location}")
            if feedback.ok:
                self._wait(SCAN_S)
                feedback = session.enter_qty(shelves.units(location, sku))
            if feedback.ok:
                self.stats.counts += 1
            elif feedback.code == "not_synced":
                shelves.ask_count(location, sku)  # after the next pull
                self._wait(IDLE_S)
            else:
                self.stats.refusals += 1
                self.stats.errors.append(f"count {location} {sku}: {feedback.message}")
        finally:
            session.back_to_tasks()
            self.current_task = None

    def _refill(self, refill: Refill) -> None:
        self.current_task = f"refill {refill.sku}"
        session = self.session
        try:
            session.show_stock()
            self._wait(WALK_S)
            steps = [
                lambda: session.scan(gs1_item(refill.gtin, refill.lot, refill.expiry)),
                lambda: session.scan(f"LOC-{refill.source}"),
                session.start_move,
            ]
            for step in steps:
                feedback = step()
                if not feedback.ok:
                    break
            else:
                self._wait(WALK_S)
                feedback = session.scan(f"LOC-{refill.target}")
                if feedback.ok:
                    self._wait(SCAN_S)
                    feedback = session.enter_qty(refill.qty)
            if feedback.ok:
                self.stats.moves += 1
                self.stats.units += refill.qty
                if self.shelves is not None:
                    moved = self.shelves.take(refill.source, refill.sku, refill.qty)
                    self.shelves.put(refill.target, refill.sku, moved)
            else:
                self.stats.refusals += 1
                self.stats.errors.append(f"refill {refill.sku}: {feedback.message}")
                self._wait(IDLE_S)  # the cache may be behind: wait for the next pull
        finally:
            session.back_to_tasks()
            self.current_task = None
