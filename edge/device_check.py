"""Try each configured device once, with a short timeout: ``rushline config check`` on an
agent or handheld settings file (DESIGN.md §4.1 "opens each configured device").

Each device gives one :class:`DeviceCheck`: ok, or one line naming the device, its URL
and what is wrong. Nothing is kept open: every device is closed before the next is tried.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from devices.conveyor import open_conveyor
from devices.errors import DeviceError
from devices.printer import open_printer
from devices.printer.escpos import SCHEMES as PRINTER_SCHEMES
from devices.scanner import open_scanner
from devices.url import parse_device_url

DEFAULT_TIMEOUT = 2.0
KINDS = ("conveyor", "scanner", "printer")


@dataclass(frozen=True)
class DeviceCheck:
    """The result of trying one device: ``problem`` is None when it answered."""

    kind: str
    url: str
    detail: str = ""
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when the device opened (and, for a printer, answered online)."""
        return self.problem is None

    def line(self) -> str:
        """``printer tcp://...: ok (online, paper ok)`` or ``printer tcp://...: <problem>``."""
        if self.problem is not None:
            return f"{self.kind} {self.url}: {self.problem}"
        return f"{self.kind} {self.url}: ok" + (f" ({self.detail})" if self.detail else "")


def with_option(url: str, name: str, value: float) -> str:
    """``url`` with ``name=value`` added to its query unless the URL sets it already."""
    query = url.partition("?")[2]
    if any(p.split("=", 1)[0] == name for p in query.split("&") if p):
        return url
    joiner = "&" if query else ("" if url.endswith("?") else "?")
    return f"{url}{joiner}{name}={value:g}"


def check_printer(url: str, profile: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Open the printer, ask its status, close it; the detail text, or ``DeviceError``."""
    parsed = parse_device_url(url, PRINTER_SCHEMES)
    if parsed.scheme == "tcp" and parsed.host:
        # A plain connect first: its error says why (refused, no route, timeout).
        try:
            socket.create_connection((parsed.host, parsed.port or 9100), timeout=timeout).close()
        except OSError as exc:
            raise DeviceError(f"cannot connect ({exc.strerror or exc})") from exc
    printer = open_printer(with_option(url, "timeout", timeout), profile)
    try:
        status = printer.status()
    finally:
        printer.close()
    if not status.online:
        raise DeviceError(f"no status answer within {timeout:g} s (offline or not a printer)")
    if status.paper.value == "out":
        raise DeviceError("paper out")
    return f"online, paper {status.paper.value}"


def check_scanner(url: str, device_id: str = "") -> str:
    """Open the scanner and close it again; the detail text, or ``DeviceError``."""
    scanner = open_scanner(url, device_id=device_id)
    try:
        state = str(getattr(getattr(scanner, "status", None), "state", "") or "")
    finally:
        scanner.close()
    if state == "reconnecting":  # opened with wait=true and the device is not there
        raise DeviceError("device not present (the agent would wait for it)")
    return "opened"


def check_conveyor(url: str, device_id: str = "", timeout: float = DEFAULT_TIMEOUT) -> str:
    """Open the conveyor link (serial port or MQTT bridge) and close it; ``sim://`` is a
    belt the sorter runs itself, so there is nothing to open."""
    if url.startswith("sim://"):
        return "simulated belt, started by the sorter"
    if url.startswith("mqtt://"):
        url = with_option(url, "connect_timeout", timeout)
    conveyor = open_conveyor(url, client_id=f"{device_id or 'rushline'}-check")
    conveyor.close()
    return "opened"


def check_devices(
    urls: Mapping[str, str | None],
    device_id: str = "",
    printer_profile: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[DeviceCheck]:
    """Try every configured device of ``urls`` ({conveyor, scanner, printer} -> URL or
    None), in that order; a device that is not configured is skipped."""
    probes: dict[str, Callable[[str], str]] = {
        "conveyor": lambda url: check_conveyor(url, device_id, timeout),
        "scanner": lambda url: check_scanner(url, device_id),
        "printer": lambda url: check_printer(url, printer_profile, timeout),
    }
    results = []
    for kind in KINDS:
        url = urls.get(kind)
        if not url:
            continue
        try:
            detail = probes[kind](url)
        except DeviceError as exc:
            results.append(DeviceCheck(kind, url, problem=_reason(str(exc), url)))
        except (OSError, ValueError) as exc:
            results.append(DeviceCheck(kind, url, problem=_reason(str(exc), url)))
        else:
            results.append(DeviceCheck(kind, url, detail))
    return results


def _reason(text: str, url: str) -> str:
    """The error without a repeated URL or kind prefix, on one line."""
    text = " ".join(text.split())
    for prefix in (f"printer {url}: ", f"scanner {url}: ", f"{url}: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text or "failed"
