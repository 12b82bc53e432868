"""The reader thread both hardware scanner backends share: read, and on loss reopen.

A backend opens its device (``_open``), reads what is ready (``_read``) and turns it
into scans (``_consume``); when a read fails with one of ``lost_errors`` the device is closed and the
thread reopens the same path with capped exponential backoff until it is back.
"""

from __future__ import annotations

import logging
import threading
from typing import Generic, TypeVar

from devices.barcodes import DEFAULT_PREFIXES, Prefixes
from devices.errors import DeviceError
from devices.scanner.base import LinkState, QueueScanner

Handle = TypeVar("Handle")
Chunk = TypeVar("Chunk")


class ReconnectingScanner(QueueScanner, Generic[Handle, Chunk]):
    """A scanner on a device path that survives unplug/replug; backends fill in the I/O."""

    lost_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(
        self,
        path: str,
        thread_name: str,
        device_id: str = "",
        prefixes: Prefixes = DEFAULT_PREFIXES,
        min_backoff: float = 0.05,
        max_backoff: float = 2.0,
        poll: float = 0.1,
    ) -> None:
        super().__init__(device_id=device_id or path, prefixes=prefixes)
        self.path = path
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.poll = poll
        self._handle: Handle | None = None
        self._handle_lock = threading.Lock()
        self._log = logging.getLogger(type(self).__module__)
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def _start(self, wait_for_device: bool) -> None:
        """Open the device (or, with ``wait_for_device``, tolerate its absence) and read."""
        try:
            self._handle = self._open()
        except DeviceError:
            if not wait_for_device:
                raise
        self.status.state = LinkState.CONNECTED if self._handle else LinkState.RECONNECTING
        self._thread.start()

    def _open(self) -> Handle:
        """Open the device; raise DeviceError when it cannot be opened."""
        raise NotImplementedError

    def _read(self, handle: Handle) -> Chunk | None:
        """What is ready (waiting at most ``poll`` s), or None; raises ``lost_errors``."""
        raise NotImplementedError

    def _consume(self, chunk: Chunk) -> None:
        """Decode what was read and ``deliver`` each whole code."""
        raise NotImplementedError

    def _release(self, handle: Handle) -> None:
        """Close the device, ignoring errors from one already gone."""
        raise NotImplementedError

    def _reset_decoder(self) -> None:
        """Drop a half-read code: the bytes after a reconnect do not continue it."""

    def _may_reopen(self) -> bool:
        """Cheap check before an open attempt (e.g. the device node exists)."""
        return True

    def _interrupt(self, handle: Handle) -> None:
        """Wake a read blocked on ``handle`` so the thread sees the stop."""

    def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stop.is_set():
            handle = self._handle
            if handle is None:
                if self._may_reopen() and self._reopen():
                    backoff = self.min_backoff
                else:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                continue
            try:
                chunk = self._read(handle)
            except self.lost_errors as exc:
                self._lost(handle, exc)
                continue
            if chunk:
                self._consume(chunk)

    def _reopen(self) -> bool:
        try:
            handle = self._open()
        except DeviceError as exc:
            self.status.last_error = str(exc)
            return False
        with self._handle_lock:
            if self._stop.is_set():
                self._release(handle)
                return False
            self._handle = handle
        self._reset_decoder()
        self.status.reconnects += 1
        self.status.state = LinkState.CONNECTED
        self._log.info("scanner %s: reconnected", self.path)
        return True

    def _lost(self, handle: Handle, exc: BaseException) -> None:
        with self._handle_lock:
            self._handle = None
        self._release(handle)
        if self._stop.is_set():
            return
        self.status.state = LinkState.RECONNECTING
        self.status.last_error = str(exc)
        self._reset_decoder()
        self._log.warning("scanner %s: lost (%s); reconnecting", self.path, exc)

    def _shutdown(self) -> None:
        with self._handle_lock:
            handle = self._handle
        if handle is not None:
            self._interrupt(handle)
        self._thread.join(timeout=5)
        with self._handle_lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            self._release(handle)
