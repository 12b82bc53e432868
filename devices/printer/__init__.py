"""ESC/POS printing: label rendering (pure), backends by URL, a durable spool and a
simulated printer (:mod:`devices.printer.sim`)."""

from devices.printer.escpos import EscposPrinter, Printer, open_printer
from devices.printer.labels import (
    LabelError,
    PackingSlip,
    PickLabel,
    ShippingLabel,
    SlipLine,
    render_packing_slip,
    render_pick_label,
    render_shipping_label,
)
from devices.printer.preview import JobPreview, preview
from devices.printer.spool import JobState, Spool, SpoolError, SpoolJob
from devices.printer.status import Paper, PrinterStatus
from devices.printer.text import clean_text, printable_text

__all__ = [
    "EscposPrinter",
    "JobPreview",
    "JobState",
    "LabelError",
    "PackingSlip",
    "Paper",
    "PickLabel",
    "Printer",
    "PrinterStatus",
    "ShippingLabel",
    "SlipLine",
    "Spool",
    "SpoolError",
    "SpoolJob",
    "clean_text",
    "open_printer",
    "preview",
    "printable_text",
    "render_packing_slip",
    "render_pick_label",
    "render_shipping_label",
]
