"""Serial (RS-232 / USB CDC) scanner backend: ``serial:///dev/ttyUSB0?baudrate=9600``.

A reader thread feeds the bytes through ``FrameDecoder`` and queues decoded scans. When
the port vanishes (USB unplugged) it closes it and retries opening the same path with
capped exponential backoff until the device is back.
"""

from __future__ import annotations

import os

import serial

from devices.barcodes import DEFAULT_PREFIXES, Prefixes
from devices.errors import DeviceError
from devices.scanner.framing import FrameDecoder, Framing
from devices.scanner.reconnect import ReconnectingScanner


class SerialScanner(ReconnectingScanner[serial.Serial, bytes]):
    """A scanner on a serial port; survives unplug/replug and line garbage."""

    # TypeError: pyserial's cancel_read/close race on a port closed under it.
    lost_errors = (serial.SerialException, OSError, TypeError)

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
        super().__init__(
            path,
            thread_name=f"scanner-serial:{path}",
            device_id=device_id,
            prefixes=prefixes,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            poll=poll,
        )
        self.baudrate = baudrate
        self.decoder = FrameDecoder(framing)
        self._start(wait_for_device)

    def _open(self) -> serial.Serial:
        try:
            return serial.Serial(self.path, baudrate=self.baudrate, timeout=self.poll)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(f"scanner {self.path}: cannot open ({exc})") from exc

    def _may_reopen(self) -> bool:
        return os.path.exists(self.path)

    def _read(self, handle: serial.Serial) -> bytes:
        return handle.read(max(1, handle.in_waiting))

    def _consume(self, chunk: bytes) -> None:
        for code, aim in self.decoder.feed(chunk):
            self.deliver(code, aim)
        self.status.garbage_bytes = self.decoder.stats.garbage_bytes

    def _reset_decoder(self) -> None:
        self.decoder.reset()

    def _release(self, handle: serial.Serial) -> None:
        try:
            handle.close()
        except (serial.SerialException, OSError):
            pass

    def _interrupt(self, handle: serial.Serial) -> None:
        try:
            handle.cancel_read()
        except (serial.SerialException, OSError, AttributeError):
            pass
