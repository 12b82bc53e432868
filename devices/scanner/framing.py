"""Scanner byte framing (DESIGN.md §4.5), pure: no I/O.

A serial scanner sends ``[prefix][AIM id]code<suffix>``. The suffix is CR by default
(configurable CR, LF, CRLF, TAB); the prefix and the AIM symbology identifier (``]C1``,
``]d2``, ``]Q3``, ``]E0``...) are optional and stripped when configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devices.errors import DeviceURLError

SUFFIXES: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "TAB": b"\t"}
MAX_LINE = 64 * 1024  # a scanner never sends this much without a suffix: it is noise
GS = 0x1D  # FNC1 in GS1 symbols; the one control byte a code may carry
_AIM_ID = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


@dataclass(frozen=True)
class Framing:
    """How a scanner frames each code: ``suffix`` name, optional ``prefix`` and AIM id."""

    suffix: str = "CR"
    prefix: str = ""
    aim: bool = False

    def __post_init__(self) -> None:
        if self.suffix.upper() not in SUFFIXES:
            raise DeviceURLError(
                f"scanner suffix {self.suffix!r} unknown (expected one of: {', '.join(SUFFIXES)})"
            )

    @property
    def terminator(self) -> bytes:
        """The suffix as bytes."""
        return SUFFIXES[self.suffix.upper()]

    def encode(self, code: str, symbology: str | None = None) -> bytes:
        """The bytes a scanner configured like this sends for ``code`` (for simulators)."""
        aim = (symbology or "]C0") if self.aim else ""
        return (self.prefix + aim + code).encode("latin-1", errors="replace") + self.terminator


@dataclass
class FrameStats:
    """Counters a reader exposes: codes out, garbage bytes dropped, oversize lines."""

    frames: int = 0
    garbage_bytes: int = 0
    oversize_lines: int = 0
    empty_frames: int = 0


class FrameDecoder:
    """Incremental decoder: ``feed(bytes)`` returns each complete ``(code, aim_id)``."""

    def __init__(self, framing: Framing | None = None, max_line: int = MAX_LINE) -> None:
        self.framing = framing or Framing()
        self.max_line = max_line
        self.stats = FrameStats()
        self._buffer = bytearray()
        self._dropping = False  # inside an oversize line: discard up to the next suffix
        self._terminator = self.framing.terminator
        # A scanner set to CR that also sends LF (or the reverse) is common: the other line
        # byte is silently ignored rather than counted as garbage.
        self._stray = b"\r\n".replace(self._terminator, b"") if self._terminator != b"\t" else b""

    def feed(self, data: bytes) -> list[tuple[str, str | None]]:
        """Add bytes; return the codes completed by them, in order."""
        out: list[tuple[str, str | None]] = []
        self._buffer += data
        term = self._terminator
        while True:
            end = self._buffer.find(term)
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + len(term)]
            if self._dropping:
                self.stats.garbage_bytes += len(line)
                self._dropping = False
                continue
            frame = self._frame(line)
            if frame is not None:
                out.append(frame)
        if len(self._buffer) > self.max_line:
            self.stats.oversize_lines += 0 if self._dropping else 1
            self.stats.garbage_bytes += len(self._buffer)
            self._dropping = True
            self._buffer.clear()
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for a suffix (bounded by ``max_line``)."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened)."""
        self._buffer.clear()
        self._dropping = False

    def _frame(self, line: bytes) -> tuple[str, str | None] | None:
        kept = bytearray()
        for byte in line:
            if 0x20 <= byte < 0x7F or byte == GS:
                kept.append(byte)
            elif byte not in self._stray:
                self.stats.garbage_bytes += 1
        text = kept.decode("ascii")
        prefix = self.framing.prefix
        if prefix and text.startswith(prefix):
            text = text[len(prefix) :]
        aim: str | None = None
        if self.framing.aim:
            match = _AIM_ID.match(text)
            if match:
                aim, text = match.group(0), text[match.end() :]
        if not text.strip():
            self.stats.empty_frames += 1
            return None
        self.stats.frames += 1
        return text, aim
