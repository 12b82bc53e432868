"""Simulated scanner: the ``sim://`` backend and ``rushline sim scanner`` on a real pty."""

from __future__ import annotations

import subprocess
import sys
import time

import serial

from devices.barcodes import ScanKind
from devices.scanner import Scanner, open_scanner


def test_sim_url_scripted_codes_and_push():
    with open_scanner("sim://?codes=TOTE-0042,LOC-A03-12-2", device_id="sorter-1") as scanner:
        assert isinstance(scanner, Scanner)
        first, second = scanner.read(0), scanner.read(0)
        assert first is not None and first.data == {"tote": "TOTE-0042"}
        assert second is not None and second.kind is ScanKind.LOCATION
        assert scanner.read(timeout=0.01) is None
        pushed = scanner.push("4006381333931")
        assert scanner.read(timeout=1) == pushed
        assert pushed.device == "sorter-1"


def _rushline(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rushline", "sim", "scanner", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_sim_scanner_command_types_the_file_into_its_pty(tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("TOTE-0042\n4006381333931\n\nLOC-A03-12-2\n", encoding="utf-8")
    proc = _rushline("--file", str(codes), "--suffix", "CRLF", "--delay", "0", "--linger", "5")
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/")
        with serial.Serial(path, 9600, timeout=0.1) as port:
            received = b""
            deadline = time.monotonic() + 10
            while received.count(b"\r\n") < 3 and time.monotonic() < deadline:
                received += port.read(64)
        assert received == b"TOTE-0042\r\n4006381333931\r\nLOC-A03-12-2\r\n"
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_sim_scanner_from_stdin_feeds_the_serial_backend():
    proc = _rushline("--delay", "0", "--linger", "5", stdin=subprocess.PIPE)
    try:
        path = proc.stdout.readline().strip()
        with open_scanner(f"serial://{path}?suffix=CR") as scanner:
            proc.stdin.write("OP-1007\nORD-77\n")
            proc.stdin.flush()
            scans = [scanner.read(timeout=10) for _ in range(2)]
        assert [s.data if s else None for s in scans] == [{"operator": "1007"}, {"order_id": "77"}]
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_sim_scanner_missing_file_is_one_line_error(tmp_path):
    proc = _rushline("--file", str(tmp_path / "nope.txt"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"rushline: error: {tmp_path / 'nope.txt'}: cannot read (No such file or directory)"
    ]
