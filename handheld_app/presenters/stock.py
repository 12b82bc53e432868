"""Stock lookup, bin count, bin-to-bin move, receipt and write-off: scan an item, see its
stock per bin from the local cache and how old that cache is (the time of the last
successful sync); then scan a bin and key the quantity on the shelf to record a count
(``stock.counted``), move units from that bin to another scanned bin (``stock.moved``),
book units put into it (``stock.adjusted``, reason ``received``, with the label's lot), or
write off damaged units found there (``stock.adjusted``, reason ``damaged``).

A count is booked at central against the ledger position this device's replica of the
bin reflects (DESIGN.md §3), so a bin with this device's own moves not yet pulled back
(a pick still in the outbox, say) cannot be counted until the next sync: its replica
position does not include them and they would be booked twice.

A move is two ledger movements and needs no such wait. It takes at most the bin's free
units in the cache (on hand less what orders have reserved there: reserved units stay for
their picks). Units of a bin holding lots keep their lot: the one on the scanned label
(which the bin must hold), else the bin's only lot; a bin holding several lots is moved
from a label that names one. A write-off takes at most the bin's units on hand, reserved
ones included (central allocates the orders counting on them again), in their lot chosen
the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from devices.barcodes import Scan, ScanKind
from handheld_app.presenters.feedback import Feedback
from handheld_app.presenters.timefmt import age
from sync.effects import stock_id
from sync.errors import SyncError
from sync.store import LocalStore

# The most units one bin count may record (what the screen's counter and a typed count go
# up to): more is a mistyped item number, not a count.
MAX_COUNT = 99_999


def _keyed(qty: object, lowest: int = 1) -> bool:
    """True for a whole number of units from ``lowest`` to ``MAX_COUNT`` (not a bool)."""
    return isinstance(qty, int) and not isinstance(qty, bool) and lowest <= qty <= MAX_COUNT


@dataclass(frozen=True)
class StockLine:
    """One bin holding the SKU."""

    location: str
    on_hand: int
    available: int
    lots: str


class StockMode(StrEnum):
    """What the next quantity on the stock screen records for the chosen bin."""

    COUNT = "count"
    MOVE = "move"
    RECEIVE = "receive"
    DAMAGED = "damaged"


@dataclass(frozen=True)
class StockView:
    """The stock screen."""

    sku: str = ""
    name: str = ""
    lines: tuple[StockLine, ...] = ()
    total_available: int = 0
    as_of: str = "never"
    message: str = "Scan an item"
    ok: bool = True
    counting: str = ""  # the bin chosen (to count, or to move from), "" when none
    mode: StockMode = StockMode.COUNT  # what the next quantity records for that bin
    target: str = ""  # the bin a move goes to, "" until scanned
    lot: str = ""  # lot and expiry on the scanned item's label, if it carries them
    expiry: str = ""

    @property
    def moving(self) -> bool:
        """The chosen bin's units are being moved to another bin."""
        return self.mode is StockMode.MOVE

    @property
    def receiving(self) -> bool:
        """Units arriving into the chosen bin are being booked."""
        return self.mode is StockMode.RECEIVE

    def on_hand_in(self, location: str) -> int:
        """The cached on-hand of the item in ``location`` (0 when the bin has none)."""
        return next((line.on_hand for line in self.lines if line.location == location), 0)

    def available_in(self, location: str) -> int:
        """The cached free units of the item in ``location``: on hand less reserved."""
        return next((line.available for line in self.lines if line.location == location), 0)


