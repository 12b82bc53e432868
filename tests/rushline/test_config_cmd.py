"""`rushline config check`: summary and exit 0 for a good site, one line and exit 2 else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.loader import default_site_path
from devices.printer.sim import PrinterSim
from rushline.cli import main
from tests.support.waiting import free_port


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


# --- agent and handheld settings files: validated, then each device opened once -------


class Pty:
    """A real pseudo-terminal: the scanner the settings file points at."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.url = f"serial://{os.ttyname(self.slave)}?baudrate=9600&suffix=CR"

    def close(self) -> None:
        for fd in (self.master, self.slave):
            os.close(fd)


@pytest.fixture
def scanner_pty() -> Iterator[Pty]:
    pair = Pty()
    yield pair
    pair.close()


@pytest.fixture
def printer_sim(tmp_path: Path) -> Iterator[PrinterSim]:
    sim = PrinterSim(port=0, out_dir=tmp_path / "printed")
    sim.start()
    yield sim
    sim.stop()


def agent_file(tmp_path: Path, role: str, devices: dict[str, str]) -> Path:
    lines = [
        "[device]",
        f'id = "{role}-1"',
        'site = "DE-FRA"',
        f'role = "{role}"',
        f'store = "{role}-1.db"',
        "[central]",
        'url = "http://127.0.0.1:8700"',
        'token = "t"',
        "[mqtt]",
        'password = "pw"',
        "[devices]",
        *(f'{kind} = "{url}"' for kind, url in devices.items()),
    ]
    path = tmp_path / f"{role}.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_agent_file_with_a_live_printer_and_scanner_is_ok(
    tmp_path: Path,
    scanner_pty: Pty,
    printer_sim: PrinterSim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = agent_file(tmp_path, "pack", {"scanner": scanner_pty.url, "printer": printer_sim.url})
    assert main(["config", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"pack agent pack-1 at site DE-FRA: {path}" in out
    assert f"scanner {scanner_pty.url}: ok" in out
    assert f"printer {printer_sim.url}: ok (online, paper ok)" in out
    assert "problem" not in out
    assert out.rstrip().endswith("config OK")
    assert not (tmp_path / "pack-1.db").exists()  # a check opens devices, not the store


def test_agent_file_with_an_unreachable_printer_names_it_and_exits_2(
    tmp_path: Path, scanner_pty: Pty, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"tcp://127.0.0.1:{free_port()}"
    path = agent_file(tmp_path, "dock", {"scanner": scanner_pty.url, "printer": dead})
    assert main(["config", "check", "--config", str(path), "--timeout", "1"]) == 2
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1
    assert problems[0].startswith(f"problem: printer {dead}: cannot connect")
    assert f"scanner {scanner_pty.url}: ok" in out  # the other device is still reported
    assert "config OK" not in out


def test_missing_scanner_device_and_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = "serial:///dev/rushline-no-such-tty"
    path = agent_file(tmp_path, "pack", {"scanner": gone, "printer": "dummy://"})
    assert main(["config", "check", "--config", str(path)]) == 2
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("problem:")] == [
        next(line for line in out.splitlines() if line.startswith(f"problem: scanner {gone}: "))
    ]
    bad = agent_file(tmp_path, "boss", {})
    assert main(["config", "check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[device] role: must be one of" in err[0]


def test_handheld_file_opens_its_scanner(
    tmp_path: Path, scanner_pty: Pty, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "handheld.toml"
    path.write_text(
        '[device]\nid = "handheld-1"\nsite = "DE-FRA"\nstore = "hh.db"\n'
        '[central]\nurl = "http://127.0.0.1:8700"\ntoken = "t"\n'
        f'[scanner]\nsource = "{scanner_pty.url}"\n',
        "utf-8",
    )
    assert main(["config", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "handheld handheld-1 at site DE-FRA" in out
    assert f"scanner {scanner_pty.url}: ok" in out
