"""A real central server for tests: ``rushline central serve`` as a subprocess on a free
loopback port over a SQLite file, restartable on the same database and port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.waiting import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MASTERDATA = REPO / "config" / "default" / "masterdata.toml"

# Small master data with known numbers: two warehouses, pick and reserve bins, three SKUs.
TEST_MASTERDATA: dict[str, Any] = {
    "warehouses": [
        {
            "id": "DE-FRA",
            "name": "Frankfurt",
            "country": "DE",
            "postcode": "60311",
            "timezone": "Europe/Berlin",
            "transfer_hours": {"PL-WAW": 20},
        },
        {
            "id": "PL-WAW",
            "name": "Warsaw",
            "country": "PL",
            "postcode": "00-001",
            "timezone": "Europe/Warsaw",
            "transfer_hours": {"DE-FRA": 20},
        },
    ],
    "locations": [
        {
            "warehouse": "DE-FRA",
            "code": "A01-01-1",
            "zone": "A",
            "aisle": 1,
            "bay": 1,
            "level": 1,
            "kind": "pick",
        },
        {
            "warehouse": "DE-FRA",
            "code": "A01-02-1",
            "zone": "A",
            "aisle": 1,
            "bay": 2,
            "level": 1,
            "kind": "pick",
        },
        {
            "warehouse": "DE-FRA",
            "code": "A02-01-1",
            "zone": "A",
            "aisle": 2,
            "bay": 1,
            "level": 1,
            "kind": "pick",
        },
        {
            "warehouse": "DE-FRA",
            "code": "A02-05-1",
            "zone": "A",
            "aisle": 2,
            "bay": 5,
            "level": 1,
            "kind": "pick",
        },
        {
            "warehouse": "DE-FRA",
            "code": "R01-01-1",
            "zone": "R",
            "aisle": 9,
            "bay": 1,
            "level": 3,
            "kind": "reserve",
        },
        {
            "warehouse": "PL-WAW",
            "code": "W01-01-1",
            "zone": "W",
            "aisle": 1,
            "bay": 1,
            "level": 1,
            "kind": "pick",
        },
    ],
    "skus": [
        {
            "sku": "SKU-1001",
            "gtin": "4006381333931",
            "name": "Insulin cooler bag",
            "category": "medical",
            "flags": ["fragile"],
            "weight_g": 450,
            "dims_mm": [220, 140, 90],
            "reorder_point": 10,
        },
        {
            "sku": "SKU-2001",
            "gtin": "5901234123457",
            "name": "Phone case",
            "category": "general",
            "flags": [],
            "weight_g": 80,
            "dims_mm": [160, 90, 20],
            "reorder_point": 5,
        },
        {
            "sku": "SKU-3001",
            "gtin": "8712345678906",
            "name": "Cheese box",
            "category": "perishable",
            "flags": ["perishable"],
            "weight_g": 900,
            "dims_mm": [200, 200, 100],
            "reorder_point": 2,
        },
    ],
    "stock": [
        {
            "warehouse": "DE-FRA",
            "location": "A01-01-1",
            "sku": "SKU-1001",
            "qty": 24,
            "lot": "L2311",
            "expiry": "2027-03-31",
        },
        {"warehouse": "DE-FRA", "location": "A01-02-1", "sku": "SKU-2001", "qty": 10},
        {"warehouse": "DE-FRA", "location": "A02-01-1", "sku": "SKU-3001", "qty": 3},
        {"warehouse": "DE-FRA", "location": "R01-01-1", "sku": "SKU-2001", "qty": 50},
        {"warehouse": "PL-WAW", "location": "W01-01-1", "sku": "SKU-3001", "qty": 40},
        {"warehouse": "PL-WAW", "location": "W01-01-1", "sku": "SKU-1001", "qty": 30},
    ],
    "carriers": [
        {
            "id": "dhl-express",
            "carrier": "DHL",
            "service": "Express",
            "transit_hours": 24,
            "cutoff": "17:00",
            "cost": 14.9,
            "countries": ["DE", "AT", "PL"],
            "max_weight_g": 31500,
            "local_postcode_prefixes": [],
        },
    ],
}


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``rushline <args>`` in a subprocess and capture its output."""
    result = subprocess.run(
        [sys.executable, "-m", "rushline", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"rushline {' '.join(args)} failed ({result.returncode}): {result.stderr}"
        )
    return result


@dataclass
class CentralProcess:
    """``rushline central serve`` on 127.0.0.1:``port`` with its database in ``workdir``."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    db: str | None = None  # a database URL; default: central.db in ``workdir``
    process: subprocess.Popen[bytes] | None = None
    _admin: str | None = None

    @property
    def db_url(self) -> str:
        return self.db or f"sqlite:///{self.workdir / 'central.db'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "central.log"

    def start(self) -> CentralProcess:
        """Start the server (again, on the same database and port) and wait for /healthz."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rushline",
                    "central",
                    "serve",
                    "--db",
                    self.db_url,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RUSHLINE_DATA_DIR": str(self.workdir)},
            )
        try:
            wait_until(self._healthy, timeout=30, what=f"central server on {self.port}")
        except TimeoutError as exc:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"central server did not start: {tail}") from exc
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"central server exited with {self.process.returncode}")
        return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200

    def stop(self) -> None:
        """Stop gracefully (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed by the server itself."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def restart(self, kill: bool = False) -> None:
        """Stop (or kill) and start again on the same database and port."""
        if kill:
            self.kill()
        else:
            self.stop()
        self.start()

    def token(self, role: str, device: str | None = None, site: str | None = None) -> str:
        """A new token, made by a direct store call (as ``rushline central token`` does)."""
        from central.auth import create_token
        from central.store import open_store

        store = open_store(self.db_url)
        try:
            return create_token(store, role, device, site)
        finally:
            store.close()

    @property
    def admin_token(self) -> str:
        """An admin token (made once per process object)."""
        if self._admin is None:
            self._admin = self.token("admin")
        return self._admin

    def device_token(self, device_id: str, site: str) -> str:
        """A token for device ``device_id`` at site (warehouse) ``site``."""
        return self.token("device", device_id, site)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client on the server, with ``token`` (default: admin) as bearer."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def import_masterdata(self, source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
        """Load master data: a dict is POSTed to /v1/masterdata, a file goes through
        ``rushline central import``."""
        if isinstance(source, Mapping):
            with self.client() as http:
                response = http.post("/v1/masterdata", json=dict(source))
            response.raise_for_status()
            return dict(response.json())
        result = run_cli("central", "import", "--db", self.db_url, str(source))
        return {"output": result.stdout.strip()}


def default_masterdata() -> str | Path | dict[str, Any]:
    """The shipped master data file when it exists, else ``TEST_MASTERDATA``."""
    return (
        DEFAULT_MASTERDATA
        if DEFAULT_MASTERDATA.exists()
        else json.loads(json.dumps(TEST_MASTERDATA))
    )
