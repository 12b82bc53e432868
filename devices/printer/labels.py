"""Shipping labels, packing slips and pick labels rendered to ESC/POS bytes (pure).

Built with python-escpos's ``Dummy`` printer, so the bytes are exactly what the library
would send to a real printer of the chosen profile ("default", "TM-T88V", ...). Every
field that came from outside passes :func:`devices.printer.text.printable_text` first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from escpos.capabilities import NotSupported, get_profile
from escpos.exceptions import Error as EscposError
from escpos.magicencode import Encoder
from escpos.printer import Dummy

from devices.errors import DeviceError
from devices.printer.text import clean_text, code_page_maps, printable_text

LEVELS = ("P1", "P2", "P3", "P4")
URGENT_LEVELS = ("P1", "P2")
_CODE128_TEXT = re.compile(r"[\x20-\x7e]{1,200}")


class LabelError(DeviceError, ValueError):
    """A label cannot be rendered; the message names the field."""


@dataclass(frozen=True)
class ShippingLabel:
    """Everything printed on a carton's shipping label."""

    order_id: str
    ship_to_name: str
    address_lines: tuple[str, ...]
    city: str
    postcode: str
    country: str
    carrier: str
    service: str
    tracking: str
    tracking_url: str
    level: str
    weight_g: int
    carton: str


@dataclass(frozen=True)
class SlipLine:
    """One line of a packing slip."""

    sku: str
    name: str
    qty: int


@dataclass(frozen=True)
class PackingSlip:
    """The list of what is in the carton."""

    order_id: str
    lines: tuple[SlipLine, ...]
    carton: str
    level: str


@dataclass(frozen=True)
class PickLabel:
    """The label stuck on a tote when an order is picked into it."""

    order_id: str
    tote: str
    level: str
    lines_count: int


@lru_cache(maxsize=16)
def _columns(profile: str) -> int:
    try:
        return int(get_profile(profile).get_columns("a"))
    except (NotSupported, KeyError, TypeError, ValueError):
        return 42


def _new_printer(profile: str) -> Dummy:
    """A Dummy printer whose encoder reuses the profile's cached code page tables
    (building them costs ~10 ms, far more than a whole label)."""
    try:
        get_profile(profile)
    except (NotSupported, KeyError) as exc:
        raise LabelError(f"unknown printer profile {profile!r}") from exc
    printer = Dummy(profile=profile)
    encoder = Encoder(printer.profile.get_code_pages())
    encoder.available_characters = dict(code_page_maps(profile))
    printer.magic.encoder = encoder
    return printer


def _level(level: str) -> str:
    if level not in LEVELS:
        raise LabelError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    return level


def _code128(field: str, value: str) -> str:
    """Code set B data for GS k; a literal '{' is written '{{' in ESC/POS CODE128."""
    value = clean_text(value)
    if not _CODE128_TEXT.fullmatch(value):
        raise LabelError(f"{field} {value!r} must be 1-200 printable ASCII characters")
    return "{B" + value.replace("{", "{{")


def _banner(printer: Dummy, level: str) -> None:
    if level in URGENT_LEVELS:
        printer.set(align="center", bold=True, double_width=True, double_height=True)
        printer.set(invert=True)
        printer.textln(f" URGENT {level} ")
        printer.set(invert=False)
        printer.set(normal_textsize=True, bold=False)


def _title(printer: Dummy, title: str) -> None:
    printer.set(align="center", bold=True)
    printer.textln(title)
    printer.set(align="left", bold=False)


def _barcode(printer: Dummy, data: str) -> None:
    # _hw_barcode is the byte-level half of Escpos.barcode(); the public method also
    # prints "Using hardware barcode renderer" on stdout, which would pollute CLI output.
    printer._hw_barcode(data, "CODE128", height=80, width=2, pos="OFF", function_type="B")
    printer.ln()


def _finish(printer: Dummy) -> bytes:
    printer.cut()
    return bytes(printer.output)


