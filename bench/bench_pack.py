"""Benchmark: last verification scan at the pack station -> the shipping label's bytes
received by the TCP printer simulator (target p99 < 100 ms).

Real parts on loopback: Mosquitto on a free port, the pack agent with its SQLite store and
print spool, a scanner on a pseudo-terminal, the printer simulator on a TCP port. The
central server is not running (the station works from its store, as offline). Per order:
scan ``ORD-<id>``, wait for the station, then time from writing the item's barcode into
the pty until the simulator has the whole label (its cut).

    .venv/bin/python bench/bench_pack.py [--orders 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import tty
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config.loader import load_masterdata, load_site, masterdata_to_dict
from devices.printer.sim import PrinterSim
from edge.agents.pack import PackAgent
from edge.settings import load_agent_settings
from edge.station.pack_session import PackState
from sync.store import LocalStore

SITE = "DE-FRA"
GTIN = "4260000010010"  # SKU-1001 in the shipped master data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.0005)


class TimedPrinter(PrinterSim):
    """The printer simulator noting when each job was complete."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.received: dict[str, float] = {}
        self.changed = threading.Event()

    def _write_job(self, data: bytes) -> None:
        at = time.perf_counter()
        super()._write_job(data)
        self.received[self.jobs[-1].name] = at
        self.changed.set()


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    wait(listening, 10, "mosquitto")
    return proc, port


def order(order_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": order_id,
        "warehouse": SITE,
        "customer": {"id": "C1", "name": "Ann", "tier": "standard", "flags": []},
        "ship_to": {
            "name": "Ann Example",
            "line1": "Hauptstr. 5",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
        "lines": [{"sku": "SKU-1001", "qty": 1, "picked": 1, "packed": 0}],
        "deadline": (now + timedelta(days=3)).isoformat(),
        "created_at": now.isoformat(),
        "status": "picked",
        "exceptions": [],
        "priority": {"level": "P1", "score": 95.0, "reasons": []},
        "tracking_token": f"tok-{order_id}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    n = max(1, min(args.orders, 5000))
    work = Path(tempfile.mkdtemp(prefix="bench-pack-"))
    broker, port = start_broker(work)
    master, slave = os.openpty()
    tty.setraw(slave)
    sim = TimedPrinter(port=0, out_dir=work / "printed")
    sim.start()
    agent: PackAgent | None = None
    try:
        config = work / "pack.toml"
        config.write_text(
            "\n".join(
                [
                    "[device]",
                    'id = "pack-1"',
                    f'site = "{SITE}"',
                    'role = "pack"',
                    'store = "pack-1.db"',
                    "[central]",
                    f'url = "http://127.0.0.1:{free_port()}"',
                    'token = "offline"',
                    "[mqtt]",
                    f"port = {port}",
                    "[devices]",
                    f'scanner = "serial://{os.ttyname(slave)}?baudrate=115200&suffix=CR"',
                    f'printer = "{sim.url}?timeout=2"',
                ]
            )
            + "\n"
        )
        settings = load_agent_settings(config)
        site = load_site()
        assert site.masterdata_path is not None
        md = masterdata_to_dict(load_masterdata(site.masterdata_path))
        changes = [{"entity": "sku", "id": s["sku"], "data": s} for s in md["skus"]]
        changes += [{"entity": "carrier", "id": c["id"], "data": c} for c in md["carriers"]]
        changes += [{"entity": "order", "id": f"B{i}", "data": order(f"B{i}")} for i in range(n)]
        with LocalStore(settings.store, settings.device_id, SITE) as store:
            store.apply_changes(changes, cursor=len(changes), epoch="bench")
        agent = PackAgent(settings)
        agent.start(bus_wait=10)
        latencies: list[float] = []
        for i in range(n):
            os.write(master, f"ORD-B{i}\r".encode())
            wait(
                lambda i=i: (
                    agent.session.order_id == f"B{i}"  # type: ignore[union-attr]
                    and agent.session.state is PackState.ORDER
                ),  # type: ignore[union-attr]
                10,
                f"order B{i} open",
            )
            started = time.perf_counter()
            os.write(master, f"{GTIN}\r".encode())
            name = f"B{i}-shipping"
            wait(lambda name=name: any(k.endswith(name) for k in sim.received), 10, name)
            at = next(v for k, v in sim.received.items() if k.endswith(name))
            latencies.append((at - started) * 1000)
        latencies.sort()
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
        print(
            json.dumps(
                {
                    "benchmark": "pack: last verification scan -> label bytes at printer",
                    "orders": n,
                    "p50_ms": round(p50, 2),
                    "p99_ms": round(p99, 2),
                    "max_ms": round(latencies[-1], 2),
                    "target_p99_ms": 100,
                    "met": p99 < 100,
                }
            )
        )
    finally:
        if agent is not None:
            agent.stop()
        sim.stop()
        for fd in (master, slave):
            os.close(fd)
        broker.terminate()
        broker.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
