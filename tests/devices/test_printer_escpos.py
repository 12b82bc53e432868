"""Printer backends by URL, over real sockets, files and a pseudo-terminal."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from devices.errors import DeviceError, DeviceURLError
from devices.printer import Paper, PrinterStatus, open_printer
from devices.printer.labels import PickLabel, render_pick_label
from devices.printer.sim import PrinterSim
from devices.printer.status import encode_status
from tests.support.waiting import free_port

JOB = render_pick_label(PickLabel("ORD-5", "TOTE-0005", "P1", 1))


@pytest.fixture
def sim(tmp_path: Path):
    printer = PrinterSim("127.0.0.1", 0, tmp_path / "out")
    printer.start()
    yield printer
    printer.stop()


def test_tcp_send_is_acknowledged_and_lands_whole(sim: PrinterSim) -> None:
    with open_printer(sim.url) as printer:
        printer.send(JOB)
        # send() returned only after the status query behind the job was answered,
        # and the sim answers it only after processing the job: no waiting needed.
        assert [job.data for job in sim.jobs] == [JOB]
    assert sim.jobs[0].bin_path.read_bytes() == JOB


def test_tcp_status_follows_the_printer(sim: PrinterSim) -> None:
    with open_printer(sim.url) as printer:
        assert printer.status() == PrinterStatus(online=True, paper=Paper.OK)
        sim.set_paper("low")
        assert printer.status() == PrinterStatus(online=True, paper=Paper.LOW)
        sim.set_paper("out")
        assert printer.status().paper is Paper.OUT
        sim.set_paper("ok")
        sim.set_online(False)
        assert printer.status() == PrinterStatus(online=False, paper=Paper.OK)


def test_unreachable_printer_is_offline_and_send_names_it() -> None:
    url = f"tcp://127.0.0.1:{free_port()}?timeout=0.5"
    with open_printer(url) as printer:
        assert printer.status().online is False
        with pytest.raises(DeviceError, match=r"tcp://127\.0\.0\.1:\d+"):
            printer.send(JOB)


def test_silent_printer_does_not_acknowledge() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    try:
        with open_printer(f"tcp://127.0.0.1:{port}?timeout=0.3") as printer:
            with pytest.raises(DeviceError, match="no status answer"):
                printer.send(JOB)
            assert printer.status().online is False
    finally:
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()


def test_dummy_and_file_backends(tmp_path: Path) -> None:
    with open_printer("dummy://") as printer:
        printer.send(JOB)
        assert printer.device.output == JOB
        assert printer.status().online is True
    target = tmp_path / "lp0"
    with open_printer(f"file://{target}") as printer:
        printer.send(JOB)
        printer.send(JOB)
    assert target.read_bytes() == JOB + JOB
    with open_printer(f"file://{tmp_path}/missing/lp0") as printer:
        assert printer.status().online is False
        with pytest.raises(DeviceError, match="missing/lp0"):
            printer.send(JOB)


def test_serial_backend_over_a_pseudo_terminal() -> None:
    master, slave = os.openpty()
    received = bytearray()

    def printer_side() -> None:
        # Collect the job; answer the DLE EOT 1 that follows it.
        while not received.endswith(b"\x10\x04\x01"):
            received.extend(os.read(master, 4096))
        os.write(master, encode_status(1, True, Paper.OK))

    thread = threading.Thread(target=printer_side, daemon=True)
    thread.start()
    try:
        url = f"serial://{os.ttyname(slave)}?baudrate=19200&timeout=2"
        with open_printer(url) as printer:
            printer.send(JOB)
        thread.join(5)
        assert bytes(received) == JOB + b"\x10\x04\x01"
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("lpt://x", "unknown backend"),
        ("usb://zz:01", "VID:PID"),
        ("tcp://:9100", "host"),
        ("tcp://h:9100?timeout=soon", "timeout"),
        ("serial://", "serial"),
        ("nothing", "not a device URL"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(DeviceURLError, match=message):
        open_printer(url)


def test_usb_without_library_is_a_device_error() -> None:
    try:
        import usb  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceError, match="usb://04b8:0202"):
            open_printer("usb://04b8:0202")
    else:
        pytest.skip("pyusb installed; no USB printer to talk to")


def test_unknown_profile_is_named() -> None:
    with pytest.raises(DeviceURLError, match="no-such"):
        open_printer("dummy://?profile=no-such")
