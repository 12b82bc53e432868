"""Printer backends chosen by URL, each a thin wrapper over a python-escpos class.

``tcp://host:9100`` (Network), ``serial:///dev/ttyUSB0?baudrate=9600`` (Serial),
``usb://VID:PID`` (Usb), ``file:///dev/usb/lp0`` (File), ``dummy://`` (Dummy). Jobs are
bytes already rendered by :mod:`devices.printer.labels`; this module only moves them.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any, Protocol

from escpos.capabilities import NotSupported, get_profile
from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy, File, Network, Serial, Usb

from devices.errors import DeviceError, DeviceURLError
from devices.printer.status import (
    QUERY_PAPER,
    QUERY_PRINTER,
    Paper,
    PrinterStatus,
    decode_online,
    decode_paper,
    is_status_byte,
)
from devices.url import DeviceURL, parse_device_url

log = logging.getLogger(__name__)

SCHEMES = ("tcp", "serial", "usb", "file", "dummy")
DEFAULT_TIMEOUT = 3.0


class Printer(Protocol):
    """The port agents print through."""

    url: str

    def send(self, job: bytes) -> None:
        """Write the whole job; raise DeviceError if the printer did not take it all."""

    def status(self) -> PrinterStatus:
        """Ask the printer; an unreachable printer is ``online=False``, never an error."""

    def close(self) -> None:
        """Release the connection; safe to call twice."""

    def __enter__(self) -> Printer: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class EscposPrinter:
    """A python-escpos device behind the :class:`Printer` port.

    ``answers_status``: the device can be read (network, serial, usb), so ``send`` ends
    with a DLE EOT query whose answer proves the printer processed every byte before it.
    The connection opens lazily and is dropped after any error, so a stale answer from a
    timed-out query can never be read as the answer to the next one.
    """

    def __init__(self, url: str, device: Escpos, answers_status: bool) -> None:
        self.url = url
        self.device = device
        self.answers_status = answers_status
        self._open = False
        self._paper = Paper.OK  # last known; kept while the printer is unreachable
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EscposPrinter({self.url!r})"

    def _connect(self) -> None:
        if self._open:
            return
        try:
            self.device.open()
        except (EscposError, OSError, ValueError, RuntimeError) as exc:
            raise DeviceError(f"printer {self.url}: cannot connect ({exc})") from exc
        self._open = True

    def _drop(self) -> None:
        if self._open:
            self._open = False
            try:
                self.device.close()
            except (EscposError, OSError) as exc:
                log.debug("printer %s: close failed: %s", self.url, exc)

    def _query(self, query: bytes) -> int:
        try:
            self.device._raw(query)
            answer = self.device._read()
        except (EscposError, OSError, NotImplementedError, AttributeError) as exc:
            self._drop()
            raise DeviceError(f"printer {self.url}: no status answer ({exc})") from exc
        if not answer or not is_status_byte(answer[-1]):
            self._drop()
            raise DeviceError(f"printer {self.url}: no status answer (got {answer!r})")
        return int(answer[-1])

    def send(self, job: bytes) -> None:
        """Write ``job``; for readable devices wait for the status answer after it."""
        with self._lock:
            self._connect()
            try:
                self.device._raw(job)
            except (EscposError, OSError, AttributeError) as exc:
                self._drop()
                raise DeviceError(f"printer {self.url}: write failed ({exc})") from exc
            if self.answers_status:
                self._query(QUERY_PRINTER)

    def status(self) -> PrinterStatus:
        """Printer status (DLE EOT 1) and paper sensor (DLE EOT 4) over the connection."""
        with self._lock:
            if not self.answers_status:
                try:
                    self._connect()
                except DeviceError:
                    return PrinterStatus(online=False, paper=self._paper)
                return PrinterStatus(online=True, paper=Paper.OK)
            try:
                self._connect()
                online = decode_online(self._query(QUERY_PRINTER))
                self._paper = decode_paper(self._query(QUERY_PAPER))
            except DeviceError as exc:
                log.info("%s", exc)
                return PrinterStatus(online=False, paper=self._paper)
            return PrinterStatus(online=online, paper=self._paper)

    def close(self) -> None:
        """Close the connection to the printer."""
        with self._lock:
            self._drop()

    def __enter__(self) -> EscposPrinter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _usb_ids(url: DeviceURL) -> tuple[int, int]:
    ids = url.raw.split("://", 1)[1].split("?", 1)[0].strip("/")
    try:
        vendor, product = (int(part, 16) for part in ids.split(":"))
    except ValueError:
        raise DeviceURLError(
            f"{url.raw}: expected usb://VID:PID in hex, e.g. usb://04b8:0202"
        ) from None
    return vendor, product


def _timeout(url: DeviceURL) -> float:
    value = url.option("timeout", str(DEFAULT_TIMEOUT)) or ""
    try:
        return float(value)
    except ValueError:
        raise DeviceURLError(f"{url.raw}: option timeout={value!r} is not a number") from None


def open_printer(url: str, profile: str | None = None) -> EscposPrinter:
    """A printer for ``url``; nothing is opened until the first status or send."""
    parsed = parse_device_url(url, SCHEMES)
    kwargs: dict[str, Any] = {"profile": profile or parsed.option("profile")}
    try:
        get_profile(kwargs["profile"])
    except (KeyError, NotSupported):
        raise DeviceURLError(f"{url}: unknown printer profile {kwargs['profile']!r}") from None
    timeout = _timeout(parsed)
    device: Escpos
    if parsed.scheme == "tcp":
        if not parsed.host:
            raise DeviceURLError(f"{url}: expected tcp://host:port")
        device = Network(parsed.host, parsed.port or 9100, timeout=timeout, **kwargs)
        return EscposPrinter(url, device, answers_status=True)
    if parsed.scheme == "serial":
        if not parsed.path:
            raise DeviceURLError(f"{url}: expected serial:///dev/ttyUSB0?baudrate=9600")
        baudrate = parsed.int_option("baudrate", 9600)
        device = Serial(parsed.path, baudrate=baudrate, timeout=timeout, **kwargs)
        return EscposPrinter(url, device, answers_status=True)
    if parsed.scheme == "usb":
        vendor, product = _usb_ids(parsed)
        # Checked before constructing: a Usb object made without pyusb raises from
        # __del__ too, at whatever moment the garbage collector runs.
        if not Usb.is_usable():
            raise DeviceError(f"printer {url}: USB printing needs the pyusb package")
        device = Usb(vendor, product, timeout=int(timeout * 1000), **kwargs)
        return EscposPrinter(url, device, answers_status=True)
    if parsed.scheme == "file":
        if not parsed.path:
            raise DeviceURLError(f"{url}: expected file:///dev/usb/lp0")
        device = File(parsed.path, **kwargs)
        return EscposPrinter(url, device, answers_status=False)
    return EscposPrinter(url, Dummy(**kwargs), answers_status=False)
