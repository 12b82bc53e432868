"""``rushline report`` as a subprocess: from a central database file and from a running
central server; tables on stdout, report.html with embedded chart images."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.clock import ManualClock
from central.settings import ServerSettings
from tests.central.conftest import NOW
from tests.central.test_reports import seed_floor_day
from tests.support.central import TEST_MASTERDATA
from tests.support.fixtures_central import CentralApp, start_central_app, stop_central_app

PNG = b"\x89PNG\r\n\x1a\n"


def rushline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "140"}
    env.pop("RUSHLINE_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "rushline", "report", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CentralApp, Path]]:
    """A central server over a database seeded through its API with a small floor day."""
    db = tmp_path_factory.mktemp("report") / "central.db"
    handle, server, thread = start_central_app(
        db, clock=ManualClock(NOW), settings=ServerSettings(reprioritise_seconds=0)
    )
    try:
        with handle.client() as http:
            http.post("/v1/masterdata", json=TEST_MASTERDATA).raise_for_status()
            seed_floor_day(handle, http)
        yield handle, db
    finally:
        stop_central_app(handle, server, thread)


def charts_in(page: Path) -> list[bytes]:
    images = re.findall(r'<img alt="[^"]+" src="data:image/png;base64,([^"]+)"', page.read_text())
    return [base64.b64decode(i) for i in images]


def test_report_from_database_file(seeded: tuple[CentralApp, Path], tmp_path: Path) -> None:
    _, db = seeded
    out = tmp_path / "out"
    result = rushline("--db", f"sqlite:///{db}", "--out", str(out), "--png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for words in (
        "Orders: 2",
        "Stage durations",
        "Bottleneck:",
        "ship (packed -> shipped)",
        "dhl-express",
        "HH-1",
        "OP-7",
    ):
        assert words in result.stdout
    assert f"report written to {out / 'report.html'}" in result.stdout
    charts = charts_in(out / "report.html")
    assert len(charts) == 5 and all(c.startswith(PNG) and len(c) > 5000 for c in charts)
    assert sorted(p.name for p in out.glob("*.png")) == [
        "on-time.png",
        "stage-spread.png",
        "stage-time.png",
        "status.png",
        "throughput.png",
    ]


def test_report_from_running_server(seeded: tuple[CentralApp, Path], tmp_path: Path) -> None:
    app, _ = seeded
    result = rushline(
        "--url", app.url, "--token", app.admin_token, "--json", "--out", str(tmp_path), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert '"bottleneck"' in result.stdout and '"stage": "ship"' in result.stdout
    assert len(charts_in(tmp_path / "report.html")) == 5


def test_user_mistakes_are_one_line(seeded: tuple[CentralApp, Path], tmp_path: Path) -> None:
    app, _ = seeded
    missing = rushline("--db", str(tmp_path / "nope.db"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"rushline: error: {tmp_path / 'nope.db'}: no such database file"
    ]
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "report.html").exists()
    refused = rushline("--url", app.url, "--token", "wrong", cwd=tmp_path)
    assert refused.returncode == 2 and "token refused (401)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_empty_report_renders_placeholders(tmp_path: Path) -> None:
    """A database with no orders yet still gives a page: every chart says what is missing."""
    from domain.analytics import summarise
    from rushline.report import write_html
    from rushline.report.html import render_html

    summary = summarise([], [], now=NOW).to_dict()
    page = write_html(summary, tmp_path)
    charts = charts_in(page)
    assert len(charts) == 5 and all(c.startswith(PNG) for c in charts)
    text = render_html(summary, [])
    assert "no deliveries recorded yet" in text and "2026-11-25 08:00 UTC" in text
    assert "<script" not in text


def test_names_from_devices_are_escaped() -> None:
    from domain.analytics import summarise
    from rushline.report.html import render_html

    work = [("<script>alert(1)</script>", "pick.confirmed", "OP-<b>", 1, 1, 0.0, 0.0)]
    text = render_html(summarise([], [], work=work, now=NOW).to_dict(), [])
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "OP-&lt;b&gt;" in text
