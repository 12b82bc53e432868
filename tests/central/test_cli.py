"""`rushline central token|tokens|revoke|import|serve` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from central.auth import TokenCache
from central.settings import ServerSettings
from central.store.base import TokenRecord
from tests.central.conftest import order_body
from tests.support.central import TEST_MASTERDATA, CentralProcess, run_cli
from tests.support.fixtures_central import start_central_app, stop_central_app
from tests.support.waiting import wait_until


def test_token_is_printed_alone_on_the_last_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    out = run_cli(
        "central", "token", "--db", db, "--role", "device", "--device", "HH-1", "--site", "DE-FRA"
    )
    lines = out.stdout.rstrip("\n").split("\n")
    token = lines[-1]
    assert len(lines) >= 2 and token.strip() == token and " " not in token and len(token) >= 40
    assert token not in (tmp_path / "c.db").read_bytes().decode("latin-1")  # stored hashed
    # Never a leading "-": the token must be usable as the value of --token.
    assert token.startswith("rl_")
    bad = run_cli("central", "token", "--db", db, "--role", "device", check=False)
    assert bad.returncode == 2 and "--device" in bad.stderr and "Traceback" not in bad.stderr


def test_tokens_never_begin_like_an_option(tmp_path: Path) -> None:
    from central.auth import create_token
    from central.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        tokens = [create_token(store, "admin") for _ in range(200)]
    finally:
        store.close()
    assert all(t.startswith("rl_") and len(t) >= 45 for t in tokens)
    assert len(set(tokens)) == len(tokens)


def _token(db: str, *args: str) -> str:
    return run_cli("central", "token", "--db", db, *args).stdout.rstrip("\n").split("\n")[-1]


def test_tokens_are_listed_and_revoked_by_id_or_device(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    _token(db, "--role", "admin")
    for device in ("HH-1", "HH-1", "HH-2"):
        _token(db, "--role", "device", "--device", device, "--site", "DE-FRA")
    listed = run_cli("central", "tokens", "--db", db).stdout.splitlines()
    assert listed[-1] == "4 tokens"
    rows = [line.split() for line in listed[1:-1]]
    assert [(r[1], r[2]) for r in rows] == [
        ("admin", "-"),
        ("device", "HH-1"),
        ("device", "HH-1"),
        ("device", "HH-2"),
    ]
    for bad in (["abc"], ["zzzzzzzz"], ["--device", "HH-9"], []):
        refused = run_cli("central", "revoke", "--db", db, *bad, check=False)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().count("\n") <= 1
    assert "4 tokens" in run_cli("central", "tokens", "--db", db).stdout  # nothing removed
    by_id = run_cli("central", "revoke", "--db", db, rows[3][0][:8]).stdout
    assert by_id.strip() == f"revoked {rows[3][0]} (device HH-2 at DE-FRA)"
    by_device = run_cli("central", "revoke", "--db", db, "--device", "HH-1").stdout
    assert by_device.count("revoked") == 2
    left = run_cli("central", "tokens", "--db", db).stdout.splitlines()
    assert left[-1] == "1 token" and left[1].split()[1] == "admin"


def test_a_revoked_token_is_refused_by_a_running_server(tmp_path: Path) -> None:
    path = tmp_path / "central.db"
    app, server, thread = start_central_app(
        path, settings=ServerSettings(reprioritise_seconds=0, token_cache_seconds=0.2)
    )
    try:
        device = app.token("device", "HH-1", "DE-FRA")
        with app.client(device) as http, app.client() as admin:
            assert http.get("/v1/sync/pull").status_code == 200
            run_cli("central", "revoke", "--db", f"sqlite:///{path}", "--device", "HH-1")
            refused = wait_until(
                lambda: (r := http.get("/v1/sync/pull")).status_code == 401 and r,
                timeout=5,
                what="the revoked token refused",
            )
            assert "revoked" in refused.json()["detail"]
            assert admin.get("/v1/sync/pull").status_code == 200  # other tokens still work
    finally:
        stop_central_app(app, server, thread)


def test_the_token_cache_forgets_after_its_time() -> None:
    now = [100.0]
    cache = TokenCache(seconds=10, clock=lambda: now[0])
    record = TokenRecord("h" * 64, "device", "HH-1", "DE-FRA")
    cache.put(record)
    assert cache.get(record.token_hash) == record
    now[0] += 9.9
    assert cache.get(record.token_hash) == record
    now[0] += 0.2
    assert cache.get(record.token_hash) is None


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


def test_serve_reads_the_notifications_file_it_is_given(tmp_path: Path) -> None:
    shipped = Path("config/default/notifications.toml").read_text(encoding="utf-8")
    assert "max_chars = 500" in shipped
    chosen = tmp_path / "mine.toml"
    chosen.write_text(shipped.replace("max_chars = 500", "max_chars = 20"), encoding="utf-8")
    server = CentralProcess(tmp_path / "central", extra_args=("--notifications", str(chosen)))
    server.start()
    try:
        server.import_masterdata(TEST_MASTERDATA)
        with server.client() as http:
            token = http.post("/v1/orders", json=order_body("N-1")).json()["tracking_token"]
        ask = f"{server.url}/v1/track/{token}/inquiries"
        too_long = httpx.post(ask, json={"message": "x" * 21})  # the file's limit, not 500
        assert too_long.status_code == 422 and "20" in too_long.text
        assert httpx.post(ask, json={"message": "x" * 20}).status_code == 201
    finally:
        server.stop()


def test_serve_refuses_a_bad_notifications_or_site_file_in_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    broken = tmp_path / "notify.toml"
    broken.write_text("[retry\nmax = ", encoding="utf-8")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[inquiries]\nmax_chars = 'many'\n", encoding="utf-8")
    bad_site = tmp_path / "site.toml"
    bad_site.write_text("[priority\n", encoding="utf-8")
    cases = [
        (("--notifications", str(broken)), {}, "notify.toml"),
        (("--notifications", str(tmp_path / "absent.toml")), {}, "absent.toml"),
        ((), {"RUSHLINE_NOTIFICATIONS": str(wrong)}, "max_chars"),
        (("--config", str(bad_site)), {}, "site.toml"),
    ]
    for extra, env, named in cases:
        bad = run_cli("central", "serve", "--db", db, *extra, env=env, check=False)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 2, (extra, bad.stderr)
        assert len(lines) == 1 and named in lines[0] and "Traceback" not in bad.stderr, lines
        assert bad.stdout == ""  # refused before the server said anything
