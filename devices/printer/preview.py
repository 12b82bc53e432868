"""Read an ESC/POS byte stream back: the printed text, barcodes, QR codes, cuts (pure).

The tokenizer knows the length of every command python-escpos emits (and the common
others), so bytes inside a barcode, QR code or image are never mistaken for commands.
Arbitrary input never raises: an unknown command is skipped, a truncated one ends the
stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from escpos.capabilities import get_profile
from escpos.magicencode import Encoder

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
_TEXT_RUN = re.compile(rb"[\x20-\xff\n\t]+")

_BARCODE_A = ("UPC-A", "UPC-E", "EAN13", "EAN8", "CODE39", "ITF", "NW7")
_BARCODE_B = {
    65: "UPC-A",
    66: "UPC-E",
    67: "EAN13",
    68: "EAN8",
    69: "CODE39",
    70: "ITF",
    71: "NW7",
    72: "CODE93",
    73: "CODE128",
    74: "GS1-128",
    75: "GS1 DATABAR OMNIDIRECTIONAL",
    76: "GS1 DATABAR TRUNCATED",
    77: "GS1 DATABAR LIMITED",
    78: "GS1 DATABAR EXPANDED",
    79: "CODE128 AUTO",
}
# Commands of fixed total length (prefix byte, command byte) -> bytes
_ESC_FIXED = {
    **dict.fromkeys(b"@<im2LSFHv", 2),
    **dict.fromkeys(b" !%-3EGJKMRTUVadertu{=Jgxjs", 3),
    **dict.fromkeys(b"$\\?c", 4),
    ord("p"): 5,
    ord("W"): 10,
}
_GS_FIXED = {
    **dict.fromkeys(b":", 2),
    **dict.fromkeys(b"!BHIabfhrwE/Tjg^c", 3),
    **dict.fromkeys(b"LWP$\\", 4),
}
_FS_FIXED = {
    **dict.fromkeys(b"&.", 2),
    **dict.fromkeys(b"!-CW", 3),
    **dict.fromkeys(b"pS", 4),
}


@dataclass(frozen=True)
class Token:
    """One command or text run at ``data[start:end]``; ``kind`` names it."""

    kind: str
    start: int
    end: int
    arg: int = 0
    payload: bytes = b""


@dataclass
class JobPreview:
    """What a job would print, in readable form."""

    text: str = ""
    barcodes: list[tuple[str, str]] = field(default_factory=list)
    qrcodes: list[str] = field(default_factory=list)
    cuts: int = 0
    inverted_text: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The preview as the printer sim's ``.txt`` file."""
        parts = [self.text.rstrip("\n"), ""]
        parts += [f"[BARCODE {kind}] {data}" for kind, data in self.barcodes]
        parts += [f"[QR] {data}" for data in self.qrcodes]
        parts += [f"[INVERTED] {text}" for text in self.inverted_text]
        parts.append(f"[CUTS] {self.cuts}")
        return "\n".join(parts) + "\n"


def _u16(data: bytes, i: int) -> int:
    return data[i] | (data[i + 1] << 8)


def _esc(data: bytes, i: int) -> Token | None:
    n = len(data)
    if i + 1 >= n:
        return None
    cmd = data[i + 1]
    if cmd == ord("*"):  # bit image: ESC * m nL nH d...
        if i + 5 > n:
            return None
        dots = _u16(data, i + 3) * (1 if data[i + 2] in (0, 1) else 3)
        end = i + 5 + dots
    elif cmd == ord("(") or cmd == ord("D"):
        if cmd == ord("D"):  # tab stops, NUL-terminated
            nul = data.find(b"\x00", i + 2)
            return None if nul < 0 else Token("other", i, nul + 1)
        if i + 5 > n:
            return None
        end = i + 5 + _u16(data, i + 3)
    else:
        size = _ESC_FIXED.get(cmd, 2)
        end = i + size
        if end > n:
            return None
        if cmd == ord("@"):
            return Token("init", i, end)
        if cmd == ord("t"):
            return Token("codepage", i, end, data[i + 2])
        if cmd in (ord("i"), ord("m")):
            return Token("cut", i, end)
        return Token("other", i, end)
    return None if end > n else Token("other", i, end)


def _gs(data: bytes, i: int) -> Token | None:
    n = len(data)
    if i + 1 >= n:
        return None
    cmd = data[i + 1]
    if cmd == ord("k"):
        if i + 3 > n:
            return None
        m = data[i + 2]
        if m <= 6:
            nul = data.find(b"\x00", i + 3)
            if nul < 0:
                return None
            return Token("barcode", i, nul + 1, m, data[i + 3 : nul])
        if i + 4 > n:
            return None
        end = i + 4 + data[i + 3]
        return None if end > n else Token("barcode", i, end, m, data[i + 4 : end])
    if cmd == ord("("):
        if i + 5 > n:
            return None
        end = i + 5 + _u16(data, i + 3)
        if end > n:
            return None
        body = data[i + 5 : end]
        # GS ( k <cn=49 QR> <fn=80 store> <m=48> data
        if data[i + 2] == ord("k") and body[:3] == b"1P0":
            return Token("qr", i, end, 0, body[3:])
        return Token("other", i, end)
    if cmd == ord("V"):
        if i + 3 > n:
            return None
        end = i + (4 if data[i + 2] >= 65 else 3)
        return None if end > n else Token("cut", i, end)
    if cmd == ord("v"):  # raster image: GS v 0 m xL xH yL yH d...
        if i + 8 > n:
            return None
        end = i + 8 + _u16(data, i + 4) * _u16(data, i + 6)
    elif cmd == ord("8"):  # GS 8 L p1..p4 m fn ...: 32-bit length
        if i + 7 > n:
            return None
        end = i + 7 + int.from_bytes(data[i + 3 : i + 7], "little")
    elif cmd == ord("*"):  # downloaded bit image: GS * x y d(x*y*8)
        if i + 4 > n:
            return None
        end = i + 4 + data[i + 2] * data[i + 3] * 8
    else:
        end = i + _GS_FIXED.get(cmd, 3)
        if end <= n and cmd == ord("B"):
            return Token("invert", i, end, data[i + 2] & 1)
    return None if end > n else Token("other", i, end)


