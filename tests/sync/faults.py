"""Fault injection for the sync tests: a flaky HTTP transport and random op scripts."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx

from tests.sync.central_data import LOCATIONS, SITE, SKUS

ROOT = Path(__file__).resolve().parents[2]


class FaultyTransport(httpx.BaseTransport):
    """Wraps a real transport. On pushes it may duplicate the request, lose the response
    after the server applied it, send the batch's halves in reverse order, or replay an
    old push first. Counts what it did in ``done``."""

    def __init__(self, rng: random.Random, p: float = 0.15) -> None:
        self.inner = httpx.HTTPTransport()
        self.rng = rng
        self.p = p
        self.history: list[dict[str, Any]] = []
        self.done = {"duplicated": 0, "lost": 0, "reordered": 0, "replayed": 0}

    def _send(self, request: httpx.Request, body: dict[str, Any] | None = None) -> httpx.Response:
        if body is not None:
            request = httpx.Request(
                "POST",
                request.url,
                json=body,
                headers={"Authorization": request.headers["Authorization"]},
            )
        response = self.inner.handle_request(request)
        try:
            content = response.read()
        finally:
            response.close()
        return httpx.Response(
            response.status_code, content=content, headers={"content-type": "application/json"}
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/sync/push":
            return self._send(request)
        body = json.loads(request.content)
        roll = self.rng.random
        if self.history and roll() < self.p:
            self.done["replayed"] += 1
            self._send(request, self.rng.choice(self.history))
        self.history.append(body)
        ops = body["ops"]
        if len(ops) >= 2 and roll() < self.p:
            self.done["reordered"] += 1
            half = len(ops) // 2
            late = self._send(request, {**body, "ops": ops[half:]})
            early = self._send(request, {**body, "ops": ops[:half]})
            if late.status_code != 200 or early.status_code != 200:
                return early if early.status_code != 200 else late
            results = early.json()["results"] + late.json()["results"]
            acked = max(early.json()["acked_seq"], late.json()["acked_seq"])
            response = httpx.Response(200, json={"acked_seq": acked, "results": results})
        else:
            response = self._send(request, body)
            if roll() < self.p:
                self.done["duplicated"] += 1
                response = self._send(request, body)
        if response.status_code == 200 and roll() < self.p:
            self.done["lost"] += 1
            raise httpx.ReadError("response lost after the server applied the push")
        return response

    def close(self) -> None:
        self.inner.close()


def random_op(rng: random.Random, orders: list[str]) -> tuple[str, dict[str, Any]]:
    """One valid op for the test site."""
    roll = rng.random()
    sku = rng.choice(SKUS)
    if roll < 0.45 or not orders:
        delta = rng.choice([-3, -2, -1, 1, 2, 3, 4])
        return "stock.adjusted", {
            "warehouse": SITE,
            "location": rng.choice(LOCATIONS),
            "sku": sku,
            "delta": delta,
            "reason": "count",
        }
    if roll < 0.7:
        src, dst = rng.sample(LOCATIONS, 2)
        return "stock.moved", {
            "warehouse": SITE,
            "sku": sku,
            "from_location": src,
            "to_location": dst,
            "qty": rng.randint(1, 3),
        }
    order_id = rng.choice(orders)
    if roll < 0.85:
        return "pick.confirmed", {
            "order_id": order_id,
            "sku": "SKU-1",
            "location": rng.choice(LOCATIONS),
            "qty": 1,
            "operator": "op",
        }
    if roll < 0.93:
        return "order.packed", {
            "order_id": order_id,
            "carton": "S",
            "weight_g": 400,
            "carrier_service": "dhl-express",
            "tracking": f"T-{order_id}",
        }
    return "order.shipped", {
        "order_id": order_id,
        "carrier_service": "dhl-express",
        "tracking": f"T-{order_id}",
    }


def movements(kind: str, data: dict[str, Any]) -> list[tuple[tuple[str, str], int]]:
    """The on-hand movements an op makes at the centre: ((location, sku), delta)."""
    if kind == "stock.adjusted":
        return [((data["location"], data["sku"]), data["delta"])]
    if kind == "stock.moved":
        return [
            ((data["from_location"], data["sku"]), -data["qty"]),
            ((data["to_location"], data["sku"]), data["qty"]),
        ]
    if kind == "pick.confirmed":
        return [((data["location"], data["sku"]), -data["qty"])]
    return []


class Child:
    """A device process; its stdout lines are read on a thread so waits are bounded."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sync.child_device", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.strip())

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(predicate(line) for line in list(self.lines)):
            if self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"child exited early: {self.lines} {err}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"child did not print the line; got {self.lines[-3:]}")
            time.sleep(0.005)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
