"""The printer simulator in-process and as `rushline sim printer`."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devices.printer import open_printer
from devices.printer.labels import (
    PackingSlip,
    ShippingLabel,
    SlipLine,
    render_packing_slip,
    render_shipping_label,
)
from devices.printer.sim import PrinterSim
from devices.printer.status import QUERY_PAPER, QUERY_PRINTER
from tests.support.waiting import wait_until

LABEL = render_shipping_label(
    ShippingLabel(
        order_id="ORD-77",
        ship_to_name="Zoë Łukasz",
        address_lines=("Rua São Bento 1",),
        city="São Paulo",
        postcode="01010-000",
        country="BR",
        carrier="UPS",
        service="express",
        tracking="1ZTRACK77",
        tracking_url="https://track.example/1ZTRACK77",
        level="P1",
        weight_g=900,
        carton="S",
    )
)
SLIP = render_packing_slip(PackingSlip("ORD-77", (SlipLine("SKU-1", "Mug", 2),), "S", "P1"))


def test_stream_is_split_at_cuts_and_at_close(tmp_path: Path) -> None:
    with PrinterSim("127.0.0.1", 0, tmp_path) as sim:
        with socket.create_connection(sim.address) as conn:
            # status queries between jobs are answered and are no part of any job
            conn.sendall(QUERY_PRINTER + LABEL + QUERY_PAPER + SLIP + b"\x1b@tail text\n")
            assert conn.recv(1) == b"\x12"
            assert conn.recv(1) == b"\x12"
        wait_until(lambda: len(sim.jobs) == 3, what="three jobs")
    assert [j.name for j in sim.jobs] == ["0001-ORD-77-shipping", "0002-ORD-77-slip", "0003-job"]
    assert [j.data for j in sim.jobs] == [LABEL, SLIP, b"\x1b@tail text\n"]
    txt = (tmp_path / "0001-ORD-77-shipping.txt").read_text(encoding="utf-8")
    assert "Zoë Łukasz" in txt and "São Paulo" in txt
    assert "[BARCODE CODE128] 1ZTRACK77" in txt
    assert "[QR] https://track.example/1ZTRACK77" in txt
    assert "[INVERTED] URGENT P1" in txt
    assert (tmp_path / "0002-ORD-77-slip.bin").read_bytes() == SLIP


def test_numbering_continues_in_the_same_folder(tmp_path: Path) -> None:
    for _ in range(2):
        with PrinterSim("127.0.0.1", 0, tmp_path) as sim, open_printer(sim.url) as printer:
            printer.send(SLIP)
    assert sorted(p.name for p in tmp_path.glob("*.bin")) == [
        "0001-ORD-77-slip.bin",
        "0002-ORD-77-slip.bin",
    ]


def test_a_job_split_across_many_writes_is_one_job(tmp_path: Path) -> None:
    with PrinterSim("127.0.0.1", 0, tmp_path) as sim:
        with socket.create_connection(sim.address) as conn:
            for i in range(0, len(LABEL), 7):
                conn.sendall(LABEL[i : i + 7])
            conn.sendall(QUERY_PRINTER)
            assert conn.recv(1) == b"\x12"
        assert [j.data for j in sim.jobs] == [LABEL]


def test_cycle_paper() -> None:
    sim = PrinterSim(port=0, out_dir="unused")
    assert [sim.cycle_paper().value for _ in range(3)] == ["low", "out", "ok"]


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rushline.cli", "sim", "printer", *args]


def test_command_prints_address_writes_jobs_and_stops_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    proc = subprocess.Popen(
        _cli("--port", "0", "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _lines(proc)
        address = lines.get(timeout=20)
        host, _, port = address.partition(":")
        assert host == "127.0.0.1" and port.isdigit()
        with open_printer(f"tcp://{address}") as printer:
            printer.send(LABEL)
            assert lines.get(timeout=10) == "printed 0001-ORD-77-shipping"
            proc.send_signal(signal.SIGUSR1)
            assert lines.get(timeout=10) == "paper low"
            assert printer.status().paper.value == "low"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    assert (out / "0001-ORD-77-shipping.bin").read_bytes() == LABEL
    assert "[BARCODE CODE128] 1ZTRACK77" in (out / "0001-ORD-77-shipping.txt").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--port", "70000"), "--port 70000"), (("--paper", "maybe"), "invalid choice")],
)
def test_command_rejects_bad_arguments(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = subprocess.run(
        _cli("--out", str(tmp_path), *args), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_command_names_a_busy_port(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = subprocess.run(
            _cli("--port", str(port), "--out", str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ},
        )
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
