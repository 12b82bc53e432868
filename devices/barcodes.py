"""Barcode decoding (DESIGN.md §4.5): GTINs and GS1 element strings via ``biip``, plus
the warehouse's own prefixes for locations, totes, operator badges and orders.

``decode`` never raises: a barcode it cannot accept comes back as a ``Scan`` of kind
``unknown`` whose ``data["error"]`` says why, so a handheld can show it to the picker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from biip import ParseError
from biip.gs1_messages import GS1Message

from devices.errors import DeviceError

GS = "\x1d"  # what scanners send for FNC1 between variable-length GS1 fields
_AIM_ID = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_GTIN_LENGTHS = (8, 12, 13, 14)
_CODE_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
# GS1 AIs we map to named fields; the rest are kept under data["ai"].
_NAMED_AIS = {"00": "sscc", "01": "gtin", "10": "lot", "17": "expiry", "21": "serial"}
# A bare run of digits is only read as an element string when it opens with one of these:
# a lot-only "10ABC" is far more likely a mis-scan than a label.
_PLAIN_GS1_OPENERS = ("00", "01", "02")


class BarcodeError(DeviceError):
    """A barcode was rejected; the message says why (e.g. a wrong check digit)."""


class ScanKind(StrEnum):
    """What a scanned barcode is; the values are the MQTT scan payload ``kind``."""

    GS1 = "gs1"
    LOCATION = "location"
    TOTE = "tote"
    BADGE = "badge"
    ORDER = "order"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Scan:
    """One decoded scan: the raw text, its kind and the fields read from it."""

    raw: str
    kind: ScanKind
    data: dict[str, Any] = field(default_factory=dict)
    symbology: str | None = None
    device: str = ""
    at: float = 0.0

    @property
    def ok(self) -> bool:
        """True unless the barcode was rejected."""
        return self.kind is not ScanKind.UNKNOWN

    def to_payload(self) -> dict[str, Any]:
        """The ``dev/{device_id}/scan`` MQTT payload body: ``raw``, ``kind``, ``data``."""
        return {"raw": self.raw, "kind": self.kind.value, "data": dict(self.data)}


@dataclass(frozen=True)
class Prefixes:
    """The site's internal barcode prefixes (configurable per site)."""

    location: str = "LOC-"
    tote: str = "TOTE-"
    badge: str = "OP-"
    order: str = "ORD-"


DEFAULT_PREFIXES = Prefixes()