def _fs(data: bytes, i: int) -> Token | None:
    n = len(data)
    if i + 1 >= n:
        return None
    cmd = data[i + 1]
    if cmd == ord("("):
        if i + 5 > n:
            return None
        end = i + 5 + _u16(data, i + 3)
    else:
        end = i + _FS_FIXED.get(cmd, 2)
    return None if end > n else Token("other", i, end)


def _dle(data: bytes, i: int) -> Token | None:
    n = len(data)
    if i + 1 >= n:
        return None
    cmd = data[i + 1]
    if cmd in (0x04, 0x05):  # DLE EOT n / DLE ENQ n: real-time status and requests
        if i + 3 > n:
            return None
        return Token("status_query" if cmd == 0x04 else "realtime", i, i + 3, data[i + 2])
    if cmd == 0x14:  # DLE DC4 fn ...
        end = i + (4 if i + 2 < n and data[i + 2] == 7 else 5)
        return None if end > n else Token("realtime", i, end)
    return Token("other", i, i + 2)


def iter_tokens(data: bytes, start: int = 0) -> Iterator[Token]:
    """Commands and text runs of ``data`` from ``start``; a command cut short by the end
    of the data yields one ``incomplete`` token and stops."""
    i, n = start, len(data)
    while i < n:
        byte = data[i]
        token: Token | None
        if byte >= 0x20 or byte in (0x0A, 0x09):
            match = _TEXT_RUN.match(data, i)
            end = match.end() if match else i + 1
            token = Token("text", i, end, 0, data[i:end])
        elif byte == ESC:
            token = _esc(data, i)
        elif byte == GS:
            token = _gs(data, i)
        elif byte == FS:
            token = _fs(data, i)
        elif byte == DLE:
            token = _dle(data, i)
        else:
            token = Token("other", i, i + 1)
        if token is None:
            yield Token("incomplete", i, n)
            return
        yield token
        i = token.end


@lru_cache(maxsize=64)
def _code_page_table(profile: str, number: int) -> tuple[str, ...]:
    """Characters for bytes 128..255 under code page ``number`` of ``profile``."""
    pages = {int(n): name for name, n in get_profile(profile).get_code_pages().items()}
    name = pages.get(number)
    try:
        if name is None:
            raise LookupError(number)
        return tuple(Encoder._get_codepage_char_list(name))
    except (LookupError, KeyError, AssertionError):
        return ("\ufffd",) * 128


def _decode(run: bytes, profile: str, page: int) -> str:
    if run.isascii():
        return run.decode("ascii")
    table = _code_page_table(profile, page)
    return "".join(chr(b) if b < 128 else table[b - 128] for b in run)


def _barcode_data(kind: str, raw: bytes) -> str:
    text = raw.decode("latin-1")
    if not kind.startswith("CODE128") and kind != "GS1-128":
        return text
    # CODE128 data carries code set switches "{A" "{B" "{C"; "{{" is a literal "{".
    out, i = [], 0
    while i < len(text):
        if text[i] == "{" and i + 1 < len(text):
            if text[i + 1] == "{":
                out.append("{")
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def preview(job: bytes, profile: str = "default") -> JobPreview:
    """Recover what ``job`` prints: text decoded with the code page last selected (the
    printer's default, page 0, until ESC t), barcode and QR data, cuts, inverted text."""
    result = JobPreview()
    text: list[str] = []
    inverted: list[str] = []
    page, invert = 0, False

    def close_inverted() -> None:
        joined = " ".join(" ".join(inverted).split())
        if joined:
            result.inverted_text.append(joined)
        inverted.clear()

    for token in iter_tokens(job):
        if token.kind == "text":
            decoded = _decode(token.payload, profile, page)
            text.append(decoded)
            if invert:
                inverted.append(decoded)
        elif token.kind == "codepage":
            page = token.arg
        elif token.kind == "init":
            page = 0
            if invert:
                close_inverted()
            invert = False
        elif token.kind == "invert":
            if invert and not token.arg:
                close_inverted()
            invert = bool(token.arg)
        elif token.kind == "barcode":
            if token.arg <= 6:
                kind = _BARCODE_A[token.arg]
            else:
                kind = _BARCODE_B.get(token.arg, f"TYPE {token.arg}")
            result.barcodes.append((kind, _barcode_data(kind, token.payload)))
        elif token.kind == "qr":
            result.qrcodes.append(token.payload.decode("utf-8", errors="replace"))
        elif token.kind == "cut":
            result.cuts += 1
    if invert:
        close_inverted()
    result.text = "".join(text)
    return result
