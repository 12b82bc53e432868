"""Barcode scanners, one backend per module, chosen by URL (DESIGN.md §4.5, STYLE.md).

- ``serial:///dev/ttyUSB0?baudrate=9600&suffix=CR&aim=1&prefix=&wait=0``
- ``evdev:///dev/input/by-id/usb-...-event-kbd?grab=1&wait=0``
- ``wedge://?max_gap_ms=30&min_chars=4`` (the handheld feeds keystrokes)
- ``sim://?codes=TOTE-0042,LOC-A03-12-2`` (or ``sim://`` and ``push(code)``)
"""

from __future__ import annotations

from devices.barcodes import DEFAULT_PREFIXES, Prefixes, Scan, ScanKind
from devices.errors import DeviceURLError
from devices.scanner.base import LinkState, QueueScanner, Scanner, ScannerStatus
from devices.scanner.framing import FrameDecoder, Framing
from devices.scanner.wedge import TypedText, WedgeDecoder, WedgeTiming
from devices.url import DeviceURL, parse_device_url

SCHEMES = ("serial", "evdev", "wedge", "sim")

__all__ = [
    "SCHEMES",
    "FrameDecoder",
    "Framing",
    "LinkState",
    "QueueScanner",
    "Scan",
    "ScanKind",
    "Scanner",
    "ScannerStatus",
    "TypedText",
    "WedgeDecoder",
    "WedgeTiming",
    "open_scanner",
]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _flag(url: DeviceURL, name: str, default: bool) -> bool:
    value = url.option(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise DeviceURLError(f"{url.raw}: option {name}={value!r} is not a yes/no (use 1 or 0)")


def _device_path(url: DeviceURL) -> str:
    path = url.path if not url.host else f"/{url.host}{url.path}"
    if not path or path == "/":
        raise DeviceURLError(f"{url.raw}: no device path (e.g. serial:///dev/ttyUSB0)")
    return path


def open_scanner(
    url: str, device_id: str = "", prefixes: Prefixes = DEFAULT_PREFIXES
) -> QueueScanner:
    """Open the scanner named by ``url``; a bad URL or a missing device raises DeviceError."""
    parsed = parse_device_url(url, allowed=SCHEMES)
    if parsed.scheme == "serial":
        from devices.scanner.serial import SerialScanner

        framing = Framing(
            suffix=parsed.option("suffix", "CR") or "CR",
            prefix=parsed.option("prefix", "") or "",
            aim=_flag(parsed, "aim", False),
        )
        return SerialScanner(
            _device_path(parsed),
            baudrate=parsed.int_option("baudrate", 9600),
            framing=framing,
            device_id=device_id,
            prefixes=prefixes,
            wait_for_device=_flag(parsed, "wait", False),
        )
    if parsed.scheme == "evdev":
        from devices.scanner.hid import HidScanner

        return HidScanner(
            _device_path(parsed),
            device_id=device_id,
            prefixes=prefixes,
            grab=_flag(parsed, "grab", True),
            wait_for_device=_flag(parsed, "wait", False),
        )
    if parsed.scheme == "wedge":
        from devices.scanner.wedge import WedgeScanner

        timing = WedgeTiming(
            max_gap=parsed.int_option("max_gap_ms", 30) / 1000,
            min_chars=parsed.int_option("min_chars", 4),
        )
        return WedgeScanner(timing, device_id=device_id or "wedge", prefixes=prefixes)
    from devices.scanner.sim import SimScanner

    codes = [code for code in (parsed.option("codes", "") or "").split(",") if code]
    return SimScanner(codes, device_id=device_id or "sim", prefixes=prefixes)
