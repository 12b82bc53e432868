"""The files a demo run leaves behind, read back without changing them: device store
files (their outbox history and sync position) and central's SQLite database."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rushline.demo.stations import DeviceStore
from sync.store import LocalStore


@dataclass(frozen=True)
class DeviceOps:
    """One device's outbox history, reduced to what the report needs."""

    device_id: str
    op_ids: tuple[str, ...]
    kinds: Counter[str]
    states: Counter[str]
    duplicates: int


def read_device(store: DeviceStore) -> DeviceOps:
    """Every op the device ever recorded (``LocalStore.outbox_history``)."""
    with LocalStore(store.path, store.device_id, store.site) as local:
        history = local.outbox_history()
    return DeviceOps(
        store.device_id,
        tuple(op.op_id for op in history),
        Counter(op.kind for op in history),
        Counter(op.state for op in history),
        sum(1 for op in history if op.result == "duplicate"),
    )


def _ro(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)


def pending_in(store_path: Path) -> int:
    """Ops still pending in a device store file (read-only; 0 if not readable yet)."""
    try:
        conn = _ro(store_path)
    except sqlite3.Error:
        return 0
    try:
        row = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
        return int(row[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def cursor_in(store_path: Path) -> int:
    """The change-feed position a device store file has pulled to (0: none yet)."""
    if not store_path.exists():
        return 0
    try:
        conn = _ro(store_path)
    except sqlite3.Error:
        return 0
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()
        return int(row[0] or 0) if row else 0
    except (sqlite3.Error, ValueError):
        return 0
    finally:
        conn.close()


def central_ops(db_path: Path) -> dict[str, dict[str, Any]]:
    """op_id -> {device, kind, at, status, order_id} from central's op records."""
    conn = _ro(db_path)
    try:
        rows = conn.execute("SELECT op_id, device, kind, at, status, data FROM ops").fetchall()
    finally:
        conn.close()
    out = {}
    for op_id, device, kind, at, status, data in rows:
        body = json.loads(data) if isinstance(data, str) else (data or {})
        out[op_id] = {
            "device": device,
            "kind": kind,
            "at": at,
            "status": status,
            "order_id": body.get("order_id"),
            "data": body,
        }
    return out


def twice_applied(db_path: Path) -> list[str]:
    """Op ids central booked more than once (ledger movements or op records)."""
    conn = _ro(db_path)
    try:
        twice = [
            r[0]
            for r in conn.execute("SELECT op_id FROM ledger GROUP BY op_id HAVING count(*) > 1")
        ]
        twice += [
            r[0] for r in conn.execute("SELECT op_id FROM ops GROUP BY op_id HAVING count(*) > 1")
        ]
    finally:
        conn.close()
    return twice


def central_orders(db_path: Path) -> dict[str, dict[str, Any]]:
    """Every order document at central, by id."""
    conn = _ro(db_path)
    try:
        rows = conn.execute("SELECT id, doc FROM orders").fetchall()
    finally:
        conn.close()
    return {r[0]: json.loads(r[1]) if isinstance(r[1], str) else r[1] for r in rows}


def central_top_ups(db_path: Path) -> list[dict[str, Any]]:
    """Central's top-up pick tasks (the rest of an order whose tote had left)."""
    conn = _ro(db_path)
    try:
        rows = conn.execute("SELECT doc FROM tasks WHERE id LIKE 'TOP-%' ORDER BY id").fetchall()
    finally:
        conn.close()
    docs = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]
    return [d for d in docs if d.get("kind") == "topup"]
