"""`rushline central token|import|serve` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.central.conftest import order_body
from tests.support.central import TEST_MASTERDATA, CentralProcess, run_cli


def test_token_is_printed_alone_on_the_last_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    out = run_cli(
        "central", "token", "--db", db, "--role", "device", "--device", "HH-1", "--site", "DE-FRA"
    )
    lines = out.stdout.rstrip("\n").split("\n")
    token = lines[-1]
    assert len(lines) >= 2 and token.strip() == token and " " not in token and len(token) >= 40
    assert token not in (tmp_path / "c.db").read_bytes().decode("latin-1")  # stored hashed
    bad = run_cli("central", "token", "--db", db, "--role", "device", check=False)
    assert bad.returncode == 2 and "--device" in bad.stderr and "Traceback" not in bad.stderr


def test_import_twice_does_not_double_stock(tmp_path: Path) -> None:
    path = tmp_path / "md.json"
    path.write_text(json.dumps(TEST_MASTERDATA))
    db = f"sqlite:///{tmp_path / 'c.db'}"
    first = run_cli("central", "import", "--db", db, str(path))
    again = run_cli("central", "import", "--db", db, str(path))
    assert "stock: 6" in first.stdout and "stock: 0" in again.stdout
    broken = tmp_path / "broken.json"
    broken.write_text('{"skus": [{"sku": ')
    bad = run_cli("central", "import", "--db", db, str(broken), check=False)
    assert bad.returncode == 2 and "broken.json" in bad.stderr and "Traceback" not in bad.stderr


def test_server_restart_and_crash_keep_data(central_server: CentralProcess) -> None:
    device = central_server.device_token("HH-1", "DE-FRA")
    with central_server.client() as http:
        sku = http.get("/v1/sync/pull").json()["changes"]
        assert sku, "master data was imported"
        body = order_body("KEEP-1", [("SKU-2001", 1)]) if _has_test_data(http) else None
        if body is not None:
            assert http.post("/v1/orders", json=body).status_code == 201
    central_server.restart(kill=True)  # SIGKILL: nothing flushed by the server
    with central_server.client() as http:
        if body is not None:
            assert http.get("/v1/orders/KEEP-1").json()["status"] == "allocated"
        assert http.get("/v1/sync/pull").json()["changes"] == sku
    central_server.restart()
    r = httpx.get(
        f"{central_server.url}/v1/sync/pull", headers={"Authorization": f"Bearer {device}"}
    )
    assert r.status_code == 200  # tokens survive restarts


def _has_test_data(http: httpx.Client) -> bool:
    return any(
        s["sku"] == "SKU-2001" for s in http.get("/v1/stock", params={"sku": "SKU-2001"}).json()
    )


def test_serve_refuses_bad_config_and_database_in_one_line(tmp_path: Path) -> None:
    bad = run_cli(
        "central",
        "serve",
        "--db",
        f"sqlite:///{tmp_path}/c.db",
        "--config",
        str(tmp_path / "none.toml"),
        check=False,
    )
    assert bad.returncode == 2 and "none.toml" in bad.stderr and "Traceback" not in bad.stderr
    url = run_cli("central", "token", "--db", "mysql://x", "--role", "admin", check=False)
    assert url.returncode == 2 and "mysql://x" in url.stderr and "Traceback" not in url.stderr


def test_two_worker_processes_serialise_writes(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.central import TEST_MASTERDATA

    server = CentralProcess(tmp_path / "central", extra_args=("--workers", "2")).start()
    try:
        server.import_masterdata(TEST_MASTERDATA)
        tokens = {d: server.device_token(d, "DE-FRA") for d in ("HH-1", "HH-2")}

        def pushes(device: str) -> None:
            with server.client(tokens[device]) as http:
                for n in range(5):
                    ops = [
                        {
                            "op_id": f"{device}-{n}-{i}",
                            "seq": n * 10 + i + 1,
                            "kind": "stock.adjusted",
                            "at": "2026-11-25T08:00:00+00:00",
                            "data": {
                                "warehouse": "DE-FRA",
                                "location": "A01-02-1",
                                "sku": "SKU-2001",
                                "delta": 1,
                                "reason": "found",
                            },
                        }
                        for i in range(10)
                    ]
                    r = http.post("/v1/sync/push", json={"device": device, "ops": ops})
                    assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {
                        "applied"
                    }

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(pushes, tokens))
        with server.client() as http:
            rows = http.get("/v1/stock", params={"sku": "SKU-2001", "warehouse": "DE-FRA"}).json()
            assert next(r for r in rows if r["location"] == "A01-02-1")["on_hand"] == 10 + 100
            feed = http.get("/v1/sync/pull", params={"limit": 5000}).json()["changes"]
        stock = [c for c in feed if c["id"] == "DE-FRA/A01-02-1/SKU-2001"]
        assert len(stock) == 1 and stock[0]["data"]["on_hand"] == 110
    finally:
        server.stop()
