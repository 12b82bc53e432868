"""Conveyor controller on a serial line (DESIGN.md §4.4), via pyserial.

One I/O thread reads frames, calls the event callbacks at once (an IND can be answered
with a DIV from inside the callback), retransmits unacknowledged DIVs with the same seq,
pings, and reopens the device path when the link goes quiet or the device vanishes.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Self

import serial

from devices.conveyor.base import (
    ConveyorEvent,
    ConveyorStatus,
    EventType,
    HubConveyor,
    utc_now,
)
from devices.conveyor.protocol import (
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

log = logging.getLogger(__name__)

_MAX_WAIT_S = 0.1  # the I/O thread looks at the stop flag at least this often


@dataclass
class _Pending:
    """A DIV awaiting its ACK (mutable: the I/O thread counts its sends)."""

    frame: bytes
    tote: str
    lane: int
    sends: int
    deadline: float


class SerialConveyor(HubConveyor):
    """A conveyor controller on serial device ``path`` (a tty, pty or symlink to one)."""

    def __init__(
        self,
        path: str,
        baudrate: int = 115200,
        ack_timeout: float = 0.2,
        retries: int = 3,
        heartbeat: float = 2.0,
        backoff_max: float = 1.0,
    ) -> None:
        if ack_timeout <= 0 or heartbeat <= 0 or retries < 0 or backoff_max <= 0:
            raise ConveyorError(
                f"conveyor {path}: ack_timeout, heartbeat and backoff_max must be > 0, retries >= 0"
            )
        self.path = path
        self.baudrate = baudrate
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.heartbeat = heartbeat
        self.backoff_max = backoff_max
        super().__init__()
        self._reader = FrameReader()
        self._state = threading.Lock()
        self._write_lock = threading.Lock()
        self._port: serial.Serial | None = None
        self._pending: dict[int, _Pending] = {}
        self._last_rx = 0.0
        self._last_heartbeat: datetime | None = None
        self._next_ping = 0.0
        self._retransmits = 0
        self._naks = 0
        self._reconnects = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------
    def open(self) -> Self:
        """Open the device and start the I/O thread; ``ConveyorError`` if it cannot open."""
        if self._thread is not None:
            return self
        self._port = self._open_port()
        now = time.monotonic()
        self._last_rx = now
        self._next_ping = now
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"conveyor {self.path}")
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the I/O thread and close the device; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._drop_port()

    # -- the port ------------------------------------------------------------------
    def divert(self, tote: str, lane: int, order_id: str | None = None) -> int:
        """Send ``DIV``; returns its seq. The outcome arrives as ack/nak/diverted/missed."""
        with self._state:
            seq = self._next_seq()
        frame = encode(Div(seq, tote, lane))  # a bad tote id raises here, nothing sent
        if self._port is None:
            raise ConveyorError(f"conveyor {self.path}: not connected, divert of {tote} not sent")
        with self._state:
            self._pending[seq] = _Pending(frame, tote, lane, 1, time.monotonic() + self.ack_timeout)
        self._send(frame)  # a failed write is retried like a lost frame
        return seq

    @property
    def status(self) -> ConveyorStatus:
        """Link health and counters (``last_heartbeat``: last valid frame received)."""
        with self._state:
            return ConveyorStatus(
                connected=self._port is not None,
                last_heartbeat=self._last_heartbeat,
                retransmits=self._retransmits,
                garbage=self._reader.dropped,
                naks=self._naks,
                pending=len(self._pending),
                reconnects=self._reconnects,
                events_dropped=self._hub.dropped,
            )

    # -- I/O thread ----------------------------------------------------------------
    def _open_port(self) -> serial.Serial:
        try:
            return serial.Serial(self.path, baudrate=self.baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConveyorError(f"conveyor {self.path}: cannot open: {exc}") from exc

    def _drop_port(self) -> None:
        with self._write_lock:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def _send(self, data: bytes) -> bool:
        with self._write_lock:
            port = self._port
            if port is None:
                return False
            try:
                port.write(data)
                return True
            except (serial.SerialException, OSError) as exc:
                log.warning("conveyor %s: write failed: %s", self.path, exc)
                return False

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            port = self._port
            if port is None:
                if self._stop.wait(backoff):
                    return
                if self._reconnect():
                    backoff = 0.05
                else:
                    backoff = min(backoff * 2, self.backoff_max)
                continue
            wait = self._housekeeping()
            try:
                ready, _, _ = select.select([port.fileno()], [], [], wait)
                data = os.read(port.fileno(), 4096) if ready else b""
                if ready and not data:
                    raise OSError("device closed")
            except (OSError, ValueError, serial.SerialException) as exc:
                self._lose_link(f"read failed: {exc}")
                continue
            if data:
                for frame in self._reader.feed(data):
                    self._handle(frame)
            if time.monotonic() - self._last_rx > self.heartbeat:
                self._lose_link(f"no heartbeat for {self.heartbeat:g} s")

    def _reconnect(self) -> bool:
        try:
            port = self._open_port()
        except ConveyorError:
            return False
        now = time.monotonic()
        with self._write_lock:
            self._port = port
        with self._state:
            self._last_rx = now
            self._next_ping = now
            self._reconnects += 1
        self._hub.publish(ConveyorEvent(EventType.RECONNECTED, text=self.path))
        return True

    def _lose_link(self, reason: str) -> None:
        log.warning("conveyor %s: link lost: %s", self.path, reason)
        self._drop_port()
        self._hub.publish(ConveyorEvent(EventType.HEARTBEAT_LOST, text=reason))

    def _housekeeping(self) -> float:
        """Retransmit overdue DIVs, fail exhausted ones, ping; return seconds to wait."""
        now = time.monotonic()
        resend: list[bytes] = []
        failed: list[tuple[int, _Pending]] = []
        with self._state:
            for seq, pending in list(self._pending.items()):
                if pending.deadline > now:
                    continue
                if pending.sends > self.retries:
                    failed.append((seq, self._pending.pop(seq)))
                else:
                    pending.sends += 1
                    pending.deadline = now + self.ack_timeout
                    self._retransmits += 1
                    resend.append(pending.frame)
            next_due = min((p.deadline for p in self._pending.values()), default=now + 1)
            ping_seq = 0
            if now >= self._next_ping:
                ping_seq = self._next_seq()
                self._next_ping = now + self.heartbeat / 2
        for frame in resend:
            self._send(frame)
        if ping_seq:
            self._send(encode(Ping(ping_seq)))
        for seq, pending in failed:
            self._hub.publish(
                ConveyorEvent(
                    EventType.NAK,
                    tote=pending.tote,
                    lane=pending.lane,
                    seq=seq,
                    code="no_ack",
                    text=f"no ACK after {pending.sends} sends",
                )
            )
        deadline = min(next_due, self._next_ping, self._last_rx + self.heartbeat + 0.001)
        return min(max(deadline - now, 0.0), _MAX_WAIT_S)

    def _handle(self, frame: Frame) -> None:
        with self._state:
            self._last_rx = time.monotonic()
            self._last_heartbeat = utc_now()
            settled = (
                self._pending.pop(frame.seq, None) if isinstance(frame, Ack | Nak | Done) else None
            )
            if isinstance(frame, Nak):
                self._naks += 1
        event: ConveyorEvent | None = None
        if isinstance(frame, Ind):
            event = ConveyorEvent(EventType.INDUCTED, tote=frame.tote, seq=frame.seq)
        elif isinstance(frame, Ack):
            if settled is not None:  # repeated ACKs for a retransmitted DIV say nothing new
                event = ConveyorEvent(
                    EventType.ACK, tote=settled.tote, lane=settled.lane, seq=frame.seq
                )
        elif isinstance(frame, Done):
            event = ConveyorEvent(
                EventType.DIVERTED, tote=frame.tote, lane=frame.lane, seq=frame.seq
            )
        elif isinstance(frame, Nak):
            event = ConveyorEvent(
                EventType.NAK,
                tote=settled.tote if settled else None,
                lane=settled.lane if settled else None,
                seq=frame.seq,
                code="rejected",
                text=frame.reason,
            )
        elif isinstance(frame, Miss):
            event = ConveyorEvent(EventType.MISSED, tote=frame.tote, lane=frame.lane)
        elif isinstance(frame, Flt):
            event = ConveyorEvent(EventType.FAULT, code=frame.code, text=frame.text)
        elif not isinstance(frame, Hb):
            log.debug("conveyor %s: ignoring host frame %s", self.path, frame)
        if event is not None:
            self._hub.publish(event)
