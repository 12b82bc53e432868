"""Keyboard-wedge scanners on the handheld: tell a scanner burst from a person typing.

A wedge scanner types its code as keystrokes followed by Enter, a few milliseconds per
character; a person is an order of magnitude slower. ``WedgeDecoder`` is pure: the app
passes each character and the Enter with their timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.barcodes import DEFAULT_PREFIXES, Prefixes, Scan, decode
from devices.scanner.base import LinkState, QueueScanner


@dataclass(frozen=True)
class TypedText:
    """Text a person typed (slowly) and confirmed with Enter: not a scan."""

    text: str


@dataclass(frozen=True)
class WedgeTiming:
    """What counts as a scanner burst: at least ``min_chars``, mean gap under ``max_gap``."""

    max_gap: float = 0.030
    min_chars: int = 4


class WedgeDecoder:
    """Collects keystrokes; on Enter returns a ``Scan`` (burst) or ``TypedText`` (human)."""

    def __init__(
        self,
        timing: WedgeTiming = WedgeTiming(),
        prefixes: Prefixes = DEFAULT_PREFIXES,
        device_id: str = "",
        max_chars: int = 4096,
    ) -> None:
        self.timing = timing
        self.prefixes = prefixes
        self.device_id = device_id
        self.max_chars = max_chars
        self._chars: list[str] = []
        self._times: list[float] = []
        self._edited = False

    def feed_char(self, ch: str, t: float) -> None:
        """One typed character at time ``t`` (seconds, any monotonic clock)."""
        if len(self._chars) >= self.max_chars:
            self.clear()
        self._chars.append(ch)
        self._times.append(t)

    def feed_backspace(self, t: float) -> None:
        """A correction: scanners never send one, so the entry is a person's."""
        if self._chars:
            self._chars.pop()
            self._times.pop()
        self._edited = True

    def feed_enter(self, t: float) -> Scan | TypedText | None:
        """Enter ends the entry; None when nothing was typed."""
        text = "".join(self._chars)
        times = self._times
        edited = self._edited
        self.clear()
        if not text:
            return None
        if not edited and len(text) >= self.timing.min_chars:
            mean_gap = (t - times[0]) / len(text)
            if mean_gap < self.timing.max_gap:
                return decode(text, self.prefixes, device=self.device_id, at=t)
        return TypedText(text)

    def clear(self) -> None:
        """Drop a partial entry (focus changed)."""
        self._chars, self._times, self._edited = [], [], False


class WedgeScanner(QueueScanner):
    """``wedge://``: the app feeds keystrokes; scans come out of ``read`` like any scanner."""

    def __init__(
        self,
        timing: WedgeTiming = WedgeTiming(),
        device_id: str = "wedge",
        prefixes: Prefixes = DEFAULT_PREFIXES,
    ) -> None:
        super().__init__(device_id=device_id, prefixes=prefixes)
        self.decoder = WedgeDecoder(timing, prefixes, device_id)
        self.status.state = LinkState.CONNECTED

    def feed_char(self, ch: str, t: float) -> None:
        """One keystroke from the app's key handler."""
        self.decoder.feed_char(ch, t)

    def feed_backspace(self, t: float) -> None:
        """A correction keystroke."""
        self.decoder.feed_backspace(t)

    def feed_enter(self, t: float) -> Scan | TypedText | None:
        """Enter: a burst is queued as a scan (and returned); typing is returned only."""
        result = self.decoder.feed_enter(t)
        if isinstance(result, Scan):
            self.status.scans += 1
            self._queue.put(result)
        return result
