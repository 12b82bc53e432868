"""The scanner port the agents consume, and the queue-fed base every backend shares."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Protocol, runtime_checkable

from devices.barcodes import DEFAULT_PREFIXES, Prefixes, Scan, decode


@runtime_checkable
class Scanner(Protocol):
    """A source of decoded scans. Open it with ``with``; ``read`` waits for the next one."""

    device_id: str

    def read(self, timeout: float | None = None) -> Scan | None:
        """The next scan, or None when ``timeout`` s pass (or the scanner is closed)."""
        ...

    def __iter__(self) -> Iterator[Scan]: ...

    def close(self) -> None:
        """Stop reading and release the device; safe to call twice."""
        ...

    def __enter__(self) -> Scanner: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class LinkState(StrEnum):
    """Whether a hardware scanner's device is open right now."""

    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass
class ScannerStatus:
    """Live health of a scanner backend, for logs and the device's state topic."""

    state: LinkState = LinkState.RECONNECTING
    reconnects: int = 0
    garbage_bytes: int = 0
    scans: int = 0
    last_error: str = ""


_CLOSED = object()  # queue sentinel that wakes a blocked reader on close


class QueueScanner:
    """Common shell: a backend thread ``deliver``s codes; readers take scans off a queue."""

    def __init__(self, device_id: str = "", prefixes: Prefixes = DEFAULT_PREFIXES) -> None:
        self.device_id = device_id
        self.prefixes = prefixes
        self.status = ScannerStatus()
        self._queue: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()

    @property
    def closed(self) -> bool:
        """True once ``close`` was called."""
        return self._stop.is_set()

    def deliver(self, code: str, symbology: str | None = None) -> Scan:
        """Decode ``code`` and queue the scan (called from the backend's thread)."""
        scan = decode(
            code, self.prefixes, symbology=symbology, device=self.device_id, at=time.time()
        )
        self.status.scans += 1
        self._queue.put(scan)
        return scan

    def read(self, timeout: float | None = None) -> Scan | None:
        """The next scan, or None on timeout or once closed and drained."""
        if self._stop.is_set() and self._queue.empty():
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _CLOSED:
            self._queue.put(_CLOSED)  # wake any other reader too
            return None
        return item if isinstance(item, Scan) else None

    def __iter__(self) -> Iterator[Scan]:
        while True:
            scan = self.read(timeout=None)
            if scan is None:
                return
            yield scan

    def close(self) -> None:
        """Stop the backend and wake readers."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.status.state = LinkState.CLOSED
        self._shutdown()
        self._queue.put(_CLOSED)

    def _shutdown(self) -> None:
        """Backends release their device and join their thread here."""

    def __enter__(self) -> QueueScanner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
