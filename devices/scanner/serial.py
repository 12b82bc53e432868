"""Serial (RS-232 / USB CDC) scanner backend: ``serial:///dev/ttyUSB0?baudrate=9600``.

A reader thread feeds the bytes through ``FrameDecoder`` and queues decoded scans. When
the port vanishes (USB unplugged) it closes it and retries opening the same path with
capped exponential backoff until the device is back.
"""

from __future__ import annotations

import logging
import os
import threading

import serial

from devices.barcodes import DEFAULT_PREFIXES, Prefixes
from devices.errors import DeviceError
from devices.scanner.base import LinkState, QueueScanner
from devices.scanner.framing import FrameDecoder, Framing

log = logging.getLogger(__name__)


class SerialScanner(QueueScanner):
    """A scanner on a serial port; survives unplug/replug and line garbage."""

    def __init__(
        self,
        path: str,
        baudrate: int = 9600,
        framing: Framing | None = None,
        device_id: str = "",
        prefixes: Prefixes = DEFAULT_PREFIXES,
        wait_for_device: bool = False,
        min_backoff: float = 0.05,
        max_backoff: float = 2.0,
        poll: float = 0.1,
    ) -> None:
        super().__init__(device_id=device_id or path, prefixes=prefixes)
        self.path = path
        self.baudrate = baudrate
        self.decoder = FrameDecoder(framing)
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.poll = poll
        self._port: serial.Serial | None = None
        self._port_lock = threading.Lock()
        try:
            self._port = self._open()
        except DeviceError:
            if not wait_for_device:
                raise
        self.status.state = LinkState.CONNECTED if self._port else LinkState.RECONNECTING
        self._thread = threading.Thread(
            target=self._run, name=f"scanner-serial:{path}", daemon=True
        )
        self._thread.start()

    def _open(self) -> serial.Serial:
        try:
            return serial.Serial(self.path, baudrate=self.baudrate, timeout=self.poll)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(f"scanner {self.path}: cannot open ({exc})") from exc

    def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stop.is_set():
            port = self._port
            if port is None:
                if not os.path.exists(self.path) or not self._try_reopen():
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                backoff = self.min_backoff
                continue
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError) as exc:
                # TypeError: pyserial's cancel_read/close race on a port closed under it.
                self._lost(port, exc)
                continue
            if data:
                self._consume(data)

    def _consume(self, data: bytes) -> None:
        for code, aim in self.decoder.feed(data):
            self.deliver(code, aim)
        self.status.garbage_bytes = self.decoder.stats.garbage_bytes

    def _try_reopen(self) -> bool:
        try:
            port = self._open()
        except DeviceError as exc:
            self.status.last_error = str(exc)
            return False
        with self._port_lock:
            if self._stop.is_set():
                port.close()
                return False
            self._port = port
        self.decoder.reset()
        self.status.reconnects += 1
        self.status.state = LinkState.CONNECTED
        log.info("scanner %s: reconnected", self.path)
        return True

    def _lost(self, port: serial.Serial, exc: BaseException) -> None:
        with self._port_lock:
            self._port = None
        try:
            port.close()
        except (serial.SerialException, OSError):
            pass
        if self._stop.is_set():
            return
        self.status.state = LinkState.RECONNECTING
        self.status.last_error = str(exc)
        self.decoder.reset()
        log.warning("scanner %s: lost (%s); reconnecting", self.path, exc)

    def _shutdown(self) -> None:
        with self._port_lock:
            port = self._port
        if port is not None:
            try:
                port.cancel_read()
            except (serial.SerialException, OSError, AttributeError):
                pass
        self._thread.join(timeout=5)
        with self._port_lock:
            port, self._port = self._port, None
        if port is not None:
            port.close()
