"""The dock's carrier pickups and the manifest printed when one is closed (pure).

A pickup collects the parcels handed to one carrier; closing it yields a
:class:`Manifest` (order ids, tracking numbers, parcel count, total weight) rendered to
ESC/POS bytes for the dock printer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy

from devices.printer.labels import LabelError
from devices.printer.text import clean_text, printable_text

_SLUG = re.compile(r"[^a-z0-9]+")


def carrier_key(name: str) -> str:
    """A carrier's pickup key: lower case, words joined by ``-`` (``Poczta Polska`` ->
    ``poczta-polska``); what ``CLOSE-<carrier>`` codes carry."""
    return _SLUG.sub("-", name.strip().lower()).strip("-")


@dataclass(frozen=True, slots=True)
class Parcel:
    """One parcel handed over to the carrier."""

    order_id: str
    tracking: str
    carrier_service: str
    weight_g: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Manifest:
    """A closed pickup: what the driver signs for."""

    pickup_id: str
    carrier: str
    site: str
    opened_at: datetime
    closed_at: datetime
    parcels: tuple[Parcel, ...]

    @property
    def count(self) -> int:
        """Parcels handed over."""
        return len(self.parcels)

    @property
    def total_weight_g(self) -> int:
        """Sum of the parcels' weights."""
        return sum(p.weight_g for p in self.parcels)

    @property
    def job_id(self) -> str:
        """The print job id: one manifest per pickup, printed once."""
        return f"manifest-{self.pickup_id}"

    def to_dict(self) -> dict[str, object]:
        """JSON shape (for the dock's MQTT event and logs)."""
        return {
            "pickup_id": self.pickup_id,
            "carrier": self.carrier,
            "site": self.site,
            "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat(),
            "count": self.count,
            "total_weight_g": self.total_weight_g,
            "parcels": [
                {
                    "order_id": p.order_id,
                    "tracking": p.tracking,
                    "carrier_service": p.carrier_service,
                    "weight_g": p.weight_g,
                }
                for p in self.parcels
            ],
        }


def pickup_id(carrier: str, closed_at: datetime, number: int) -> str:
    """``<carrier key>-<YYYYMMDD>-<n>``: the n-th pickup of that carrier at this dock."""
    return f"{carrier_key(carrier)}-{closed_at:%Y%m%d}-{number}"


def render_manifest(manifest: Manifest, profile: str = "default") -> bytes:
    """The manifest as one ESC/POS job ending with a cut."""
    printer = Dummy(profile=profile)
    rule = "-" * 42
    try:
        printer.hw("INIT")
        printer.set(align="center", bold=True, double_height=True)
        printer.textln("CARRIER MANIFEST")
        printer.set(align="left", bold=False, normal_textsize=True)
        printer.textln(printable_text(f"CARRIER {manifest.carrier}", profile))
        printer.textln(printable_text(f"PICKUP {manifest.pickup_id}", profile))
        printer.textln(printable_text(f"SITE {manifest.site}", profile))
        printer.textln(f"OPENED {manifest.opened_at:%Y-%m-%d %H:%M}")
        printer.textln(f"CLOSED {manifest.closed_at:%Y-%m-%d %H:%M}")
        printer.textln(rule)
        for parcel in manifest.parcels:
            printer.textln(printable_text(f"{parcel.order_id}  {parcel.tracking}", profile))
            printer.textln(
                printable_text(
                    f"    {parcel.carrier_service}  {parcel.weight_g / 1000:.2f} kg", profile
                )
            )
        printer.textln(rule)
        printer.set(bold=True)
        printer.textln(f"PARCELS {manifest.count}")
        printer.textln(f"TOTAL WEIGHT {manifest.total_weight_g / 1000:.2f} kg")
        printer.set(bold=False)
        code = clean_text(manifest.pickup_id)
        if code.isascii() and code:
            printer._hw_barcode(
                "{B" + code.replace("{", "{{"),
                "CODE128",
                height=60,
                width=2,
                pos="OFF",
                function_type="B",
            )
            printer.ln()
        printer.textln("DRIVER SIGNATURE ____________________")
        printer.cut()
        return bytes(printer.output)
    except (EscposError, ValueError) as exc:
        raise LabelError(f"manifest {manifest.pickup_id!r}: {exc}") from exc
