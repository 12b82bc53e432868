"""Benchmark: customer feedback on loopback. N orders are taken; the timeline scan turns
them into notifications; the worker delivers signed webhooks to a local receiver
(http.server); then the tracking page and JSON are fetched from the real server.

    .venv/bin/python bench/bench_notify.py [--orders 300] [--views 200]
"""

from __future__ import annotations

import argparse
import http.server
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from central.app import create_app
from central.clock import SystemClock
from central.feedback.notify.outbox import scan_timeline
from central.feedback.notify.worker import NotificationWorker
from central.feedback.settings import NotificationSettings, RetryPolicy, WebhookEndpoint
from central.service.intake import create_order
from central.service.masterdata import import_masterdata
from central.settings import ServerSettings
from central.store import open_store

MASTER: dict[str, Any] = {
    "warehouses": [
        {"id": "DE-FRA", "name": "Frankfurt", "country": "DE", "timezone": "Europe/Berlin"}
    ],
    "locations": [
        {"warehouse": "DE-FRA", "code": f"A{i:02d}-01-1", "aisle": i, "bay": 1, "kind": "pick"}
        for i in range(1, 21)
    ],
    "skus": [{"sku": f"SKU-{i}", "name": f"Item {i}", "weight_g": 200} for i in range(20)],
    "stock": [
        {"warehouse": "DE-FRA", "location": f"A{i + 1:02d}-01-1", "sku": f"SKU-{i}", "qty": 10_000}
        for i in range(20)
    ],
    "carriers": [
        {
            "id": "dhl-express",
            "carrier": "DHL",
            "service": "Express",
            "transit_hours": 24,
            "cutoff": "17:00",
            "cost": 14.9,
            "countries": ["DE"],
        },
    ],
}


def order(i: int, now: datetime) -> dict[str, Any]:
    return {
        "id": f"BN-{i}",
        "customer": {
            "id": f"C-{i}",
            "name": "Ada Lovelace",
            "email": "",
            "tier": "standard",
            "flags": [],
        },
        "ship_to": {
            "name": "Ada Lovelace",
            "line1": "Main St 1",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
        "lines": [{"sku": f"SKU-{i % 20}", "qty": 1}],
        "deadline": (now + timedelta(days=3)).isoformat(),
        "service": "standard",
        "tags": [],
    }


def receiver() -> tuple[http.server.ThreadingHTTPServer, threading.Thread, dict[str, float]]:
    seen: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                seen.setdefault(self.headers.get("Idempotency-Key", ""), time.perf_counter())
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return server, thread, seen


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--views", type=int, default=200)
    args = parser.parse_args()
    now = datetime.now(UTC)
    server, thread, seen = receiver()
    port = server.server_address[1]
    settings = NotificationSettings(
        status_events=frozenset({"allocated"}),
        poll_seconds=0.02,
        risk_interval_seconds=0,
        retry=RetryPolicy(timeout_seconds=5),
        webhooks=(WebhookEndpoint("bench", f"http://127.0.0.1:{port}/", "b" * 32),),
    )
    with tempfile.TemporaryDirectory(prefix="rl-bench-notify-") as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'central.db'}")
        try:
            server_settings = ServerSettings(reprioritise_seconds=0)
            import_masterdata(store, MASTER, SystemClock(), server_settings)
            tokens = []
            for i in range(args.orders):
                _, doc = create_order(store, order(i, now), SystemClock(), server_settings)
                tokens.append(doc["tracking_token"])
            started = time.perf_counter()
            made = scan_timeline(store, settings, now)
            while len(made) < args.orders:
                more = scan_timeline(store, settings, now)
                if not more:
                    break
                made += more
            scanned = time.perf_counter() - started
            worker = NotificationWorker(store, server_settings, settings)
            started = time.perf_counter()
            worker.start()
            deadline = time.monotonic() + 50
            while len(seen) < len(made) and time.monotonic() < deadline:
                time.sleep(0.01)
            delivered = time.perf_counter() - started
            worker.stop()
            print(
                f"notifications made by the timeline scan: {len(made)} in {scanned * 1000:.0f} ms"
            )
            print(
                f"signed webhooks delivered: {len(seen)}/{len(made)} in {delivered:.2f} s "
                f"({len(seen) / delivered:.0f}/s, sequential, loopback)"
            )

            app = create_app(store, settings=server_settings, notifications=settings)
            web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
            web_thread = threading.Thread(target=web.run, daemon=True)
            web_thread.start()
            while not web.started:
                time.sleep(0.01)
            web_port = web.servers[0].sockets[0].getsockname()[1]
            with httpx.Client(base_url=f"http://127.0.0.1:{web_port}") as client:
                for path in ("/v1/track/{}", "/track/{}"):
                    times = []
                    for n in range(args.views):
                        t0 = time.perf_counter()
                        client.get(path.format(tokens[n % len(tokens)])).raise_for_status()
                        times.append((time.perf_counter() - t0) * 1000)
                    print(
                        f"GET {path.format('<token>')}: p50 {statistics.median(times):.1f} ms, "
                        f"p95 {pct(times, 0.95):.1f} ms over {args.views} requests "
                        f"({args.orders} open orders)"
                    )
            web.should_exit = True
            web_thread.join(timeout=15)
        finally:
            store.close()
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
    return 0 if len(seen) == len(made) == args.orders else 1


if __name__ == "__main__":
    sys.exit(main())
