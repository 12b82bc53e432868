"""The real Kivy app rendered offscreen, driven by wedge key events in one subprocess
(Kivy runs one App and one window per process). Screenshots go to tests/screenshots/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.handheld_app.floor import seeded_store

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
        stderr=subprocess.PIPE,
        text=True,
    )


def steps_of(out: Path) -> dict[str, dict[str, Any]]:
    """The driver's recorded steps by name."""
    result = json.loads(out.read_text())
    assert result.get("finished"), result.get("error") or result
    return {step["name"]: step for step in result["steps"]}


def test_sign_in_and_pick_a_hot_order_offline(tmp_path: Path) -> None:
    seeded_store(tmp_path / "hh-01.db").close()
    config = write_config(tmp_path, "http://127.0.0.1:9", "unused")
    out = tmp_path / "result.json"
    proc = driver_process(config, out, SHOTS / "offline", "signin,reasons,pick", "--offline")
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr[-3000:]
    steps = steps_of(out)
    assert "not a badge" in steps["signin_refused"]["message"]
    assert steps["signin"]["ok"] and steps["signin"]["rows"] == 2
    assert "customer flag: medical" in steps["reasons"]["text"]
    assert steps["pick_opened"]["level"] == "P1"
    wrong = steps["wrong_item"]
    assert wrong["ok"] and wrong["message"] == "Wrong item SKU-CUP: take SKU-BAG here"
    picked = steps["picked"]
    assert picked["kinds"] == ["pick.confirmed", "pick.confirmed", "tote.assigned"]
    assert picked["message"] == "Task done: drop TOTE-0042 on the conveyor"
    assert picked["bar"].startswith("OFFLINE  |  3 to send")
    for name in ("01_signin", "06_wrong_item", "10_task_done"):
        assert (SHOTS / "offline" / f"{name}.png").stat().st_size > 1000
