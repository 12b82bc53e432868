"""Conveyor serial line protocol (DESIGN.md §4.4): pure frame encoding and decoding.

A frame is one ASCII line ``TYPE|field|...*HH\\r\\n``; ``HH`` is the XOR of every byte
before the ``*`` as two uppercase hex digits (as NMEA). No I/O lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from devices.errors import DeviceError

MAX_SEQ = 2**32 - 1
MAX_LANE = 999
MAX_TOTE_LEN = 64
MAX_TEXT_LEN = 120
DEFAULT_MAX_LINE = 256


class ConveyorError(DeviceError):
    """A conveyor could not be reached, or a frame could not be built from the values."""


@dataclass(frozen=True)
class Div:
    """host -> controller: divert ``tote`` to ``lane``."""

    seq: int
    tote: str
    lane: int
    TYPE: ClassVar[str] = "DIV"


@dataclass(frozen=True)
class Ping:
    """host -> controller: liveness probe, answered by ``HB`` with the same seq."""

    seq: int
    TYPE: ClassVar[str] = "PING"


@dataclass(frozen=True)
class Ack:
    """controller -> host: the command ``seq`` was received and accepted."""

    seq: int
    TYPE: ClassVar[str] = "ACK"


@dataclass(frozen=True)
class Nak:
    """controller -> host: the command ``seq`` was refused for ``reason``."""

    seq: int
    reason: str
    TYPE: ClassVar[str] = "NAK"


@dataclass(frozen=True)
class Ind:
    """controller -> host: ``tote`` was read at the induction scanner."""

    seq: int
    tote: str
    TYPE: ClassVar[str] = "IND"


@dataclass(frozen=True)
class Done:
    """controller -> host: the divert ``seq`` put ``tote`` into ``lane``."""

    seq: int
    tote: str
    lane: int
    TYPE: ClassVar[str] = "DONE"


@dataclass(frozen=True)
class Miss:
    """controller -> host: ``tote`` passed the gate of ``lane`` undiverted; it recirculates."""

    tote: str
    lane: int
    TYPE: ClassVar[str] = "MISS"


@dataclass(frozen=True)
class Flt:
    """controller -> host: a fault ``code`` with a readable ``text``."""

    code: str
    text: str
    TYPE: ClassVar[str] = "FLT"


@dataclass(frozen=True)
class Hb:
    """controller -> host: heartbeat (the answer to ``PING|seq``, or unsolicited)."""

    seq: int
    TYPE: ClassVar[str] = "HB"


Frame = Div | Ping | Ack | Nak | Ind | Done | Miss | Flt | Hb
FRAME_TYPES: dict[str, type[Frame]] = {
    cls.TYPE: cls for cls in (Div, Ping, Ack, Nak, Ind, Done, Miss, Flt, Hb)
}
# Field kinds by name: how each one is checked and parsed.
_SEQ_FIELDS = {"seq"}
_LANE_FIELDS = {"lane"}
_TOKEN_FIELDS = {"tote", "code"}  # non-empty, no spaces; other text may be empty


def checksum(body: bytes) -> int:
    """XOR of every byte of ``body`` (the part of a frame before ``*``)."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def _check_text(name: str, value: object, token: bool) -> str:
    if not isinstance(value, str):
        raise ConveyorError(f"conveyor frame field {name}={value!r} is not text")
    limit = MAX_TOTE_LEN if token else MAX_TEXT_LEN
    if token and not value:
        raise ConveyorError(f"conveyor frame field {name} is empty")
    if len(value) > limit:
        raise ConveyorError(f"conveyor frame field {name}={value!r} is longer than {limit}")
    low = 0x21 if token else 0x20
    for char in value:
        if not low <= ord(char) <= 0x7E or char in "|*":
            raise ConveyorError(
                f"conveyor frame field {name}={value!r} holds {char!r}"
                " (allowed: printable ASCII without '|' or '*'" + (" or spaces)" if token else ")")
            )
    return value


