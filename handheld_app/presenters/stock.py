"""Stock lookup: scan an item, see its stock per bin from the local cache, and how old
that cache is (the time of the last successful sync)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from devices.barcodes import Scan, ScanKind
from handheld_app.presenters.feedback import Feedback
from handheld_app.presenters.timefmt import age
from sync.store import LocalStore


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


class StockPresenter:
    """Looks a scanned item up in the cache of this device's site."""

    def __init__(
        self,
        store: LocalStore,
        clock: Callable[[], datetime],
        last_sync: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.last_sync = last_sync
        self.current = StockView()

    def lookup(self, scan: Scan) -> Feedback:
        """Show the stock of the scanned item; other barcodes are refused."""
        as_of = age(self.last_sync(), self.clock())
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

    def _show(self, sku: str, name: str, as_of: str) -> Feedback:
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
        bins = "bin" if len(lines) == 1 else "bins"
        message = f"{sku}: {total} available in {len(lines)} {bins} (synced {as_of})"
        self.current = StockView(sku, name, tuple(lines), total, as_of, message, True)
        return Feedback.good(message, "stock")
