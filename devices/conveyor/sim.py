"""A simulated conveyor controller speaking DESIGN.md §4.4 on a pseudo-terminal.

Totes ride a belt at ``speed_m_s`` past one gate per lane. A DIV that arrives before the
tote has left its lane's gate window is ACKed, then DONE when the tote reaches the gate.
A DIV that arrives later is ACKed and answered ``MISS|tote|lane``. A tote that passes
every gate without a divert is reported ``MISS|tote|0`` (lane 0: no divert was
commanded). Missed totes recirculate: after ``recirculation_s`` they are inducted again
(a new ``IND``). The clock is real; make the belt fast for quick runs.
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from devices.conveyor.protocol import (
    MAX_SEQ,
    Ack,
    ConveyorError,
    Div,
    Done,
    Flt,
    Frame,
    FrameReader,
    Hb,
    Ind,
    Miss,
    Nak,
    Ping,
    encode,
)

_MAX_WAIT_S = 0.05
_RECENT_DIVS = 4096


@dataclass
class _Tote:
    """A tote on the belt (mutable: it moves)."""

    tote: str
    position_m: float = 0.0
    lane: int | None = None
    div_seq: int = 0
    miss_reported: bool = False


class ConveyorSim:
    """The controller end of a pty pair; the host opens ``path``. Drive it with ``induct``."""

    def __init__(
        self,
        lanes: int = 4,
        speed_m_s: float = 2.0,
        induction_to_gate_m: list[float] | None = None,
        gate_spacing_m: float = 1.0,
        gate_window_s: float = 0.05,
        recirculation_s: float | None = None,
        heartbeat_s: float = 1.0,
    ) -> None:
        if lanes < 1 or speed_m_s <= 0 or gate_window_s < 0 or heartbeat_s <= 0:
            raise ConveyorError("conveyor sim: lanes >= 1, speed > 0, window >= 0 needed")
        gates = induction_to_gate_m or [gate_spacing_m * (i + 1) for i in range(lanes)]
        if len(gates) != lanes or any(g <= 0 for g in gates):
            raise ConveyorError(
                f"conveyor sim: induction_to_gate_m needs {lanes} distances > 0, got {gates}"
            )
        self.lanes = lanes
        self.speed_m_s = speed_m_s
        self.gates_m = list(gates)
        self.gate_window_s = gate_window_s
        self.window_m = gate_window_s * speed_m_s
        self.end_m = max(gates) + self.window_m
        self.recirculation_s = (
            recirculation_s if recirculation_s is not None else 2 * self.end_m / speed_m_s
        )
        self.heartbeat_s = heartbeat_s
        self.sent: deque[Frame] = deque(maxlen=1000)
        self.received: deque[Frame] = deque(maxlen=1000)
        self.reader = FrameReader()
        self.write_drops = 0
        self._lock = threading.RLock()
        self._belt: dict[str, _Tote] = {}
        self._recirculating: dict[str, float] = {}  # tote -> when it is inducted again
        self._preset: dict[str, tuple[int, int]] = {}  # recirculating tote -> (lane, seq)
        self._recent: dict[tuple[int, str, int], None] = {}
        self._ind_seq = 0
        self._hb_seq = 0
        self._drop_next = 0
        self._muted = False
        self._jam_until = 0.0
        self._last_tick = time.monotonic()
        self._next_hb = 0.0
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> Self:
        """Open the pty pair and start the controller thread."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation before the host opens it
        os.set_blocking(self._master, False)  # a host that never reads must not block us
        self._last_tick = time.monotonic()
        self._next_hb = self._last_tick + self.heartbeat_s
        self._thread = threading.Thread(target=self._run, name="conveyor sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the pty (the host sees the device vanish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def path(self) -> str:
        """The slave side's device path, for the host to open."""
        if self._slave < 0:
            raise ConveyorError("conveyor sim is not started")
        return os.ttyname(self._slave)

    # -- driving it ------------------------------------------------------------------
    def induct(self, tote: str) -> int:
        """Put ``tote`` on the belt at the induction scanner; emits ``IND``, returns its seq."""
        encode(Ind(0, tote))  # reject an id that cannot travel before changing anything
        with self._lock:
            if tote in self._belt:
                raise ConveyorError(f"conveyor sim: tote {tote} is already on the belt")
            self._recirculating.pop(tote, None)
            self._preset.pop(tote, None)  # put on by hand: a new journey
            return self._induct(tote)

    def inject_fault(self, code: str, text: str) -> None:
        """Emit ``FLT|code|text``."""
        self._emit(Flt(code, text))

    def jam(self, seconds: float) -> None:
        """Stop the belt for ``seconds`` and report ``FLT|JAM|...``."""
        with self._lock:
            self._advance(time.monotonic())
            self._jam_until = time.monotonic() + seconds
        self._emit(Flt("JAM", f"belt stopped for {seconds:g} s"))

    def garbage(self, data: bytes) -> None:
        """Write raw ``data`` to the line, as a noisy cable would."""
        self._write(data)

    def drop_next(self, count: int) -> None:
        """Ignore the next ``count`` frames from the host (a lost frame on the line)."""
        with self._lock:
            self._drop_next = count

    def mute(self, on: bool) -> None:
        """Stop (or resume) sending anything, heartbeats included."""
        self._muted = on

    def on_belt(self) -> list[str]:
        """Totes riding the belt now, in induction order."""
        with self._lock:
            return list(self._belt)

    def position_m(self, tote: str) -> float | None:
        """How far ``tote`` has travelled from induction now; None when not on the belt."""
        with self._lock:
            self._advance(time.monotonic())
            entry = self._belt.get(tote)
            return entry.position_m if entry else None

    # -- controller thread -------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                wait = self._advance(time.monotonic())
            try:
                ready, _, _ = select.select([self._master], [], [], wait)
                data = os.read(self._master, 4096) if ready else b""
            except BlockingIOError:
                continue
            except OSError:
                # EIO: no host has the slave open right now; keep time moving.
                self._stop.wait(_MAX_WAIT_S)
                continue
            for frame in self.reader.feed(data):
                self._answer(frame)

    def _answer(self, frame: Frame) -> None:
        with self._lock:
            self.received.append(frame)
            if self._drop_next > 0:
                self._drop_next -= 1
                return
            if isinstance(frame, Ping):
                self._emit(Hb(frame.seq))
            elif isinstance(frame, Div):
                self._advance(time.monotonic())
                self._divert(frame)

    def _divert(self, div: Div) -> None:
        key = (div.seq, div.tote, div.lane)
        if key in self._recent:  # a retransmission: acknowledge again, act once
            self._emit(Ack(div.seq))
            return
        if not 1 <= div.lane <= self.lanes:
            self._emit(Nak(div.seq, f"no lane {div.lane} (1..{self.lanes})"))
            return
        tote = self._belt.get(div.tote)
        if tote is None and div.tote not in self._recirculating:
            self._emit(Nak(div.seq, f"tote {div.tote} is not on the belt"))
            return
        self._recent[key] = None
        if len(self._recent) > _RECENT_DIVS:
            del self._recent[next(iter(self._recent))]
        self._emit(Ack(div.seq))
        if tote is None:  # recirculating: the divert applies on its next pass
            self._preset[div.tote] = (div.lane, div.seq)
            return
        gate = self.gates_m[div.lane - 1]
        if tote.position_m > gate + self.window_m:
            tote.miss_reported = True
            self._emit(Miss(tote.tote, div.lane))
            return
        tote.lane, tote.div_seq = div.lane, div.seq
        if tote.position_m >= gate:
            self._finish(tote)

    def _finish(self, tote: _Tote) -> None:
        del self._belt[tote.tote]
        self._emit(Done(tote.div_seq, tote.tote, tote.lane or 0))

    def _induct(self, tote: str) -> int:
        self._ind_seq = self._ind_seq % MAX_SEQ + 1
        entry = self._belt[tote] = _Tote(tote)
        if tote in self._preset:
            entry.lane, entry.div_seq = self._preset.pop(tote)
        self._emit(Ind(self._ind_seq, tote))
        return self._ind_seq

    def _advance(self, now: float) -> float:
        """Move the belt to ``now``, emit what happened; return seconds until the next thing."""
        moving_since = max(self._last_tick, self._jam_until)
        moved = max(0.0, now - moving_since) * self.speed_m_s
        self._last_tick = now
        next_at = now + _MAX_WAIT_S
        moving_from = max(now, self._jam_until)
        for tote in list(self._belt.values()):
            tote.position_m += moved
            target = self.gates_m[tote.lane - 1] if tote.lane else self.end_m
            if tote.lane and tote.position_m >= target:
                self._finish(tote)
            elif tote.position_m > self.end_m:
                if not tote.lane and not tote.miss_reported:
                    self._emit(Miss(tote.tote, 0))
                del self._belt[tote.tote]
                self._recirculating[tote.tote] = now + self.recirculation_s
            else:
                remaining_s = (target - tote.position_m) / self.speed_m_s
                next_at = min(next_at, moving_from + remaining_s + 0.0005)
        for name, due in list(self._recirculating.items()):
            if due <= now:
                del self._recirculating[name]
                self._induct(name)
            else:
                next_at = min(next_at, due)
        if now >= self._next_hb:
            self._hb_seq = self._hb_seq % MAX_SEQ + 1
            self._emit(Hb(self._hb_seq))
            self._next_hb = now + self.heartbeat_s
        next_at = min(next_at, self._next_hb)
        return max(0.0, next_at - now)

    def _emit(self, frame: Frame) -> None:
        with self._lock:  # one frame per write, never interleaved
            self.sent.append(frame)
            if not self._muted:
                self._write(encode(frame))

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except OSError:  # full buffer (nobody reading) or closed: the frame is lost
            self.write_drops += 1
