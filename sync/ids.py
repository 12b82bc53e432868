"""Operation identifiers: UUIDv7 (RFC 9562), made on the device that did the work.

Python 3.11 has no ``uuid.uuid7``; this is the layout of RFC 9562 §5.7: a 48-bit Unix
timestamp in milliseconds, version 7, 12 random bits, variant 0b10, 62 random bits.
Ids made by one process are strictly increasing even within one millisecond (the random
field is bumped as a counter, RFC 9562 §6.2 method 2), so they sort in creation order.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = -1
_last_rand = 0
_RAND_BITS = 74
_RAND_MAX = (1 << _RAND_BITS) - 1


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7; ``unix_ms`` overrides the clock (tests, simulated time)."""
    global _last_ms, _last_rand
    ms = int(time.time() * 1000) if unix_ms is None else int(unix_ms)
    if not 0 <= ms < (1 << 48):
        raise ValueError(f"timestamp {ms} ms does not fit 48 bits")
    with _lock:
        if ms <= _last_ms:
            # Same (or earlier) millisecond: keep monotonic by counting in the random field.
            ms = _last_ms
            rand = _last_rand + 1
            if rand > _RAND_MAX:
                ms += 1
                rand = int.from_bytes(os.urandom(10), "big") & (_RAND_MAX >> 1)
        else:
            # Leave headroom in the top bit so the counter rarely overflows.
            rand = int.from_bytes(os.urandom(10), "big") & (_RAND_MAX >> 1)
        _last_ms, _last_rand = ms, rand
    rand_a = rand >> 62
    rand_b = rand & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


def new_op_id(unix_ms: int | None = None) -> str:
    """A new operation id as the canonical 36-character string."""
    return str(uuid7(unix_ms))


def uuid7_time_ms(value: uuid.UUID | str) -> int:
    """The millisecond timestamp inside a UUIDv7."""
    u = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    return u.int >> 80
