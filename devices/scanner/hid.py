"""HID keyboard-mode scanner backend: ``evdev:///dev/input/by-id/...-event-kbd``.

The device is grabbed exclusively so the scans do not also land in whatever window has
focus. Key events go through ``HidKeyDecoder``; when the device goes away the reader
reopens it with capped exponential backoff.

The event source is injectable: anything with ``fileno()``, ``read_events()``, ``close()``
works. ``RawEventSource`` parses ``struct input_event`` records from any file descriptor,
which is what ``evdev.InputDevice.read`` does too; tests feed it from a pipe.
"""

from __future__ import annotations

import errno
import os
import select
import struct
from collections.abc import Callable, Iterable
from typing import Protocol

import evdev

from devices.barcodes import DEFAULT_PREFIXES, Prefixes
from devices.errors import DeviceError
from devices.scanner.keymap import HidKeyDecoder
from devices.scanner.reconnect import ReconnectingScanner

INPUT_EVENT = struct.Struct("llHHi")  # struct input_event: sec, usec, type, code, value


class EventSource(Protocol):
    """Where key events come from: a grabbed evdev device or a raw fd."""

    def fileno(self) -> int: ...

    def read_events(self) -> Iterable[evdev.InputEvent]:
        """Events ready now; raises OSError when the device is gone."""
        ...

    def close(self) -> None: ...


class RawEventSource:
    """Parses ``struct input_event`` records from a file descriptor (owns the fd)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._partial = b""

    def fileno(self) -> int:
        """The descriptor to wait on."""
        return self.fd

    def read_events(self) -> list[evdev.InputEvent]:
        """Parse whatever records are ready; EOF means the device went away."""
        data = os.read(self.fd, INPUT_EVENT.size * 64)
        if not data:
            raise OSError(errno.ENODEV, "input device closed")
        data = self._partial + data
        whole = len(data) - len(data) % INPUT_EVENT.size
        self._partial = data[whole:]
        return [evdev.InputEvent(*fields) for fields in INPUT_EVENT.iter_unpack(data[:whole])]

    def close(self) -> None:
        """Close the descriptor."""
        try:
            os.close(self.fd)
        except OSError:
            pass


class EvdevSource:
    """A real input device, grabbed so its keys reach only us."""

    def __init__(self, path: str, grab: bool = True) -> None:
        try:
            self.device = evdev.InputDevice(path)
        except OSError as exc:
            raise DeviceError(f"scanner {path}: cannot open ({exc})") from exc
        if grab:
            try:
                self.device.grab()
            except OSError as exc:
                self.device.close()
                raise DeviceError(f"scanner {path}: cannot grab ({exc})") from exc

    def fileno(self) -> int:
        """The device descriptor."""
        return int(self.device.fd)

    def read_events(self) -> Iterable[evdev.InputEvent]:
        """Events ready now (evdev raises OSError ENODEV on unplug)."""
        try:
            return list(self.device.read())
        except BlockingIOError:
            return []

    def close(self) -> None:
        """Ungrab and close."""
        try:
            self.device.ungrab()
        except OSError:
            pass
        self.device.close()


class HidScanner(ReconnectingScanner[EventSource, list[evdev.InputEvent]]):
    """A keyboard-mode scanner read through evdev (or any injected event source)."""

    lost_errors = (OSError, ValueError)  # ValueError: fd closed under select

    def __init__(
        self,
        path: str,
        opener: Callable[[], EventSource] | None = None,
        device_id: str = "",
        prefixes: Prefixes = DEFAULT_PREFIXES,
        grab: bool = True,
        wait_for_device: bool = False,
        min_backoff: float = 0.05,
        max_backoff: float = 2.0,
        poll: float = 0.1,
    ) -> None:
        super().__init__(
            path,
            thread_name=f"scanner-hid:{path}",
            device_id=device_id,
            prefixes=prefixes,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            poll=poll,
        )
        self.keys = HidKeyDecoder()
        self._opener = opener or (lambda: EvdevSource(path, grab=grab))
        self._start(wait_for_device)

    def _open(self) -> EventSource:
        try:
            return self._opener()
        except DeviceError:
            raise
        except OSError as exc:
            raise DeviceError(f"scanner {self.path}: cannot open ({exc})") from exc

    def _read(self, handle: EventSource) -> list[evdev.InputEvent] | None:
        ready, _, _ = select.select([handle], [], [], self.poll)
        if not ready:
            return None
        return list(handle.read_events())

    def _consume(self, chunk: list[evdev.InputEvent]) -> None:
        for event in chunk:
            code = self.keys.feed(event.type, event.code, event.value)
            if code is not None:
                self.deliver(code)

    def _release(self, handle: EventSource) -> None:
        handle.close()

    def _reset_decoder(self) -> None:
        self.keys.reset()
