"""A durable print spool: jobs survive restarts and print in order, once acknowledged.

Delivery is at-least-once with a narrow window, stated honestly:

* A job is marked ``sending`` (committed) before its bytes go out and ``printed``
  (committed) only after the printer acknowledged it: for a readable printer (tcp,
  serial, usb) the DLE EOT status query sent *after* the job was answered, which the
  printer does only once it has processed every byte before it.
  Printers answer DLE EOT as soon as they parse it, so "acknowledged" means the printer
  received the whole job; a printer that then runs out of paper keeps it in its buffer
  and prints it when paper is loaded (ESC/POS ASB or GS ( H would confirm the paper
  actually came out; not used here).
* A job marked ``printed`` is never sent again, by this spool or by any later one.
* If the process dies after the bytes went out but before ``printed`` is committed, or the
  acknowledgement is lost, the next attempt prints the job again. A duplicate label is
  preferable to a lost one; ``attempts`` > 1 on a printed job shows where it may have
  happened.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlite_utils import Database

from devices.errors import DeviceError
from devices.printer.escpos import Printer
from devices.printer.status import Paper

log = logging.getLogger(__name__)

KINDS = ("shipping_label", "packing_slip", "pick_label", "manifest")
MAX_JOB_BYTES = 4 * 1024 * 1024


class SpoolError(DeviceError, ValueError):
    """A job was refused (bad id, kind or data); nothing was stored."""


class JobState(StrEnum):
    """Where a job is in the spool."""

    QUEUED = "queued"
    SENDING = "sending"
    PRINTED = "printed"


@dataclass(frozen=True)
class SpoolJob:
    """One job as stored in the spool (without its bytes)."""

    job_id: str
    kind: str
    order_id: str
    state: JobState
    attempts: int
    size: int
    last_error: str | None
    submitted_at: float
    printed_at: float | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS print_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    order_id TEXT NOT NULL,
    data BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    submitted_at REAL NOT NULL,
    printed_at REAL
);
CREATE INDEX IF NOT EXISTS print_jobs_open ON print_jobs (state, seq);
"""