class StockPresenter:
    """Looks a scanned item up in the cache of this device's site and records bin
    counts by ``operator``."""

    def __init__(
        self,
        store: LocalStore,
        clock: Callable[[], datetime],
        last_sync: Callable[[], datetime | None] = lambda: None,
        operator: str = "",
    ) -> None:
        self.store = store
        self.clock = clock
        self.last_sync = last_sync
        self.operator = operator
        self.current = StockView()

    def lookup(self, scan: Scan) -> Feedback:
        """Show the stock of a scanned item; a bin scanned while an item is shown is
        chosen for a count there (or, while moving, is the bin the units go to); other
        barcodes are refused."""
        as_of = age(self.last_sync(), self.clock())
        if scan.kind is ScanKind.LOCATION and self.current.sku:
            code = str(scan.data["code"])
            return self.choose_target(code) if self.current.moving else self.choose_bin(code)
        if scan.kind is ScanKind.UNKNOWN:
            why = scan.data.get("error", "not readable")
            feedback = Feedback.refuse("unknown_barcode", f"Unknown barcode: {why}")
        elif scan.kind is not ScanKind.GS1 or not scan.data.get("gtin"):
            feedback = Feedback.refuse("not_an_item", "Scan an item barcode to see its stock")
        else:
            sku = self.store.sku_by_gtin(str(scan.data["gtin"]))
            if sku is None:
                gtin = scan.data["gtin"]
                feedback = Feedback.refuse("unknown_item", f"Item {gtin} is not in the catalogue")
            else:
                label = StockView(
                    lot=str(scan.data.get("lot") or ""), expiry=str(scan.data.get("expiry") or "")
                )
                return self._show(str(sku["sku"]), str(sku.get("name") or ""), as_of, label)
        self.current = StockView(as_of=as_of, message=feedback.message, ok=False)
        return feedback

    def choose_bin(self, location: str) -> Feedback:
        """Start counting the shown item in bin ``location`` of this site."""
        view = self.current
        if not view.sku:
            return self._refuse("no_item", "Scan an item first, then the bin to count it in")
        site = self.store.site
        if self.store.location(location, site) is None:
            return self._refuse("unknown_location", f"Bin {location} is not a bin of {site}")
        return self._show(view.sku, view.name, view.as_of, replace(view, counting=location))

    def start_move(self) -> Feedback:
        """Move units of the shown item out of the chosen bin: the next bin scanned is
        where they go."""
        view = self.current
        source = view.counting
        if not view.sku or not source:
            return self._refuse("no_bin", "Scan an item, then the bin to move it from")
        free = view.available_in(source)
        if free <= 0:
            return self._refuse(
                "nothing_free",
                f"No free {view.sku} in {source} to move "
                f"({view.on_hand_in(source)} on hand, all reserved or none)",
            )
        message = f"Move {view.sku} from {source}: scan the bin to put it in"
        return self._enter(StockMode.MOVE, message, "move", target="")

    def choose_target(self, location: str) -> Feedback:
        """The bin the moved units go to: a bin of this site other than the source."""
        view = self.current
        site = self.store.site
        if self.store.location(location, site) is None:
            return self._refuse("unknown_location", f"Bin {location} is not a bin of {site}")
        if location == view.counting:
            return self._refuse("same_bin", f"{location} is the bin they come from: scan another")
        free = view.available_in(view.counting)
        message = f"Move {view.sku} {view.counting} -> {location}: set the units (up to {free})"
        self.current = replace(view, target=location, message=message, ok=True)
        return Feedback.good(message, "move_to")

    def start_receive(self) -> Feedback:
        """Book units arriving into the chosen bin (a delivery, or a transfer from
        another warehouse): the next quantity is what was put there."""
        view = self.current
        if not view.sku or not view.counting:
            return self._refuse("no_bin", "Scan an item, then the bin to put it in")
        lot = f" lot {view.lot}" if view.lot else ""
        message = f"Receive {view.sku}{lot} into {view.counting}: set the units"
        return self._enter(StockMode.RECEIVE, message, "receive")

    def start_damaged(self) -> Feedback:
        """Write off damaged units found in the chosen bin: the next quantity is what
        was taken out of stock."""
        view = self.current
        source = view.counting
        if not view.sku or not source:
            return self._refuse("no_bin", "Scan an item, then the bin the damaged units are in")
        have = view.on_hand_in(source)
        if have <= 0:
            return self._refuse("nothing_there", f"No {view.sku} in {source} to write off")
        message = f"Damaged {view.sku} in {source}: set the units to write off (up to {have})"
        return self._enter(StockMode.DAMAGED, message, "damaged")

    def _enter(self, mode: StockMode, message: str, code: str, **changes: Any) -> Feedback:
        """Make the next quantity on the counter record ``mode`` for the chosen bin."""
        self.current = replace(self.current, mode=mode, message=message, ok=True, **changes)
        return Feedback.good(message, code)

    def enter_qty(self, qty: int) -> Feedback:
        """The units keyed or set on the counter, recorded as the chosen mode says."""
        record = {
            StockMode.MOVE: self.move,
            StockMode.RECEIVE: self.receive,
            StockMode.DAMAGED: self.write_off,
        }.get(self.current.mode, self.count)
        return record(qty)

    def write_off(self, qty: int) -> Feedback:
        """Record ``qty`` damaged units of the shown item taken out of the chosen bin, as
        a ``stock.adjusted`` (reason ``damaged``) of their lot."""
        view = self.current
        location, sku = view.counting, view.sku
        if not sku or not location or view.mode is not StockMode.DAMAGED:
            return self._refuse("no_bin", "Scan an item, then the bin the damaged units are in")
        have = view.on_hand_in(location)
        if not _keyed(qty):
            return self._refuse(
                "bad_qty", f"Key the damaged units (1 to {max(have, 1)}), not {qty!r}"
            )
        if qty > have:
            return self._refuse("too_many", f"Only {have} {sku} in {location}")
        lot = self._lot_of(location, qty)
        if isinstance(lot, Feedback):
            return lot
        message = f"Wrote off {qty} damaged {sku} in {location}"
        return self._adjust(-qty, "damaged", lot, "Write-off", message, "written_off")

    def receive(self, qty: int) -> Feedback:
        """Record ``qty`` units of the shown item put into the chosen bin, as a
        ``stock.adjusted`` (reason ``received``) carrying the label's lot and expiry."""
        view = self.current
        location, sku = view.counting, view.sku
        if not sku or not location or view.mode is not StockMode.RECEIVE:
            return self._refuse("no_bin", "Scan an item, then the bin to put it in")
        if not _keyed(qty):
            return self._refuse(
                "bad_qty", f"Key the units received (1 to {MAX_COUNT}), not {qty!r}"
            )
        label = {"lot": view.lot, "expiry": view.expiry}
        message = f"Received {qty} x {sku} into {location}"
        return self._adjust(qty, "received", label, "Receipt", message, "received")

    def _adjust(
        self, delta: int, reason: str, lot: dict[str, str], what: str, message: str, code: str
    ) -> Feedback:
        """Book ``delta`` units of the shown item in the chosen bin as a
        ``stock.adjusted`` of ``reason``, with the ``lot`` fields that have a value."""
        view = self.current
        data: dict[str, Any] = {
            "warehouse": self.store.site,
            "location": view.counting,
            "sku": view.sku,
            "delta": delta,
            "reason": reason,
            "operator": self.operator,
        }
        data.update({name: value for name, value in lot.items() if value})
        return self._book("stock.adjusted", data, what, message, code)

    def move(self, qty: int) -> Feedback:
        """Record ``qty`` units of the shown item moved from the chosen bin to the
        target bin."""
        view = self.current
        source, target, sku = view.counting, view.target, view.sku
        if not sku or not source or view.mode is not StockMode.MOVE:
            return self._refuse("no_bin", "Scan an item, then the bin to move it from")
        if not target:
            return self._refuse("no_target", f"Scan the bin to put {sku} in first")
        free = view.available_in(source)
        if not _keyed(qty):
            return self._refuse("bad_qty", f"Key the units to move (1 to {free}), not {qty!r}")
        if qty > free:
            reserved = view.on_hand_in(source) - free
            return self._refuse(
                "too_many",
                f"Only {free} {sku} free in {source} ({reserved} reserved for orders)",
            )
        lot = self._lot_of(source, qty)
        if isinstance(lot, Feedback):
            return lot
        data = {
            "warehouse": self.store.site,
            "sku": sku,
            "from_location": source,
            "to_location": target,
            "qty": qty,
            "operator": self.operator,
        }
        data.update({name: value for name, value in lot.items() if value})
        message = f"Moved {qty} x {sku} from {source} to {target}"
        return self._book("stock.moved", data, "Move", message, "moved")

    def _lot_of(self, location: str, qty: int) -> dict[str, str] | Feedback:
        """The lot (and expiry) ``qty`` units taken out of ``location`` carry: {} for
        units without a lot (a bin whose cached stock has none, or enough of them when
        the label names no lot); else the scanned label's lot, or the bin's only lot
        when the label named none. A refusal when the bin does not hold that lot or that
        many of it, or holds several and the label named none."""
        view = self.current
        row = self.store.get("stock", stock_id(self.store.site, location, view.sku)) or {}
        lots = [lot for lot in row.get("lots") or [] if lot.get("lot") and lot.get("qty")]
        if not lots:
            return {}
        without = int(row.get("on_hand") or 0) - sum(int(lot.get("qty") or 0) for lot in lots)
        if not view.lot and qty <= without:
            return {}
        if view.lot:
            chosen = next((lot for lot in lots if lot["lot"] == view.lot), None)
            if chosen is None:
                held = ", ".join(str(lot["lot"]) for lot in lots)
                return self._refuse(
                    "wrong_lot", f"{location} holds no lot {view.lot} of {view.sku} ({held})"
                )
        elif len(lots) > 1 or without > 0:
            return self._refuse(
                "which_lot",
                f"{location} holds several lots of {view.sku}: scan the label with the lot",
            )
        else:
            chosen = lots[0]
        if qty > int(chosen.get("qty") or 0):
            return self._refuse(
                "too_many",
                f"Only {chosen.get('qty') or 0} of lot {chosen['lot']} in {location}",
            )
        return {"lot": str(chosen["lot"]), "expiry": str(chosen.get("expiry") or view.expiry)}

    def count(self, qty: int) -> Feedback:
        """Record ``qty`` units of the shown item counted in the chosen bin."""
        view = self.current
        location, sku = view.counting, view.sku
        if not sku or not location:
            return self._refuse("no_bin", "Scan an item, then the bin to count it in")
        if not _keyed(qty, lowest=0):
            return self._refuse(
                "bad_qty", f"Key the units in the bin (0 to {MAX_COUNT}), not {qty!r}"
            )
        site = self.store.site
        row_id = stock_id(site, location, sku)
        if self.store.unsettled("stock", row_id):
            return self._refuse(
                "not_synced",
                f"{location} has moves not synced yet: count it after the next sync",
            )
        seen = self.store.base("stock", row_id) or {}
        data = {
            "warehouse": site,
            "location": location,
            "sku": sku,
            "counted": qty,
            "seen_cursor": int(seen.get("ledger_seq") or 0),
            "operator": self.operator,
        }
        was = view.on_hand_in(location)
        message = f"Counted {qty} x {sku} in {location} (the cache had {was})"
        return self._book("stock.counted", data, "Count", message, "counted")

    def _book(
        self, kind: str, data: dict[str, Any], what: str, message: str, code: str
    ) -> Feedback:
        """Record a count, move, receipt or write-off of the shown item; on success show
        the item again (no bin chosen, the label's lot kept) with ``message``."""
        view = self.current
        try:
            self.store.record(kind, data, self.clock())
        except SyncError as exc:
            return self._refuse("not_recorded", f"{what} not recorded: {exc}")
        self._show(view.sku, view.name, view.as_of, replace(view, counting=""))
        self.current = replace(self.current, message=message)
        return Feedback.good(message, code)

    def _refuse(self, code: str, message: str) -> Feedback:
        """A refusal that keeps the item (and the bin being counted) on screen."""
        self.current = replace(self.current, message=message, ok=False)
        return Feedback.refuse(code, message)

    def _show(self, sku: str, name: str, as_of: str, chosen: StockView | None = None) -> Feedback:
        """Show the item's bins from the cache; ``chosen`` carries the label's lot and
        the bin chosen for a count (a fresh choice: no move under way)."""
        chosen = chosen or StockView()
        counting = chosen.counting
        lines = []
        for row in self.store.stock(sku, self.store.site):
            lots = ", ".join(
                f"{lot.get('lot')} {lot.get('expiry') or ''}".strip()
                for lot in row.get("lots") or []
                if lot.get("lot")
            )
            lines.append(
                StockLine(
                    str(row["location"]),
                    int(row.get("on_hand") or 0),
                    int(row.get("available") or 0),
                    lots,
                )
            )
        total = sum(line.available for line in lines)
        if counting:
            message = (
                f"Count {sku} in {counting}: key the units in the bin, or Move, Receive or Damaged"
            )
            code = "count"
        else:
            bins = "bin" if len(lines) == 1 else "bins"
            message = (
                f"{sku}: {total} available in {len(lines)} {bins} (synced {as_of}); "
                "scan a bin to count or move it"
            )
            code = "stock"
        self.current = StockView(
            sku,
            name,
            tuple(lines),
            total,
            as_of,
            message,
            True,
            counting,
            lot=chosen.lot,
            expiry=chosen.expiry,
        )
        return Feedback.good(message, code)
