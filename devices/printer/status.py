"""Printer status and the real-time status bytes of ESC/POS (DLE EOT n), both ways.

Pure: the backend decodes the printer's answers, the printer simulator encodes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DLE_EOT = b"\x10\x04"
QUERY_PRINTER = DLE_EOT + b"\x01"  # n=1: printer status (bit 3 = offline)
QUERY_OFFLINE_CAUSE = DLE_EOT + b"\x02"
QUERY_ERROR = DLE_EOT + b"\x03"
QUERY_PAPER = DLE_EOT + b"\x04"  # n=4: roll paper sensor

_FIXED = 0x12  # bits 1 and 4 are always set in every DLE EOT answer
_OFFLINE = 0x08
_NEAR_END = 0x0C  # bits 2 and 3
_PAPER_END = 0x60  # bits 5 and 6
_COVER_OPEN_OR_PAPER_STOP = 0x20  # n=2 bit 5: printing stopped by paper end


class Paper(StrEnum):
    """The roll paper sensor's reading."""

    OK = "ok"
    LOW = "low"
    OUT = "out"


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said: reachable and online, and the paper state."""

    online: bool
    paper: Paper = Paper.OK

    @property
    def ready(self) -> bool:
        """True when a job sent now would print."""
        return self.online and self.paper is not Paper.OUT

    def to_dict(self) -> dict[str, object]:
        """The ``printer/{id}/status`` shape without ``queued``."""
        return {"online": self.online, "paper": self.paper.value}


def encode_status(query: int, online: bool, paper: Paper) -> bytes:
    """The one-byte answer a printer gives to DLE EOT ``query``."""
    if query == 1:
        return bytes([_FIXED | (0 if online else _OFFLINE)])
    if query == 2:
        return bytes([_FIXED | (_COVER_OPEN_OR_PAPER_STOP if paper is Paper.OUT else 0)])
    if query == 4:
        byte = _FIXED
        if paper is Paper.LOW:
            byte |= _NEAR_END
        elif paper is Paper.OUT:
            byte |= _NEAR_END | _PAPER_END
        return bytes([byte])
    return bytes([_FIXED])


def is_status_byte(byte: int) -> bool:
    """DLE EOT answers have bits 0 and 7 clear and bits 1 and 4 set."""
    return byte & 0x93 == _FIXED


def decode_online(answer: int) -> bool:
    """Printer online according to a DLE EOT 1 answer."""
    return not answer & _OFFLINE


def decode_paper(answer: int) -> Paper:
    """Paper state according to a DLE EOT 4 answer."""
    if answer & _PAPER_END:
        return Paper.OUT
    if answer & _NEAR_END:
        return Paper.LOW
    return Paper.OK
