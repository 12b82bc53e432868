"""Push throughput into the central server (SQLite, real HTTP on loopback) beside a raw
``executemany`` of the same rows into a bare SQLite table on the same machine.

    python bench/bench_push.py [--batches N] [--batch-size N] [--warmup N]

Prints ops/s for both and their ratio (target: central >= 1/4 of raw), timed after a few
untimed batches on each side (a new server's first pushes also warm it up).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from central.auth import create_token
from central.store import open_store
from sync.ids import new_op_id

# The shift the ops were recorded in: each op has its own time, a scan every couple of
# seconds, written as a handheld sends it (UTC to the microsecond, ``Op.to_wire``).
START = datetime(2026, 11, 25, 6, tzinfo=UTC)
SKUS = 20
BINS = 40
ORDERS = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def masterdata() -> dict[str, Any]:
    locations = [
        {"warehouse": "DE-FRA", "code": f"A{a:02d}-{b:02d}-1", "aisle": a, "bay": b, "kind": "pick"}
        for a in range(1, 5)
        for b in range(1, BINS // 4 + 1)
    ]
    skus = [{"sku": f"SKU-{i:04d}", "name": f"item {i}", "reorder_point": 5} for i in range(SKUS)]
    stock = [
        {
            "warehouse": "DE-FRA",
            "location": loc["code"],
            "sku": skus[i % SKUS]["sku"],
            "qty": 1_000_000,
        }
        for i, loc in enumerate(locations)
    ]
    return {
        "warehouses": [{"id": "DE-FRA", "name": "Frankfurt", "country": "DE"}],
        "locations": locations,
        "skus": skus,
        "stock": stock,
    }


def make_ops(
    batch: int, size: int, orders: list[dict[str, Any]], bins: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Half pick.confirmed (1 unit of an order's line), half stock.adjusted."""
    ops = []
    for i in range(size):
        seq = batch * size + i + 1
        if i % 2 == 0:
            order = orders[(seq // 2) % len(orders)]
            alloc = order["allocations"][0]
            data = {
                "order_id": order["id"],
                "sku": alloc["sku"],
                "location": alloc["location"],
                "qty": 1,
                "operator": "OP-1",
                "task_id": f"BATCH-{order['id']}",  # as a handheld's picks carry
            }
            kind = "pick.confirmed"
        else:
            code, sku = bins[seq % len(bins)]
            data = {
                "warehouse": "DE-FRA",
                "location": code,
                "sku": sku,
                "delta": 1,
                "reason": "found",
            }
            kind = "stock.adjusted"
        at = (START + timedelta(microseconds=seq * 1_712_345)).isoformat(timespec="microseconds")
        ops.append({"op_id": new_op_id(), "seq": seq, "kind": kind, "at": at, "data": data})
    return ops


class RawTable:
    """The baseline: the same rows into a bare SQLite table, one transaction per batch,
    with the server's durability settings (WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute(
            "CREATE TABLE ops (op_id TEXT PRIMARY KEY, device TEXT, seq INTEGER, kind TEXT, "
            "at TEXT, data TEXT)"
        )

    def insert(self, ops: list[dict[str, Any]]) -> float:
        """Seconds to insert one batch."""
        start = time.perf_counter()
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO ops VALUES (?, ?, ?, ?, ?, ?)",
            [
                (o["op_id"], "HH-1", o["seq"], o["kind"], o["at"], json.dumps(o["data"]))
                for o in ops
            ],
        )
        self.conn.execute("COMMIT")
        return time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


def start_server(work: Path, db: str) -> tuple[subprocess.Popen[bytes], str, Any]:
    """``rushline central serve`` on a free port; waits for /healthz."""
    port = free_port()
    log = (work / "central.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rushline",
            "central",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--reprioritise-seconds",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUSHLINE_DATA_DIR": str(work)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url, log
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(
                f"central server did not start: {(work / 'central.log').read_text()[-2000:]}"
            )
        time.sleep(0.05)


def seed(url: str, admin: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Master data and standard orders with big lines to pick from."""
    md = masterdata()
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=60
    ) as http:
        http.post("/v1/masterdata", json=md).raise_for_status()
        orders = []
        for i in range(ORDERS):
            body = {
                "id": f"B-{i}",
                "customer": {"id": "C", "name": "C"},
                "ship_to": {
                    "name": "C",
                    "line1": "x",
                    "city": "Berlin",
                    "postcode": "10115",
                    "country": "DE",
                },
                "lines": [{"sku": f"SKU-{i % SKUS:04d}", "qty": 100_000}],
                "deadline": "2026-12-10T10:00:00+00:00",
            }
            orders.append(http.post("/v1/orders", json=body).raise_for_status().json())
    return orders, [(s["location"], s["sku"]) for s in md["stock"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=500)
    # The first pushes into a new server also prepare its statements, parse its master
    # data and fill its page cache; they are sent, not timed.
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    args = parser.parse_args()
    size = args.batch_size
    central_s: list[float] = []
    raw_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rushline-bench-") as tmp:
        work = Path(tmp)
        db = f"sqlite:///{work / 'central.db'}"
        store = open_store(db)
        admin, device = (
            create_token(store, "admin"),
            create_token(store, "device", "HH-1", "DE-FRA"),
        )
        store.close()
        server, url, log = start_server(work, db)
        raw = RawTable(work / "raw.db")
        try:
            orders, bins = seed(url, admin)
            batches = [make_ops(b, size, orders, bins) for b in range(args.warmup + args.batches)]
            # The device encodes a batch once when it builds it (compact, as its httpx
            # client does); the server's work is timed.
            bodies = [
                json.dumps({"device": "HH-1", "ops": ops}, separators=(",", ":")).encode()
                for ops in batches
            ]
            headers = {"Authorization": f"Bearer {device}", "Content-Type": "application/json"}
            # Central and raw batches alternate, so both see the same load on a shared machine.
            with httpx.Client(base_url=url, headers=headers, timeout=120) as dev:
                for n, (body, ops) in enumerate(zip(bodies, batches, strict=True)):
                    start = time.perf_counter()
                    result = dev.post("/v1/sync/push", content=body).raise_for_status().json()
                    took = time.perf_counter() - start
                    bad = [r for r in result["results"] if r["status"] != "applied"]
                    if bad:
                        raise SystemExit(f"unexpected results: {bad[:3]}")
                    raw_took = raw.insert(ops)
                    if n >= args.warmup:
                        central_s.append(took)
                        raw_s.append(raw_took)
        finally:
            raw.close()
            server.terminate()
            server.wait(timeout=10)
            log.close()
    total = size * len(central_s)
    central_med, raw_med = statistics.median(central_s), statistics.median(raw_s)
    print(
        f"ops pushed:            {total} in batches of {size} (half pick.confirmed, half stock.adjusted),"
        f" after {args.warmup} untimed batches each"
    )
    print(
        f"central push (HTTP):   {size / central_med:10.0f} ops/s  (median {central_med * 1000:.1f} ms"
        f" per batch; overall {total / sum(central_s):.0f} ops/s)"
    )
    print(
        f"raw executemany:       {size / raw_med:10.0f} rows/s (median {raw_med * 1000:.1f} ms per batch)"
    )
    print(f"ratio central/raw:     {raw_med / central_med:10.3f}  (target >= 0.25)")
    # How steady the machine was: each central batch against the raw batch run after it.
    pairs = statistics.quantiles([r / c for c, r in zip(central_s, raw_s, strict=True)], n=4)
    print(f"  per batch pair:      p25 {pairs[0]:.3f}, median {pairs[1]:.3f}, p75 {pairs[2]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
