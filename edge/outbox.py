"""The bus's own SQLite file: the MQTT outbox, the per-sender seq counter and the
inbound dedupe window.

A durable message is written here (WAL, ``synchronous=FULL``) before it is handed to the
MQTT client and deleted only after its PUBACK, so a crash or a broker outage loses
nothing: whatever is left is sent again by the next process. The seq counter is reserved
in blocks (one durable write per ``SEQ_BLOCK`` messages), so seqs only ever grow, across
restarts too. The dedupe window remembers the last ``window`` seqs seen per sender; it
is written with ``synchronous=NORMAL`` (an app crash keeps it; a power cut may forget the
last few, which the handlers' own idempotence absorbs).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.errors import BusError

SEQ_BLOCK = 1000
# A seq this far below a sender's highest means its counter was reset (store wiped):
# start that sender's window again instead of dropping everything it says forever.
RESET_FACTOR = 10

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, "
    "payload BLOB NOT NULL, retain INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS seen (sender TEXT NOT NULL, seq INTEGER NOT NULL, "
    "PRIMARY KEY (sender, seq)) WITHOUT ROWID",
)


@dataclass(frozen=True)
class OutboxRow:
    """One message waiting for its PUBACK."""

    id: int
    topic: str
    payload: bytes
    retain: bool


class _Window:
    """The seqs seen lately from one sender: the highest, and a set of the recent ones."""

    def __init__(self) -> None:
        self.high = 0
        self.recent: set[int] = set()


class BusStore:
    """Outbox, seq counter and dedupe window of one bus, in one SQLite file."""

    def __init__(self, path: str | Path, window: int = 1024) -> None:
        if window < 1:
            raise BusError(f"dedupe window must be >= 1, got {window}")
        self.path = Path(path)
        self.window = window
        self._lock = threading.Lock()
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._durable = self._connect("FULL")
            self._loose = self._connect("NORMAL")
        except sqlite3.Error as exc:
            raise BusError(f"{self.path}: cannot open the bus store: {exc}") from exc
        with self._durable:
            for sql in _SCHEMA:
                self._durable.execute(sql)
        row = self._durable.execute("SELECT value FROM meta WHERE key = 'seq_reserved'").fetchone()
        self._reserved = int(row[0]) if row else 0
        self._seq = self._reserved  # never reuse a seq a crashed process may have sent
        self._windows: dict[str, _Window] = {}
        for sender, seq in self._loose.execute("SELECT sender, seq FROM seen"):
            win = self._windows.setdefault(sender, _Window())
            win.recent.add(int(seq))
            win.high = max(win.high, int(seq))

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def close(self) -> None:
        """Close both connections; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._durable.close()
            self._loose.close()

    def _check(self) -> None:
        if self._closed:
            raise BusError(f"{self.path}: bus store is closed")

    # --- seq counter --------------------------------------------------------------

    def next_seq(self) -> int:
        """The next per-sender seq (strictly increasing, across restarts too)."""
        with self._lock:
            self._check()
            if self._seq >= self._reserved:
                reserved = self._seq + SEQ_BLOCK
                with self._durable:
                    self._durable.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('seq_reserved', ?)",
                        [str(reserved)],
                    )
                self._reserved = reserved
            self._seq += 1
            return self._seq

    # --- outbox -------------------------------------------------------------------

    def enqueue(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Store a message durably; returns its row id (the send order)."""
        with self._lock:
            self._check()
            with self._durable:
                cur = self._durable.execute(
                    "INSERT INTO outbox (topic, payload, retain, created_at) VALUES (?, ?, ?, ?)",
                    [topic, payload, int(retain), datetime.now(UTC).isoformat()],
                )
            return int(cur.lastrowid or 0)

    def delete(self, ids: Iterable[int]) -> int:
        """Forget acknowledged messages (one transaction); returns how many went."""
        id_list = [int(i) for i in ids]
        if not id_list:
            return 0
        with self._lock:
            self._check()
            with self._durable:
                cur = self._durable.executemany(
                    "DELETE FROM outbox WHERE id = ?", [[i] for i in id_list]
                )
            return max(cur.rowcount, 0)

    def unsent(self, exclude: Iterable[int] = ()) -> list[OutboxRow]:
        """Messages still waiting for a PUBACK, in send order, minus ``exclude``."""
        skip = set(exclude)
        with self._lock:
            self._check()
            rows = self._durable.execute(
                "SELECT id, topic, payload, retain FROM outbox ORDER BY id"
            ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows if r[0] not in skip]

    def pending_count(self) -> int:
        """How many messages wait for a PUBACK."""
        with self._lock:
            self._check()
            return int(self._durable.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # --- dedupe window ------------------------------------------------------------

    def is_duplicate(self, sender: str, seq: int) -> bool:
        """True when ``(sender, seq)`` was seen already (or is older than the window)."""
        with self._lock:
            win = self._windows.get(sender)
            if win is None:
                return False
            if seq in win.recent:
                return True
            if seq <= win.high - self.window * RESET_FACTOR:
                return False  # the sender's counter was reset: see ``remember``
            return seq <= win.high - self.window

    def remember(self, sender: str, seq: int) -> None:
        """Record ``(sender, seq)`` as handled and slide the sender's window."""
        with self._lock:
            self._check()
            win = self._windows.setdefault(sender, _Window())
            if seq <= win.high - self.window * RESET_FACTOR:
                win.high, win.recent = 0, set()
                with self._loose:
                    self._loose.execute("DELETE FROM seen WHERE sender = ?", [sender])
            win.recent.add(seq)
            win.high = max(win.high, seq)
            floor = win.high - self.window
            with self._loose:
                self._loose.execute(
                    "INSERT OR IGNORE INTO seen (sender, seq) VALUES (?, ?)", [sender, seq]
                )
                if len(win.recent) > self.window * 2:
                    win.recent = {s for s in win.recent if s > floor}
                    self._loose.execute(
                        "DELETE FROM seen WHERE sender = ? AND seq <= ?", [sender, floor]
                    )