def render_shipping_label(label: ShippingLabel, profile: str = "default") -> bytes:
    """The shipping label as one ESC/POS job ending with a cut."""
    level = _level(label.level)
    tracking = _code128("tracking", label.tracking)
    printer = _new_printer(profile)
    rule = "-" * _columns(profile)
    try:
        printer.hw("INIT")
        _banner(printer, level)
        _title(printer, "SHIPPING LABEL")
        printer.textln("SHIP TO")
        printer.set(bold=True, double_height=True)
        printer.textln(printable_text(label.ship_to_name, profile))
        printer.set(bold=False, normal_textsize=True)
        for line in label.address_lines:
            printer.textln(printable_text(line, profile))
        printer.textln(printable_text(f"{label.postcode} {label.city}", profile))
        printer.textln(printable_text(label.country, profile))
        printer.textln(rule)
        printer.textln(printable_text(f"ORDER {label.order_id}", profile))
        printer.textln(f"PRIORITY {level}")
        printer.textln(printable_text(f"CARRIER {label.carrier} {label.service}", profile))
        printer.textln(
            printable_text(f"WEIGHT {label.weight_g / 1000:.2f} kg  CARTON {label.carton}", profile)
        )
        printer.textln(rule)
        _barcode(printer, tracking)
        printer.textln(f"TRACKING {tracking[2:].replace('{{', '{')}")
        url = clean_text(label.tracking_url)
        if url:
            printer.qr(url, size=5, native=True)
            printer.ln()
        printer.set(align="left")
        return _finish(printer)
    except (EscposError, ValueError) as exc:
        raise LabelError(f"shipping label for {label.order_id!r}: {exc}") from exc


def render_packing_slip(slip: PackingSlip, profile: str = "default") -> bytes:
    """The packing slip: order, carton and one row per line (SKU, qty, name)."""
    level = _level(slip.level)
    printer = _new_printer(profile)
    columns = _columns(profile)
    try:
        printer.hw("INIT")
        _banner(printer, level)
        _title(printer, "PACKING SLIP")
        printer.textln(printable_text(f"ORDER {slip.order_id}", profile))
        printer.textln(printable_text(f"CARTON {slip.carton}", profile))
        printer.textln(f"PRIORITY {level}")
        printer.textln("-" * columns)
        printer.textln(f"{'QTY':>4}  {'SKU':<16} NAME")
        for line in slip.lines:
            if line.qty < 1:
                raise LabelError(f"packing slip line {line.sku!r}: qty {line.qty} < 1")
            sku = printable_text(line.sku, profile)
            name = printable_text(line.name, profile)
            printer.textln(f"{line.qty:>4}  {sku:<16} {name}"[:columns])
        printer.textln("-" * columns)
        total = sum(line.qty for line in slip.lines)
        printer.textln(f"{len(slip.lines)} lines, {total} items")
        return _finish(printer)
    except EscposError as exc:
        raise LabelError(f"packing slip for {slip.order_id!r}: {exc}") from exc


def render_pick_label(label: PickLabel, profile: str = "default") -> bytes:
    """The tote label: order, tote (as CODE128), level and number of lines."""
    level = _level(label.level)
    tote = _code128("tote", label.tote)
    printer = _new_printer(profile)
    try:
        printer.hw("INIT")
        _banner(printer, level)
        _title(printer, "PICK LABEL")
        printer.set(bold=True, double_height=True)
        printer.textln(printable_text(f"ORDER {label.order_id}", profile))
        printer.set(bold=False, normal_textsize=True)
        printer.textln(f"TOTE {tote[2:].replace('{{', '{')}")
        printer.textln(f"PRIORITY {level}  LINES {label.lines_count}")
        _barcode(printer, tote)
        return _finish(printer)
    except EscposError as exc:
        raise LabelError(f"pick label for {label.order_id!r}: {exc}") from exc
