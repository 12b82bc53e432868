"""Benchmark: 10,000 ops queued on a device while central is down, drained after it
comes back (target < 3 s). Real central server (`rushline central serve`, SQLite) on a
free loopback port; real device store file.

    .venv/bin/python bench/bench_drain.py [--ops 10000] [--batch 500]
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from sync.client import SyncClient
from sync.store import LocalStore

SITE = "DE-FRA"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rushline(*args: str) -> str:
    """Run a `rushline` command; its output (the last line is a token, when one is made)."""
    cmd = [sys.executable, "-m", "rushline", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def start_central(db: str, port: int) -> subprocess.Popen[bytes]:
    """Start the server and wait (bounded) until /healthz answers."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rushline",
            "central",
            "serve",
            "--db",
            db,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
        if proc.poll() is not None:
            raise SystemExit("central server exited during start")
    proc.kill()
    raise SystemExit("central server did not answer /healthz within 30 s")


def stop_central(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rl-bench-drain-") as tmp:
        work = Path(tmp)
        db = str(work / "central.db")
        master = {
            "warehouses": [
                {
                    "id": SITE,
                    "name": "Frankfurt",
                    "country": "DE",
                    "postcode": "60311",
                    "timezone": "Europe/Berlin",
                }
            ],
            "locations": [
                {
                    "warehouse": SITE,
                    "code": f"A{i:02d}",
                    "zone": "A",
                    "aisle": 1,
                    "bay": i,
                    "level": 1,
                    "kind": "pick",
                }
                for i in range(10)
            ],
            "skus": [
                {
                    "sku": "SKU-1",
                    "gtin": "4006381333931",
                    "name": "Cooler bag",
                    "weight_g": 450,
                    "dims_mm": [220, 140, 90],
                }
            ],
            "stock": [],
        }
        (work / "master.json").write_text(json.dumps(master))
        rushline("central", "import", "--db", db, str(work / "master.json"))
        token = (
            rushline(
                "central",
                "token",
                "--db",
                db,
                "--role",
                "device",
                "--device",
                "bench-1",
                "--site",
                SITE,
            )
            .splitlines()[-1]
            .strip()
        )
        admin = rushline("central", "token", "--db", db, "--role", "admin").splitlines()[-1]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with LocalStore(work / "device.db", "bench-1", SITE) as store:
            # Central is not running: the floor keeps working and queues everything.
            at = datetime.now(UTC)
            t0 = time.perf_counter()
            for i in range(args.ops):
                store.record(
                    "stock.adjusted",
                    {
                        "warehouse": SITE,
                        "location": f"A{i % 10:02d}",
                        "sku": "SKU-1",
                        "delta": 1,
                        "reason": "found",
                    },
                    at,
                )
            record_s = time.perf_counter() - t0
            with SyncClient(store, url, token, batch_size=args.batch, timeout=30) as client:
                offline = client.run_once()
                proc = start_central(db, port)
                try:
                    t0 = time.perf_counter()
                    result = client.run_once()
                    drain_s = time.perf_counter() - t0
                    stock = httpx.get(
                        f"{url}/v1/stock",
                        params={"sku": "SKU-1"},
                        headers={"Authorization": f"Bearer {admin.strip()}"},
                        timeout=30,
                    ).json()
                finally:
                    stop_central(proc)
            rows = stock if isinstance(stock, list) else stock.get("stock", stock.get("items", []))
            on_hand = sum(int(r["on_hand"]) for r in rows)
            print(
                f"ops recorded offline        {args.ops:>8}  ({record_s:.2f} s, "
                f"{args.ops / record_s:,.0f} ops/s, each its own fsynced transaction)"
            )
            print(f"round while central down    {offline.error_kind}")
            print(
                f"drain after reconnect       {drain_s:8.2f} s  ({args.ops / drain_s:,.0f} ops/s, "
                f"batch {args.batch}; includes the pull that follows)"
            )
            print(
                f"acked / rejected / pending  {result.acked} / {result.rejected} / {result.pending}"
            )
            print(f"central on_hand SKU-1       {on_hand:>8}  (expected {args.ops})")
            print(f"target < 3 s                {'met' if drain_s < 3 else 'NOT met'}")
            return 0 if result.ok and on_hand == args.ops else 1


if __name__ == "__main__":
    sys.exit(main())
