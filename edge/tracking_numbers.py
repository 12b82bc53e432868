"""Tracking numbers made at the pack station, offline, unique without asking anyone.

Format: ``<CARRIER>-<DEVICE>-<COUNTER><CHECK>``, e.g. ``DHL-PACK1-00000427K``:

* ``CARRIER``: the first three letters/digits of the carrier's name, upper case
  (``DHL``, ``UPS``, ``INP`` for InPost), so a person at the dock sees whose parcel it is;
* ``DEVICE``: the station's tag (its device id upper case without separators, or a
  configured ``tracking_tag``), so two stations never make the same number;
* ``COUNTER``: 8 digits, the station's counter, persisted in its store and never reused;
* ``CHECK``: one character of ``0-9A-Z`` (Luhn mod 36 over everything before it), so a
  mistyped or misread number is caught before it reaches a carrier.

The pure half (format, parse, check) needs nothing; :class:`TrackingCounter` keeps the
counter and the number given to each order in the station's SQLite store file.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from edge.local_db import open_local_db

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
COUNTER_DIGITS = 8
MAX_COUNTER = 10**COUNTER_DIGITS - 1
MAX_TAG = 12
_PATTERN = re.compile(r"^([A-Z0-9]{3})-([A-Z0-9]{1,12})-([0-9]{8})([0-9A-Z])$")


class TrackingError(ValueError):
    """A tracking number cannot be made or read; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class TrackingNumber:
    """The parts of a tracking number."""

    carrier_code: str
    device_tag: str
    counter: int

    @property
    def text(self) -> str:
        """The full number with its check character."""
        body = f"{self.carrier_code}-{self.device_tag}-{self.counter:0{COUNTER_DIGITS}d}"
        return body + check_character(body)


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())


def carrier_code(carrier: str) -> str:
    """Three upper-case letters/digits for a carrier name (padded with X)."""
    code = _alnum(carrier)[:3]
    if not code:
        raise TrackingError(f"carrier name {carrier!r} has no letters or digits")
    return code.ljust(3, "X")


def device_tag(device_id: str) -> str:
    """The station part of its numbers: the device id upper case, letters and digits only."""
    tag = _alnum(device_id)
    if not tag:
        raise TrackingError(f"device id {device_id!r} has no letters or digits")
    if len(tag) > MAX_TAG:
        raise TrackingError(
            f"device tag {tag!r} is longer than {MAX_TAG} characters; set tracking_tag"
        )
    return tag


def check_character(body: str) -> str:
    """Luhn mod 36 check character over ``body`` (separators are ignored)."""
    n = len(ALPHABET)
    factor = 2
    total = 0
    for char in reversed(_alnum(body)):
        addend = factor * ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def make_tracking(carrier: str, device: str, counter: int) -> str:
    """The tracking number for ``carrier`` made by station tag ``device`` at ``counter``."""
    if isinstance(counter, bool) or not isinstance(counter, int) or not 1 <= counter <= MAX_COUNTER:
        raise TrackingError(f"counter must be 1..{MAX_COUNTER}, got {counter!r}")
    return TrackingNumber(carrier_code(carrier), device_tag(device), counter).text


def parse_tracking(text: str) -> TrackingNumber:
    """The parts of a tracking number; ``TrackingError`` for a bad shape or check."""
    value = text.strip().upper() if isinstance(text, str) else ""
    match = _PATTERN.match(value)
    if match is None:
        raise TrackingError(f"{text!r} is not a tracking number (CCC-DEVICE-NNNNNNNNX)")
    code, tag, digits, check = match.groups()
    expected = check_character(value[:-1])
    if check != expected:
        raise TrackingError(f"{text!r}: check character wrong (expected {expected}, got {check})")
    return TrackingNumber(code, tag, int(digits))


def is_tracking(text: str) -> bool:
    """True when ``text`` is a well-formed tracking number with the right check."""
    try:
        parse_tracking(text)
    except TrackingError:
        return False
    return True


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS station_tracking_counter ("
    "device TEXT PRIMARY KEY, last INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS station_tracking ("
    "order_id TEXT PRIMARY KEY, tracking TEXT NOT NULL UNIQUE, carrier TEXT NOT NULL, "
    "service TEXT NOT NULL DEFAULT '', counter INTEGER NOT NULL)",
)


class TrackingCounter:
    """The station's counter in its SQLite store file: one number per order, never reused.

    It uses its own connection and two tables of its own beside the sync store's; SQLite's
    file lock serialises it with the store's writer (WAL, busy timeout), and each
    allocation is one ``BEGIN IMMEDIATE`` transaction.
    """

    def __init__(self, path: str | Path, device_id: str, tag: str | None = None) -> None:
        self.path = Path(path)
        self.device_id = device_id
        self.tag = device_tag(tag or device_id)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = open_local_db(self.path, _SCHEMA)

    def close(self) -> None:
        """Close the connection (safe twice)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> TrackingCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def for_order(self, order_id: str, carrier: str, service: str = "") -> str:
        """The order's tracking number: the one given before for the same carrier service,
        else the next counter value, committed before it is returned."""
        code = carrier_code(carrier)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT tracking, carrier, service FROM station_tracking WHERE order_id = ?",
                    [order_id],
                ).fetchone()
                if row is not None and row[1] == code and row[2] == service:
                    conn.execute("COMMIT")
                    return str(row[0])
                found = conn.execute(
                    "SELECT last FROM station_tracking_counter WHERE device = ?", [self.tag]
                ).fetchone()
                counter = (int(found[0]) if found else 0) + 1
                tracking = make_tracking(code, self.tag, counter)
                conn.execute(
                    "INSERT OR REPLACE INTO station_tracking_counter (device, last) VALUES (?, ?)",
                    [self.tag, counter],
                )
                conn.execute(
                    "INSERT OR REPLACE INTO station_tracking "
                    "(order_id, tracking, carrier, service, counter) VALUES (?, ?, ?, ?, ?)",
                    [order_id, tracking, code, service, counter],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return tracking

    def assigned(self, order_id: str) -> tuple[str, str] | None:
        """(tracking, carrier service) given to the order before, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT tracking, service FROM station_tracking WHERE order_id = ?", [order_id]
            ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def last(self) -> int:
        """The last counter value given out (0 before the first)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT last FROM station_tracking_counter WHERE device = ?", [self.tag]
            ).fetchone()
        return int(row[0]) if row else 0
