"""The real Kivy app rendered offscreen, driven by wedge key events in one subprocess
(Kivy runs one App and one window per process). Screenshots go to tests/screenshots/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tty
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import paho.mqtt.publish as publish
import pytest

from handheld_app.settings import load_handheld_settings
from tests.handheld_app.floor import seeded_store
from tests.support.broker import Broker
from tests.support.central import CentralProcess

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "screenshots" / "handheld"

pytestmark = pytest.mark.ui


def write_config(folder: Path, url: str, token: str, store: str = "hh-01.db") -> Path:
    """A handheld settings file for a test."""
    path = folder / "handheld.toml"
    path.write_text(
        f'[device]\nid = "hh-01"\nsite = "DE-FRA"\nstore = "{store}"\n'
        f'[central]\nurl = "{url}"\ntoken = "{token}"\n'
        "[sync]\ninterval = 0.2\ntimeout = 2.0\n"
        '[scanner]\nsource = "wedge://"\n[ui]\nsounds = false\n',
        encoding="utf-8",
    )
    return path


def driver_process(config: Path, out: Path, shots: Path, scenarios: str, *extra: str) -> Any:
    """Start the UI driver subprocess (stdin/stdout lines for NEED requests)."""
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", KIVY_WINDOW="sdl2")
    env["KIVY_HOME"] = str(out.parent / "kivy")
    with out.with_suffix(".err").open("w") as errors:  # a file: a full pipe would block
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.handheld_app.ui_driver",
                "--config",
                str(config),
                "--out",
                str(out),
                "--shots",
                str(shots),
                "--scenario",
                scenarios,
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )


def steps_of(out: Path) -> dict[str, dict[str, Any]]:
    """The driver's recorded steps by name."""
    result = json.loads(out.read_text())
    assert result.get("finished"), result.get("error") or result
    return {step["name"]: step for step in result["steps"]}


def answer_needs(
    proc: Any, actions: dict[str, Callable[[], str | None]], timeout: float = 100
) -> str:
    """Serve the driver's NEED lines until it exits (an action may return the answer
    line); returns the end of the driver's stderr. The driver never outlives this."""
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stdout:
            if line.startswith("NEED "):
                reply = actions[line.split()[1]]()
                proc.stdin.write(f"{reply or 'ok'}\n")
                proc.stdin.flush()
            if time.monotonic() > deadline:
                raise TimeoutError("the UI driver ran past its deadline")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()
    return Path(proc.args[proc.args.index("--out") + 1]).with_suffix(".err").read_text()[-3000:]