def gtin_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for ``digits`` (the GTIN without its check digit)."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"{digits!r} is not a string of digits")
    total = 0
    for position, char in enumerate(reversed(digits)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def is_valid_gtin(code: str) -> bool:
    """True if ``code`` is a GTIN-8/12/13/14 with a correct check digit."""
    return (
        isinstance(code, str)
        and code.isascii()
        and code.isdigit()
        and len(code) in _GTIN_LENGTHS
        and gtin_check_digit(code[:-1]) == int(code[-1])
    )


def decode(
    raw: str,
    prefixes: Prefixes = DEFAULT_PREFIXES,
    symbology: str | None = None,
    device: str = "",
    at: float = 0.0,
) -> Scan:
    """Decode one scanned code; never raises (a reject is kind ``unknown`` + ``error``)."""
    text = raw if isinstance(raw, str) else str(raw)
    try:
        kind, data, aim = _classify(text, prefixes)
    except Exception as exc:  # a library surprise must not take a scanner loop down
        kind, data, aim = ScanKind.UNKNOWN, {"error": f"barcode not readable ({exc})"}, None
    return Scan(raw=text, kind=kind, data=data, symbology=symbology or aim, device=device, at=at)


def decode_strict(raw: str, prefixes: Prefixes = DEFAULT_PREFIXES) -> Scan:
    """Like ``decode`` but a rejected barcode raises ``BarcodeError`` with the reason."""
    scan = decode(raw, prefixes)
    if not scan.ok:
        raise BarcodeError(f"{raw!r}: {scan.data['error']}")
    return scan


def _reject(reason: str) -> tuple[ScanKind, dict[str, Any]]:
    return ScanKind.UNKNOWN, {"error": reason}


def _classify(raw: str, prefixes: Prefixes) -> tuple[ScanKind, dict[str, Any], str | None]:
    text = raw.strip(" \r\n\t")
    aim = None
    match = _AIM_ID.match(text)
    if match:
        aim, text = match.group(0), text[match.end() :]
    if text.startswith(GS):  # a leading FNC1 only marks the symbol as GS1
        text = text[1:]
    if not text:
        return (*_reject("empty scan"), aim)
    return (*_classify_text(text, prefixes), aim)


def _classify_text(text: str, prefixes: Prefixes) -> tuple[ScanKind, dict[str, Any]]:
    internal = _classify_internal(text, prefixes)
    if internal is not None:
        return internal
    if text.isascii() and text.isdigit() and len(text) in _GTIN_LENGTHS:
        return _classify_gtin(text)
    if text.startswith("("):
        return _classify_gs1(text, hri=True)
    if GS in text or (text.isascii() and text[:2] in _PLAIN_GS1_OPENERS and text[:2].isdigit()):
        return _classify_gs1(text, hri=False)
    if text.isascii() and text.isdigit():
        return _reject(f"not a GTIN (8, 12, 13 or 14 digits, got {len(text)})")
    return _reject("unknown prefix")


def _classify_internal(text: str, prefixes: Prefixes) -> tuple[ScanKind, dict[str, Any]] | None:
    table = (
        (prefixes.location, ScanKind.LOCATION, "code", "location code"),
        (prefixes.tote, ScanKind.TOTE, "tote", "tote number"),
        (prefixes.badge, ScanKind.BADGE, "operator", "operator id"),
        (prefixes.order, ScanKind.ORDER, "order_id", "order id"),
    )
    for prefix, kind, key, what in table:
        if not prefix or not text.startswith(prefix):
            continue
        rest = text[len(prefix) :]
        if not rest:
            return _reject(f"{what} missing after {prefix!r}")
        if kind is ScanKind.TOTE:
            if not (rest.isascii() and rest.isdigit()):
                return _reject(f"tote number must be digits (got {rest!r})")
            return kind, {key: text}
        if not _CODE_TEXT.match(rest):
            return _reject(f"{what} has characters not allowed ({rest!r})")
        return kind, {key: rest}
    return None


def _check_digit_error(code: str) -> str | None:
    expected = gtin_check_digit(code[:-1])
    if expected != int(code[-1]):
        return f"check digit wrong (expected {expected}, got {code[-1]})"
    return None


def _classify_gtin(code: str) -> tuple[ScanKind, dict[str, Any]]:
    error = _check_digit_error(code)
    if error:
        return _reject(error)
    return ScanKind.GS1, {"gtin": code.zfill(14)}


_AI_PATTERN_FAIL = re.compile(r"Failed to match '(\d+)' with GS1 AI \((\d+)\)")
_AI_DATE_FAIL = re.compile(r"GS1 AI \((\d+)\) date/time from '([^']*)'")


def _classify_gs1(text: str, hri: bool) -> tuple[ScanKind, dict[str, Any]]:
    try:
        message = GS1Message.parse_hri(text) if hri else GS1Message.parse(text)
    except ParseError as exc:
        return _reject(_explain_gs1_error(str(exc)))
    data: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for element in message.element_strings:
        ai, value = element.ai.ai, element.value
        name = _NAMED_AIS.get(ai)
        check_error = _check_digit_error(value) if ai in ("00", "01", "02") else None
        if check_error:
            return _reject(check_error)
        if name == "expiry":
            if element.date is None:
                return _reject(f"expiry date invalid (17: {value})")
            data[name] = element.date.isoformat()
        elif name is not None:
            data[name] = value
        else:
            extra[ai] = value
    if extra:
        data["ai"] = extra
    return ScanKind.GS1, data


_DATE_AIS = ("11", "12", "13", "15", "16", "17")


def _date_error(ai: str, value: str) -> str:
    what = "expiry date" if ai == "17" else "date"
    return f"{what} invalid ({ai}: {value})"


def _explain_gs1_error(message: str) -> str:
    # biip's messages are for developers; turn the common ones into the picker's words.
    pattern_fail = _AI_PATTERN_FAIL.search(message)
    if pattern_fail:
        value, ai = pattern_fail.groups()
        body = value[len(ai) :]
        if ai in _DATE_AIS:
            return _date_error(ai, body[:6])
        return f"GS1 field ({ai}) malformed: {body!r}"
    date_fail = _AI_DATE_FAIL.search(message)
    if date_fail:
        return _date_error(*date_fail.groups())
    return f"not a valid GS1 element string ({message})"
