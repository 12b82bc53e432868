"""`rushline config check`: summary and exit 0 for a good site, one line and exit 2 else."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.loader import default_site_path
from rushline.cli import main


def test_check_default_site(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert "warehouses: 2 (DE-FRA, PL-WAW)" in out
    assert "skus: 200" in out
    assert "carrier services: 9, cartons: 5" in out
    assert "bins: 1600 (1440 pick" in out
    assert out.rstrip().endswith("config OK")


def test_check_bad_cutoff_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("site.toml", "masterdata.toml"):
        shutil.copy(default_site_path().parent / name, tmp_path / name)
    md = tmp_path / "masterdata.toml"
    md.write_text(md.read_text(encoding="utf-8").replace('"17:00"', '"25:00"', 1), "utf-8")
    assert main(["config", "check", "--config", str(tmp_path / "site.toml")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rushline: error: ")
    assert "masterdata.toml: carriers[0].cutoff: '25:00' is not a HH:MM time" in lines[0]
    assert "config OK" not in captured.out


def test_check_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "site.toml"
    bad.write_text('site_id = "DE-FRA"\nmasterdata = "masterdata.toml"\n[cartons\n', "utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "rushline", "config", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "site.toml: TOML syntax error" in proc.stderr