class Spool:
    """Queue of print jobs in a SQLite file, sent in order by one worker thread.

    ``printer_factory`` makes a fresh :class:`Printer` when the spool (re)connects;
    ``on_printed(job_id)`` is called after a job is committed as printed.
    """

    def __init__(
        self,
        path: str | Path,
        printer_factory: Callable[[], Printer],
        clock: Callable[[], float] = time.monotonic,
        on_printed: Callable[[str], None] | None = None,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.printer_factory = printer_factory
        self.clock = clock
        self.on_printed = on_printed
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.wall_clock = wall_clock
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db = Database(conn)
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection shared by callers and the worker
        self._changed = threading.Condition()  # a job was printed (for wait_idle)
        self._wake = threading.Event()  # a job was submitted, or stop() was called
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._printer: Printer | None = None
        self._failures = 0
        self.last_status: str = "idle"

    # ---- callers ---------------------------------------------------------------

    def submit(self, job_id: str, kind: str, order_id: str, data: bytes) -> bool:
        """Store a job durably; False (and nothing changes) if ``job_id`` is known."""
        if not job_id or not isinstance(job_id, str):
            raise SpoolError("print job: job_id must be a non-empty string")
        if kind not in KINDS:
            raise SpoolError(f"print job {job_id}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if not isinstance(data, bytes | bytearray) or not data:
            raise SpoolError(f"print job {job_id}: data must be non-empty bytes")
        if len(data) > MAX_JOB_BYTES:
            raise SpoolError(f"print job {job_id}: {len(data)} bytes is over {MAX_JOB_BYTES}")
        with self._lock, self.db.atomic():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO print_jobs (job_id, kind, order_id, data, submitted_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [job_id, kind, order_id, bytes(data), self.wall_clock()],
            )
            added = cursor.rowcount == 1
        if added:
            self._notify()
        else:
            log.info("print job %s already spooled; duplicate ignored", job_id)
        return added

    def pending(self) -> int:
        """Jobs not yet acknowledged as printed."""
        with self._lock:
            row = self.db.execute(
                "SELECT count(*) FROM print_jobs WHERE state != 'printed'"
            ).fetchone()
        return int(row[0])

    def jobs(self) -> list[SpoolJob]:
        """Every job in submission order."""
        with self._lock:
            rows = self.db.execute(
                "SELECT job_id, kind, order_id, state, attempts, length(data), last_error,"
                " submitted_at, printed_at FROM print_jobs ORDER BY seq"
            ).fetchall()
        return [
            SpoolJob(r[0], r[1], r[2], JobState(r[3]), r[4], r[5], r[6], r[7], r[8]) for r in rows
        ]

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is pending (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.pending():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))
        return True

    # ---- worker ----------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread that sends pending jobs."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="print-spool", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker (a job being sent finishes first) and close the printer."""
        self._stopping.set()
        self._notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._drop_printer()

    def close(self) -> None:
        """Stop and close the database."""
        self.stop()
        with self._lock:
            self.db.close()

    def __enter__(self) -> Spool:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _notify(self) -> None:
        self._wake.set()
        with self._changed:
            self._changed.notify_all()

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the spool's clock; stop() ends the wait early."""
        until = self.clock() + seconds
        while not self._stopping.is_set():
            remaining = until - self.clock()
            if remaining <= 0:
                return
            self._stopping.wait(min(remaining, 0.5))

    def _backoff(self, reason: str) -> None:
        delay = min(self.retry_cap, self.retry_base * 2 ** min(self._failures, 30))
        self._failures += 1
        self.last_status = reason
        log.info("print spool waiting %.2fs: %s", delay, reason)
        self._sleep(delay)

    def _drop_printer(self) -> None:
        if self._printer is not None:
            try:
                self._printer.close()
            except DeviceError as exc:
                log.debug("closing printer: %s", exc)
            self._printer = None

    def _next_job(self) -> tuple[str, bytes] | None:
        with self._lock:
            row = self.db.execute(
                "SELECT job_id, data FROM print_jobs WHERE state != 'printed' ORDER BY seq LIMIT 1"
            ).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def _mark(self, job_id: str, state: JobState, error: str | None = None) -> None:
        with self._lock, self.db.atomic():
            if state is JobState.SENDING:
                self.db.execute(
                    "UPDATE print_jobs SET state = ?, attempts = attempts + 1 WHERE job_id = ?",
                    [state.value, job_id],
                )
            elif state is JobState.PRINTED:
                self.db.execute(
                    "UPDATE print_jobs SET state = ?, printed_at = ?, last_error = NULL"
                    " WHERE job_id = ? AND state != 'printed'",
                    [state.value, self.wall_clock(), job_id],
                )
            else:
                self.db.execute(
                    "UPDATE print_jobs SET state = ?, last_error = ? WHERE job_id = ?",
                    [state.value, error, job_id],
                )

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the look-up, so a submit after it is not missed
            job = self._next_job()
            if job is None:
                self.last_status = "idle"
                self._wake.wait()
                continue
            job_id, data = job
            try:
                if self._printer is None:
                    self._printer = self.printer_factory()
                status = self._printer.status()
            except DeviceError as exc:
                self._drop_printer()
                self._backoff(str(exc))
                continue
            if not status.online or status.paper is Paper.OUT:
                self._drop_printer()
                self._backoff(f"printer not ready: online={status.online} paper={status.paper}")
                continue
            self._mark(job_id, JobState.SENDING)
            try:
                self._printer.send(data)
            except DeviceError as exc:
                self._mark(job_id, JobState.QUEUED, str(exc))
                self._drop_printer()
                self._backoff(str(exc))
                continue
            self._mark(job_id, JobState.PRINTED)
            self._failures = 0
            self.last_status = "printing"
            self._notify()
            if self.on_printed is not None:
                try:
                    self.on_printed(job_id)
                except Exception:  # a broken hook must not stop printing
                    log.exception("on_printed hook failed for job %s", job_id)
