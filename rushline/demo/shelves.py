"""The units physically on the demo floor's shelves, which the system can get wrong.

The stock the system believes in comes from central's ledger; the shelves hold what is
really there. At the start of the shift a few pick bins hold fewer units than the master
data says (phantom stock: a miscount, an unrecorded breakage). A picker who finds a bin
short takes what is there, reports the rest short and asks for a count; the replenisher
counts the bin on its handheld, which books the truth at central, then refills the bin
from reserve. The order that was short gets the rest in a top-up pick.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

# Pick bins that start the shift holding fewer units than the system believes.
PHANTOM_BINS = 3


@dataclass(frozen=True)
class Phantom:
    """A pick bin holding ``physical`` units of ``sku`` where the system says ``system``."""

    location: str
    sku: str
    system: int
    physical: int


class Shelves:
    """Units per (bin, SKU) of one site; every worker's hands go through here."""

    def __init__(self, masterdata: dict[str, Any], site: str) -> None:
        self._lock = threading.Lock()
        self._units: dict[tuple[str, str], int] = {}
        for row in masterdata.get("stock", []):
            if row.get("warehouse") == site:
                key = (str(row["location"]), str(row["sku"]))
                self._units[key] = self._units.get(key, 0) + int(row.get("qty") or 0)
        self._to_count: dict[tuple[str, str], None] = {}
        self.phantoms: list[Phantom] = []

    def make_phantoms(
        self, masterdata: dict[str, Any], site: str, skip: set[str], count: int = PHANTOM_BINS
    ) -> list[Phantom]:
        """Take units off the shelves of ``count`` pick bins: SKUs held in one pick bin
        of ``site`` and in a reserve bin (so a refill can follow), not in ``skip``. The
        bin really holds one unit."""
        kinds = {
            str(loc["code"]): str(loc.get("kind") or "pick")
            for loc in masterdata.get("locations", [])
            if loc.get("warehouse") == site
        }
        points = {str(s["sku"]): int(s.get("reorder_point") or 0) for s in masterdata["skus"]}
        picks: dict[str, list[str]] = {}
        reserves: set[str] = set()
        with self._lock:
            for (location, sku), units in self._units.items():
                if units <= 0:
                    continue
                if kinds.get(location) == "pick":
                    picks.setdefault(sku, []).append(location)
                elif kinds.get(location) == "reserve":
                    reserves.add(sku)
            chosen = sorted(
                sku
                for sku, bins in picks.items()
                if len(bins) == 1 and sku in reserves and sku not in skip and points.get(sku)
            )[:count]
            for sku in chosen:
                location = picks[sku][0]
                system = self._units[(location, sku)]
                physical = min(1, system)
                self._units[(location, sku)] = physical
                self.phantoms.append(Phantom(location, sku, system, physical))
        return list(self.phantoms)

    def take(self, location: str, sku: str, want: int) -> int:
        """Take up to ``want`` units out of the bin; returns how many were there."""
        with self._lock:
            have = self._units.get((location, sku), 0)
            got = max(0, min(want, have))
            self._units[(location, sku)] = have - got
            return got

    def put(self, location: str, sku: str, units: int) -> None:
        """Put ``units`` into the bin."""
        with self._lock:
            key = (location, sku)
            self._units[key] = self._units.get(key, 0) + units

    def units(self, location: str, sku: str) -> int:
        """What a person counting the bin finds."""
        with self._lock:
            return self._units.get((location, sku), 0)

    def ask_count(self, location: str, sku: str) -> None:
        """A picker found the bin short: someone should count it."""
        with self._lock:
            self._to_count[(location, sku)] = None

    def next_count(self) -> tuple[str, str] | None:
        """The longest-waiting bin to count, taken off the list; None when none."""
        with self._lock:
            if not self._to_count:
                return None
            key = next(iter(self._to_count))
            del self._to_count[key]
            return key
