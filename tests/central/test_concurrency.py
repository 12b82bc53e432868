"""Four server processes on one PostgreSQL database, fifty devices pushing (with
re-pushed batches) and pulling at once: every op lands exactly once and every device's
pulled stock equals the central stock."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from central.auth import create_token
from central.store import open_store
from tests.support.central import TEST_MASTERDATA, CentralProcess, run_cli

DEVICES = 50
BATCHES = 4
OPS_PER_BATCH = 10
AT = "2026-11-25T08:00:00+00:00"
BINS = {
    "DE-FRA": [("A01-02-1", "SKU-2001"), ("R01-01-1", "SKU-2001"), ("A02-01-1", "SKU-3001")],
    "PL-WAW": [("W01-01-1", "SKU-3001"), ("W01-01-1", "SKU-1001")],
}


def device_ops(device: str, site: str, rng: random.Random) -> list[list[dict[str, Any]]]:
    """A device's outbox in batches: stock adjustments and moves within its site."""
    batches, seq = [], 0
    for _ in range(BATCHES):
        batch = []
        for _ in range(OPS_PER_BATCH):
            seq += 1
            location, sku = rng.choice(BINS[site])
            if rng.random() < 0.8:
                kind = "stock.adjusted"
                data: dict[str, Any] = {
                    "warehouse": site,
                    "location": location,
                    "sku": sku,
                    "delta": rng.choice([-2, -1, 1, 2, 3]),
                    "reason": "cycle",
                }
            else:
                target = rng.choice([b for b in BINS[site] if b[1] == sku])[0]
                kind = "stock.moved"
                data = {
                    "warehouse": site,
                    "sku": sku,
                    "from_location": location,
                    "to_location": target,
                    "qty": 1,
                }
            batch.append(
                {"op_id": f"{device}-{seq}", "seq": seq, "kind": kind, "at": AT, "data": data}
            )
        batches.append(batch)
    return batches


class Device:
    """One handheld: pushes its batches (some twice, some overlapping) and follows the feed."""

    def __init__(self, index: int, url: str, token: str) -> None:
        self.name = f"HH-{index:02d}"
        self.site = "DE-FRA" if index % 2 == 0 else "PL-WAW"
        self.rng = random.Random(index)
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.batches = device_ops(self.name, self.site, self.rng)
        self.results: list[dict[str, Any]] = []
        self.acked = 0
        self.cursor = 0
        self.epoch: str | None = None
        self.stock: dict[str, dict[str, Any]] = {}

    def push(self, ops: list[dict[str, Any]]) -> None:
        """Push ops; keep every result."""
        response = self.http.post("/v1/sync/push", json={"device": self.name, "ops": ops})
        response.raise_for_status()
        body = response.json()
        self.results += body["results"]
        self.acked = max(self.acked, body["acked_seq"])

    def pull(self) -> None:
        """Follow the feed from the cursor until it has no more."""
        for _ in range(1000):
            headers = {"X-Rushline-Epoch": self.epoch} if self.epoch else {}
            response = self.http.get(
                "/v1/sync/pull", params={"cursor": self.cursor, "limit": 200}, headers=headers
            )
            response.raise_for_status()
            page = response.json()
            self.epoch = page["epoch"]
            for change in page["changes"]:
                if change["entity"] == "stock":
                    if change["data"] is None:
                        self.stock.pop(change["id"], None)
                    else:
                        self.stock[change["id"]] = change["data"]
            self.cursor = page["cursor"]
            if not page["more"]:
                return
        raise AssertionError(f"{self.name}: the feed did not end")

    def run(self, done_pushing: threading.Barrier) -> None:
        """Push each batch (re-pushing some, overlapping others), pulling in between."""
        for i, batch in enumerate(self.batches):
            self.push(batch)
            if self.rng.random() < 0.5:
                self.push(batch)  # the response was "lost": the same batch again
            if i > 0 and self.rng.random() < 0.5:
                self.push(self.batches[i - 1][-3:] + batch[:3])  # overlap with the last one
            self.pull()
        done_pushing.wait(timeout=60)
        self.pull()

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()


def child_processes(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process ended meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


@pytest.mark.postgres
def test_four_workers_fifty_devices_every_op_once_every_device_converged(
    pg_url: str, tmp_path: Path
) -> None:
    server = CentralProcess(tmp_path / "central", db=pg_url, extra_args=("--workers", "4"))
    server.start()
    devices: list[Device] = []
    try:
        assert server.process is not None
        assert len(child_processes(server.process.pid)) >= 4  # the worker processes
        with server.client() as admin:
            admin.post("/v1/masterdata", json=TEST_MASTERDATA).raise_for_status()
            before = {
                (s["warehouse"], s["location"], s["sku"]): s["on_hand"]
                for s in admin.get("/v1/stock").json()
            }
        store = open_store(pg_url)
        try:
            for i in range(DEVICES):
                site = "DE-FRA" if i % 2 == 0 else "PL-WAW"
                token = create_token(store, "device", f"HH-{i:02d}", site)
                devices.append(Device(i, server.url, token))
        finally:
            store.close()

        barrier = threading.Barrier(DEVICES)
        errors: list[BaseException] = []

        def run(device: Device) -> None:
            try:
                device.run(barrier)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=run, args=(d,)) for d in devices]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        assert not any(t.is_alive() for t in threads), "devices did not finish in time"
        assert not errors, errors[:3]

        # Exactly once: one "applied" per op over all responses, the rest duplicates.
        statuses = Counter((r["op_id"], r["status"]) for d in devices for r in d.results)
        all_ops = [op for d in devices for b in d.batches for op in b]
        assert len(all_ops) == DEVICES * BATCHES * OPS_PER_BATCH
        assert all(statuses[(op["op_id"], "applied")] == 1 for op in all_ops)
        assert not any(status == "rejected" for (_, status) in statuses)
        assert all(d.acked == BATCHES * OPS_PER_BATCH for d in devices)

        expected = Counter(before)
        for op in all_ops:
            data = op["data"]
            if op["kind"] == "stock.adjusted":
                expected[(data["warehouse"], data["location"], data["sku"])] += data["delta"]
            else:
                expected[(data["warehouse"], data["from_location"], data["sku"])] -= 1
                expected[(data["warehouse"], data["to_location"], data["sku"])] += 1
        with server.client() as admin:
            central = admin.get("/v1/stock").json()
        assert {(s["warehouse"], s["location"], s["sku"]): s["on_hand"] for s in central} == {
            k: v for k, v in expected.items() if k in before or v
        }
        with psycopg.connect(pg_url) as conn:
            ops = conn.execute("SELECT COUNT(*), COUNT(DISTINCT op_id) FROM ops").fetchone()
            moves = conn.execute("SELECT COUNT(*) FROM ledger WHERE reason <> 'import'").fetchone()
        moved = sum(op["kind"] == "stock.moved" for op in all_ops)
        assert ops == (len(all_ops), len(all_ops))
        assert moves == (len(all_ops) + moved,)  # a move is two ledger rows

        # Converged: each device's pulled stock equals the central stock of its site.
        for device in devices:
            own = {
                f"{s['warehouse']}/{s['location']}/{s['sku']}": s
                for s in central
                if s["warehouse"] == device.site
            }
            assert device.stock == own, device.name
    finally:
        for device in devices:
            device.close()
        server.stop()


def test_workers_must_be_a_positive_number(tmp_path: Path) -> None:
    result = run_cli(
        "central", "serve", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--workers", "0", check=False
    )
    assert result.returncode == 2
    assert "--workers must be at least 1" in result.stderr
    assert not (tmp_path / "c.db").exists()  # refused before anything was opened