def test_sign_in_and_pick_a_hot_order_offline(tmp_path: Path, mosquitto: Broker) -> None:
    seeded_store(tmp_path / "hh-01.db").close()
    config = write_config(tmp_path, "http://127.0.0.1:9", "unused")
    config.write_text(
        config.read_text() + f'[mqtt]\nhost = "{mosquitto.host}"\nport = {mosquitto.port}\n'
    )
    out = tmp_path / "result.json"
    proc = driver_process(
        config,
        out,
        SHOTS / "offline",
        "signin,ergonomics,reasons,banner,pick,stock,settings,serial,handover",
        "--offline",
    )
    master, slave = os.openpty()
    tty.setraw(slave)

    def push_task() -> None:
        body = {"task": {"id": "HOT-O-HOT", "level": "P1", "order_ids": ["O-HOT"]}}
        publish.single(
            "rushline/v1/DE-FRA/task/hh-01",
            json.dumps(body),
            qos=1,
            hostname=mosquitto.host,
            port=mosquitto.port,
            protocol=mqtt.MQTTv5,
        )

    def serial_badge() -> None:
        os.write(master, b"OP-0009\r")

    try:
        stderr = answer_needs(
            proc,
            {
                "push_task": push_task,
                "serial_path": lambda: os.ttyname(slave),
                "serial_badge": serial_badge,
            },
        )
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, stderr
    steps = steps_of(out)
    assert steps["banner"]["text"] == "NEW P1 HOT PICK O-HOT"
    assert steps["banner_opened"]["ok"]
    assert "not a badge" in steps["signin_refused"]["message"]
    assert steps["signin"]["ok"] and steps["signin"]["rows"] == 2
    assert steps["ergonomics"]["ok"], steps["ergonomics"]
    assert "customer flag: medical" in steps["reasons"]["text"]
    assert steps["pick_opened"]["level"] == "P1"
    wrong = steps["wrong_item"]
    assert wrong["ok"] and wrong["message"] == "Wrong item SKU-CUP: take SKU-BAG here"
    picked = steps["picked"]
    assert picked["kinds"] == ["pick.confirmed", "pick.confirmed", "tote.assigned"]
    assert picked["message"] == "Task done: drop TOTE-0042 on the conveyor"
    assert picked["bar"].startswith("OFFLINE  |  3 to send")
    assert steps["stock"]["sku"] == "SKU-BAG" and "A01-01-1" in steps["stock"]["lines"]
    assert steps["count_chosen"]["ok"], steps["count_chosen"]
    assert "key the units in the bin" in steps["count_chosen"]["message"]
    assert steps["count_button"]["ok"], steps["count_button"]
    assert steps["counted"]["ok"] and steps["counted"]["message"].startswith("Counted ")
    assert steps["recount_refused"]["ok"], steps["recount_refused"]
    assert steps["typed_count"]["ok"], steps["typed_count"]
    stock_steps = ("move_started", "move_button", "moved", "receive_button", "received")
    for name in (*stock_steps, "damaged_button", "written_off"):
        assert steps[name]["ok"], steps[name]
    assert steps["stock_refused"]["message"] == "Scan an item barcode to see its stock"
    assert steps["settings_refused"]["ok"], steps["settings_refused"]
    assert steps["settings_refused"]["message"].startswith("[central] url: must start with")
    assert steps["serial_badge"]["ok"] and steps["serial_badge"]["screen"] == "tasks"
    assert "serial://" in load_handheld_settings(config).scanner
    asked = steps["handover_asked"]
    assert asked["ok"], asked
    assert asked["message"].startswith("Before signing out: scan a tote for the 1 unit")
    handed = steps["handed_over"]
    assert handed["ok"] and handed["kinds"] == ["pick.confirmed", "tote.assigned"], handed
    assert handed["tote"][0]["tote"] == "TOTE-0077"
    assert handed["tote"][0]["order_id"] == asked["order_id"]
    shots = ("01_signin", "06_wrong_item", "10_task_done", "12_stock", "12b_stock_counted")
    shots += ("12c_stock_move", "12d_stock_receive", "12e_stock_damaged")
    for name in (*shots, "13_settings", "15_handover"):
        assert (SHOTS / "offline" / f"{name}.png").stat().st_size > 1000


def urgent_order(order_id: str, hours: float = 3.0) -> dict[str, Any]:
    """An express order for a medical customer: central makes it a P1 hot pick."""
    return {
        "id": order_id,
        "warehouse": "DE-FRA",
        "customer": {
            "id": "C-1",
            "name": "Ada",
            "email": "ada@example.com",
            "tier": "vip",
            "flags": ["medical"],
        },
        "ship_to": {
            "name": "Ada",
            "line1": "1 Main St",
            "city": "Frankfurt",
            "postcode": "60311",
            "country": "DE",
        },
        "lines": [{"sku": "SKU-1001", "qty": 2}, {"sku": "SKU-1002", "qty": 1}],
        "deadline": (datetime.now(UTC) + timedelta(hours=hours)).isoformat(),
        "service": "express",
    }


def test_offline_indicator_and_outbox_drain_with_central(
    tmp_path: Path, central_server: CentralProcess
) -> None:
    with central_server.client() as http:
        http.post("/v1/orders", json=urgent_order("ORD-UI-1")).raise_for_status()
    token = central_server.device_token("hh-01", "DE-FRA")
    config = write_config(tmp_path, central_server.url, token)
    out = tmp_path / "result.json"
    proc = driver_process(
        config, out, SHOTS / "central", "signin,wait_online,central_down,pick,central_back"
    )
    stderr = answer_needs(
        proc, {"stop_central": central_server.stop, "start_central": central_server.start}
    )
    assert proc.returncode == 0, stderr
    steps = steps_of(out)
    assert steps["online"]["text"].startswith("ONLINE")
    assert steps["offline"]["text"].startswith("OFFLINE")
    assert steps["pick_opened"]["level"] == "P1"
    assert steps["wrong_item"]["ok"], steps["wrong_item"]
    picked = steps["picked"]
    assert picked["kinds"] == ["pick.confirmed", "pick.confirmed", "tote.assigned"]
    assert picked["pending"] == 3 and "3 to send" in picked["bar"]
    assert steps["drained"]["ok"] and steps["drained"]["before"] == 3
    assert steps["drained"]["text"].startswith("ONLINE  |  0 to send")
    with central_server.client() as http:
        order = http.get("/v1/orders/ORD-UI-1").json()
    assert order["status"] == "picked" and order["tote"] == "TOTE-0042"
    assert [line["picked"] for line in order["lines"]] == [2, 1]