def _check_int(name: str, value: object, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ConveyorError(f"conveyor frame field {name}={value!r} is not a number 0..{limit}")
    return value


def _check_field(name: str, value: object) -> str:
    if name in _SEQ_FIELDS:
        return str(_check_int(name, value, MAX_SEQ))
    if name in _LANE_FIELDS:
        return str(_check_int(name, value, MAX_LANE))
    return _check_text(name, value, token=name in _TOKEN_FIELDS)


def encode(frame: Frame) -> bytes:
    """``frame`` as its line on the wire, ``*HH`` and ``\\r\\n`` included.

    Raises ``ConveyorError`` when a field cannot travel (e.g. a tote id holding ``|``).
    """
    parts = [frame.TYPE] + [_check_field(f.name, getattr(frame, f.name)) for f in fields(frame)]
    body = "|".join(parts).encode("ascii")
    return body + b"*%02X\r\n" % checksum(body)


class FrameError(ValueError):
    """One line could not be decoded; ``kind`` names the counter it belongs to."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def _parse_int(text: str, limit: int) -> int | None:
    if not text or len(text) > len(str(limit)) or not text.isdigit():
        return None
    value = int(text)
    return value if value <= limit else None


def decode_line(line: bytes) -> Frame:
    """Decode one line (without its line end) or raise ``FrameError``."""
    star = line.rfind(b"*")
    if star < 0 or len(line) - star != 3:
        raise FrameError("garbage", "no *HH checksum at the end")
    body, digits = line[:star], line[star + 1 :]
    if not all(byte in _HEX for byte in digits):
        raise FrameError("garbage", "checksum is not two hex digits")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("garbage", "not ASCII") from None
    if checksum(body) != int(digits, 16):
        raise FrameError("bad_checksum", f"checksum {digits!r} does not match")
    parts = text.split("|")
    cls = FRAME_TYPES.get(parts[0])
    if cls is None:
        raise FrameError("unknown_type", f"unknown frame type {parts[0][:16]!r}")
    names = [f.name for f in fields(cls)]
    if len(parts) - 1 != len(names):
        raise FrameError("bad_fields", f"{cls.TYPE} needs {len(names)} fields")
    values: list[object] = []
    for name, raw in zip(names, parts[1:], strict=True):
        if name in _SEQ_FIELDS or name in _LANE_FIELDS:
            number = _parse_int(raw, MAX_SEQ if name in _SEQ_FIELDS else MAX_LANE)
            if number is None:
                raise FrameError("bad_fields", f"{cls.TYPE} field {name}={raw!r}")
            values.append(number)
        else:
            try:
                values.append(_check_text(name, raw, token=name in _TOKEN_FIELDS))
            except ConveyorError as exc:
                raise FrameError("bad_fields", str(exc)) from None
    return cls(*values)  # type: ignore[arg-type]


_HEX = frozenset(b"0123456789ABCDEFabcdef")
COUNTERS = ("garbage", "bad_checksum", "unknown_type", "bad_fields", "overlong")


class FrameReader:
    """Incremental decoder: ``feed`` bytes as they arrive, get whole frames back.

    Never raises on input. Dropped lines are counted by kind in ``counts``. A line with
    garbage glued in front of a frame (no line end between them) still yields the frame.
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self.counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long line: skip to the next line end

    @property
    def dropped(self) -> int:
        """How many lines (or line fragments) were dropped in total."""
        return sum(self.counts.values())

    def feed(self, data: bytes) -> list[Frame]:
        """Take more bytes; return every frame completed by them, in order."""
        frames: list[Frame] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data[start:])
                return frames
            if self._discarding:
                self._discarding = False
            else:
                self._buffer += data[start:end]
                if len(self._buffer) > self.max_line:
                    self.counts["overlong"] += 1
                else:
                    frame = self._decode(bytes(self._buffer))
                    if frame is not None:
                        frames.append(frame)
            self._buffer.clear()
            start = end + 1

    def _keep(self, tail: bytes) -> None:
        if self._discarding:
            return
        self._buffer += tail
        if len(self._buffer) > self.max_line:
            # Bounded memory: a line that can never be a frame is dropped as it grows.
            self.counts["overlong"] += 1
            self._buffer.clear()
            self._discarding = True

    def _decode(self, line: bytes) -> Frame | None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return None  # blank lines between frames are harmless
        try:
            return decode_line(line)
        except FrameError as exc:
            first_error = exc.kind
        # Resynchronise: the frame may start after garbage that had no line end.
        for offset in _type_offsets(line):
            try:
                frame = decode_line(line[offset:])
            except FrameError:
                continue
            self.counts["garbage"] += 1
            return frame
        self.counts[first_error] += 1
        return None


def _type_offsets(line: bytes) -> list[int]:
    offsets: list[int] = []
    for name in FRAME_TYPES:
        token = name.encode("ascii") + b"|"
        position = line.find(token, 1)
        while position > 0:
            offsets.append(position)
            position = line.find(token, position + 1)
    return sorted(offsets)
