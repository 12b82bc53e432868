"""The live view of a demo run: orders by stage, the clock, central up or down.

On a terminal it is a ``rich.live`` table refreshed a few times a second; without one
(or with ``CI`` set) it prints one plain line every few seconds.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

STAGES = ("received", "allocated", "picking", "picked", "packed", "shipped")
Snapshot = Callable[[], dict[str, Any]]


def plain_mode(console: Console) -> bool:
    """True when the live display must not be used (no terminal, or CI)."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or not console.is_terminal


def plain_line(snap: dict[str, Any]) -> str:
    """One progress line."""
    stages = snap.get("stages") or {}
    parts = [f"{s} {stages.get(s, 0)}" for s in STAGES]
    others = {k: v for k, v in stages.items() if k not in STAGES}
    parts += [f"{k} {v}" for k, v in sorted(others.items())]
    return (
        f"[{snap.get('clock', '')}] orders {snap.get('posted', 0)}/{snap.get('total', 0)}: "
        + ", ".join(parts)
        + f" | central {'up' if snap.get('central_up') else 'DOWN'}"
        + f" | device ops waiting {snap.get('pending', 0)}"
        + (f" | {snap['note']}" if snap.get("note") else "")
    )


def table(snap: dict[str, Any]) -> Table:
    """The live table."""
    stages = snap.get("stages") or {}
    t = Table(
        title=f"Rushline floor at {snap.get('clock', '')} "
        f"(central {'up' if snap.get('central_up') else '[red]DOWN[/red]'})"
    )
    t.add_column("stage")
    t.add_column("orders", justify="right")
    t.add_column("urgent", justify="right")
    urgent = snap.get("urgent_stages") or {}
    for stage in (*STAGES, *sorted(k for k in stages if k not in STAGES)):
        t.add_row(stage, str(stages.get(stage, 0)), str(urgent.get(stage, 0)))
    t.add_row("posted", f"{snap.get('posted', 0)}/{snap.get('total', 0)}", "")
    t.add_row("device ops waiting", str(snap.get("pending", 0)), "")
    if snap.get("note"):
        t.caption = str(snap["note"])
    return t


class Progress:
    """Shows ``snapshot()`` until ``stop``; use as a context manager."""

    def __init__(self, console: Console, snapshot: Snapshot, every: float = 5.0) -> None:
        self.console = console
        self.snapshot = snapshot
        self.every = every
        self.plain = plain_mode(console)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.plain:
            self._thread = threading.Thread(target=self._plain, name="progress", daemon=True)
        else:
            self._live = Live(console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
            self._thread = threading.Thread(target=self._rich, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._live is not None:
            self._safe(lambda s: self._live.update(table(s)) if self._live else None)
            self._live.__exit__(None, None, None)

    def _safe(self, show: Callable[[dict[str, Any]], Any]) -> None:
        try:
            show(self.snapshot())
        except Exception as exc:  # the display must never stop the floor
            if self.plain:
                self.console.print(f"progress: {exc}", markup=False)

    def _plain(self) -> None:
        last = 0.0
        while not self._stop.wait(0.2):
            if time.monotonic() - last >= self.every:
                last = time.monotonic()
                self._safe(lambda s: self.console.print(plain_line(s), markup=False))

    def _rich(self) -> None:
        while not self._stop.wait(0.3):
            self._safe(lambda s: self._live.update(table(s)) if self._live else None)
