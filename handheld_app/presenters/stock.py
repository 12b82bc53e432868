"""Stock lookup and bin count: scan an item, see its stock per bin from the local cache
and how old that cache is (the time of the last successful sync); then scan a bin and key
the quantity on the shelf to record a count (``stock.counted``).

A count is booked at central against the ledger position this device's replica of the
bin reflects (DESIGN.md §3), so a bin with this device's own moves not yet pulled back
(a pick still in the outbox, say) cannot be counted until the next sync: its replica
position does not include them and they would be booked twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from devices.barcodes import Scan, ScanKind
from handheld_app.presenters.feedback import Feedback
from handheld_app.presenters.timefmt import age
from sync.effects import stock_id
from sync.errors import SyncError
from sync.store import LocalStore

# The most units one bin count may record (what the screen's counter and a typed count go
# up to): more is a mistyped item number, not a count.
MAX_COUNT = 99_999


@dataclass(frozen=True)
class StockLine:
    """One bin holding the SKU."""

    location: str
    on_hand: int
    available: int
    lots: str


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
    counting: str = ""  # the bin being counted, "" when none

    def on_hand_in(self, location: str) -> int:
        """The cached on-hand of the item in ``location`` (0 when the bin has none)."""
        return next((line.on_hand for line in self.lines if line.location == location), 0)


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
        """Show the stock of a scanned item; a bin scanned while an item is shown
        starts counting it there; other barcodes are refused."""
        as_of = age(self.last_sync(), self.clock())
        if scan.kind is ScanKind.LOCATION and self.current.sku:
            return self.choose_bin(str(scan.data["code"]))
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
                return self._show(str(sku["sku"]), str(sku.get("name") or ""), as_of)
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
        return self._show(view.sku, view.name, view.as_of, counting=location)

    def count(self, qty: int) -> Feedback:
        """Record ``qty`` units of the shown item counted in the chosen bin."""
        view = self.current
        location, sku = view.counting, view.sku
        if not sku or not location:
            return self._refuse("no_bin", "Scan an item, then the bin to count it in")
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= MAX_COUNT:
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
        try:
            self.store.record("stock.counted", data, self.clock())
        except SyncError as exc:
            return self._refuse("not_recorded", f"Count not recorded: {exc}")
        was = view.on_hand_in(location)
        self._show(sku, view.name, view.as_of)
        message = f"Counted {qty} x {sku} in {location} (the cache had {was})"
        self.current = replace(self.current, message=message)
        return Feedback.good(message, "counted")

    def _refuse(self, code: str, message: str) -> Feedback:
        """A refusal that keeps the item (and the bin being counted) on screen."""
        self.current = replace(self.current, message=message, ok=False)
        return Feedback.refuse(code, message)

    def _show(self, sku: str, name: str, as_of: str, counting: str = "") -> Feedback:
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
            message = f"Count {sku} in {counting}: key the units in the bin"
            code = "count"
        else:
            bins = "bin" if len(lines) == 1 else "bins"
            message = (
                f"{sku}: {total} available in {len(lines)} {bins} (synced {as_of}); "
                "scan a bin to count it"
            )
            code = "stock"
        self.current = StockView(sku, name, tuple(lines), total, as_of, message, True, counting)
        return Feedback.good(message, code)
