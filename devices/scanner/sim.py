"""Simulated scanner: ``sim://?codes=A,B,C`` or ``sim://`` and ``push(code)``."""

from __future__ import annotations

from collections.abc import Iterable

from devices.barcodes import DEFAULT_PREFIXES, Prefixes, Scan
from devices.scanner.base import LinkState, QueueScanner


class SimScanner(QueueScanner):
    """Scripted scans for demos and tests; ``push`` types one more code."""

    def __init__(
        self,
        codes: Iterable[str] = (),
        device_id: str = "sim",
        prefixes: Prefixes = DEFAULT_PREFIXES,
    ) -> None:
        super().__init__(device_id=device_id, prefixes=prefixes)
        self.status.state = LinkState.CONNECTED
        for code in codes:
            self.push(code)

    def push(self, code: str, symbology: str | None = None) -> Scan:
        """Queue ``code`` as if scanned now; returns the decoded scan."""
        return self.deliver(code, symbology)
