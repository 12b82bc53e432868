"""Garbage-collector settings of a central server process.

A push of 500 ops allocates tens of thousands of short-lived containers (the validated
ops, their data, rows and tuples). With CPython's default thresholds (700, 10, 10) that
is a dozen young-generation collections per push, each walking objects that are still
in use, about a millisecond of a ten-millisecond push. A server process therefore
freezes what it loaded at start-up (modules, the app, master data: never garbage) out
of the collector's reach and collects the young generation every ``YOUNG`` allocations.
Reference counting still frees almost everything at once; only cycles wait longer, and
``YOUNG`` of them are a few megabytes at most.
"""

from __future__ import annotations

import gc

YOUNG = 50_000
THRESHOLDS = (YOUNG, 20, 10)


def tune_for_server() -> tuple[int, int, int]:
    """Collect once, freeze the survivors, raise the thresholds; returns the old ones."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return old
