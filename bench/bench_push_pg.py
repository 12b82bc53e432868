"""Push throughput of the central server on PostgreSQL with 1 and 4 worker processes,
beside SQLite with 1 worker, on the same machine (real HTTP on loopback).

    python bench/bench_push_pg.py [--devices N] [--batches N] [--batch-size N]

Several devices push at once (one thread and token each); a push mixes pick.confirmed
and stock.adjusted (bench_push.py's ops). PostgreSQL: ``$RUSHLINE_BENCH_PG`` (default
``postgresql:///postgres``); a scratch database is created and dropped per run.
Prints ops/s per setup and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from central.auth import create_token
from central.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_push import free_port, make_ops, seed

ADMIN_PG = os.environ.get("RUSHLINE_BENCH_PG", "postgresql:///postgres")


def scratch_database() -> tuple[str, str]:
    """Create an empty database; returns (its URL, its name)."""
    name = f"rushline_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
    base = ADMIN_PG.rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_database(name: str) -> None:
    """Drop a scratch database."""
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(work: Path, db: str, workers: int) -> tuple[subprocess.Popen[bytes], str, Any]:
    """``rushline central serve --workers N`` on a free port; waits for /healthz."""
    port = free_port()
    log = (work / f"central-{workers}.log").open("wb")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "rushline", "central", "serve", "--db", db),
            *("--port", str(port), "--reprioritise-seconds", "0", "--workers", str(workers)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUSHLINE_DATA_DIR": str(work)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url, log
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(f"central server did not start: {log.name}")
        time.sleep(0.05)


def run_setup(db: str, workers: int, args: argparse.Namespace) -> float:
    """Start a server on ``db``, push from every device at once; returns ops/s."""
    with tempfile.TemporaryDirectory(prefix="rushline-bench-") as tmp:
        work = Path(tmp)
        db = db.replace("{tmp}", tmp)
        store = open_store(db)
        admin = create_token(store, "admin")
        tokens = [create_token(store, "device", f"HH-{d}", "DE-FRA") for d in range(args.devices)]
        store.close()
        server, url, log = start_server(work, db, workers)
        try:
            orders, bins = seed(url, admin)
            bodies = [
                [
                    json.dumps(
                        {"device": f"HH-{d}", "ops": make_ops(b, args.batch_size, orders, bins)}
                    ).encode()
                    for b in range(args.batches)
                ]
                for d in range(args.devices)
            ]
            failures: list[str] = []

            def device(d: int) -> None:
                headers = {
                    "Authorization": f"Bearer {tokens[d]}",
                    "Content-Type": "application/json",
                }
                with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
                    for body in bodies[d]:
                        result = http.post("/v1/sync/push", content=body).json()
                        bad = [r for r in result["results"] if r["status"] != "applied"]
                        if bad:
                            failures.append(str(bad[:2]))

            threads = [threading.Thread(target=device, args=(d,)) for d in range(args.devices)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=300)
            elapsed = time.perf_counter() - start
            if failures:
                raise SystemExit(f"unexpected results: {failures[:3]}")
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
    return args.devices * args.batches * args.batch_size / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    rates: dict[str, float] = {}
    rates["sqlite, 1 worker"] = run_setup("sqlite:///{tmp}/central.db", 1, args)
    for workers in (1, 4):
        url, name = scratch_database()
        try:
            rates[f"postgresql, {workers} worker{'s' if workers > 1 else ''}"] = run_setup(
                url, workers, args
            )
        finally:
            drop_database(name)
    total = args.devices * args.batches * args.batch_size
    print(
        f"{total} ops per setup: {args.devices} devices at once, {args.batches} pushes of "
        f"{args.batch_size} each (half pick.confirmed, half stock.adjusted)"
    )
    for name, rate in rates.items():
        print(f"  {name:<24} {rate:8.0f} ops/s")
    sqlite, pg1, pg4 = rates.values()
    print(f"  ratio postgresql 4 workers / 1 worker:   {pg4 / pg1:.2f}")
    print(f"  ratio postgresql 1 worker / sqlite:      {pg1 / sqlite:.2f}")
    print(f"  ratio postgresql 4 workers / sqlite:     {pg4 / sqlite:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
