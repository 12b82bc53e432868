"""ESC/POS printing: label rendering (pure), backends by URL, a durable spool and a
simulated printer."""

from devices.printer.escpos import EscposPrinter, Printer, open_printer
from devices.printer.status import Paper, PrinterStatus

__all__ = ["EscposPrinter", "Paper", "Printer", "PrinterStatus", "open_printer"]
