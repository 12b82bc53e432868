"""Serial scanner backend over real pseudo-terminals."""

from __future__ import annotations

import os
import tty

import pytest

from devices.barcodes import ScanKind
from devices.errors import DeviceError, DeviceURLError
from devices.scanner import LinkState, open_scanner
from tests.support.waiting import wait_until


class Pty:
    """A pseudo-terminal pair; the test writes what a scanner would send to ``master``."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pty_pair():
    pair = Pty()
    yield pair
    pair.close()


def test_scans_arrive_decoded_with_aim_and_garbage_survives(pty_pair):
    url = f"serial://{pty_pair.path}?baudrate=9600&suffix=CR&aim=1"
    with open_scanner(url, device_id="pack-1") as scanner:
        assert scanner.status.state is LinkState.CONNECTED
        pty_pair.write(b"\x00\xfe\xff]C14006381333931\r")
        pty_pair.write(b"]Q3TOTE-0042\r\x1b[A garbage \x07\r]d2LOC-A03-12-2\r")
        first = scanner.read(timeout=5)
        assert first is not None
        assert (first.kind, first.data, first.symbology) == (
            ScanKind.GS1,
            {"gtin": "04006381333931"},
            "]C1",
        )
        assert first.device == "pack-1"
        second = scanner.read(timeout=5)
        assert second is not None and second.data == {"tote": "TOTE-0042"}
        third = scanner.read(timeout=5)  # the printable part of the garbage line
        assert third is not None and third.kind is ScanKind.UNKNOWN
        fourth = scanner.read(timeout=5)
        assert fourth is not None and fourth.data == {"code": "A03-12-2"}
        assert scanner.status.garbage_bytes == 5
    assert scanner.read(timeout=0.1) is None  # closed


def test_iteration_ends_on_close(pty_pair):
    scanner = open_scanner(f"serial://{pty_pair.path}?suffix=LF")
    pty_pair.write(b"ORD-1\nORD-2\n")
    got = []
    for scan in scanner:
        got.append(scan.data["order_id"])
        if len(got) == 2:
            scanner.close()
    assert got == ["1", "2"]


def test_read_times_out_with_none(pty_pair):
    with open_scanner(f"serial://{pty_pair.path}") as scanner:
        assert scanner.read(timeout=0.05) is None


def test_missing_device_is_a_device_error_naming_it(tmp_path):
    missing = tmp_path / "ttyUSB9"
    with pytest.raises(DeviceError, match="ttyUSB9: cannot open"):
        open_scanner(f"serial://{missing}")


def test_bad_url_options_are_clear_errors(pty_pair):
    with pytest.raises(DeviceURLError, match="suffix 'NUL' unknown"):
        open_scanner(f"serial://{pty_pair.path}?suffix=NUL")
    with pytest.raises(DeviceURLError, match="baudrate='fast' is not a whole number"):
        open_scanner(f"serial://{pty_pair.path}?baudrate=fast")
    with pytest.raises(DeviceURLError, match="aim='maybe' is not a yes/no"):
        open_scanner(f"serial://{pty_pair.path}?aim=maybe")
    with pytest.raises(DeviceURLError, match="no device path"):
        open_scanner("serial://")
    with pytest.raises(DeviceURLError, match="unknown backend 'usb'"):
        open_scanner("usb://1234:5678")


def test_unplug_and_replug_reconnects_and_delivers_from_the_new_device(tmp_path):
    link = tmp_path / "ttyUSB0"
    first = Pty()
    link.symlink_to(first.path)
    second: Pty | None = None
    scanner = open_scanner(f"serial://{link}")
    try:
        first.write(b"TOTE-0001\r")
        scan = scanner.read(timeout=5)
        assert scan is not None and scan.data == {"tote": "TOTE-0001"}

        # Unplug: the device node goes away and the port errors.
        link.unlink()
        first.close()
        wait_until(lambda: scanner.status.state is LinkState.RECONNECTING, 5, what="lost")
        assert scanner.read(timeout=0.2) is None

        # Replug: the same path exists again, on a new pty.
        second = Pty()
        link.symlink_to(second.path)
        wait_until(lambda: scanner.status.state is LinkState.CONNECTED, 10, what="reconnect")
        assert scanner.status.reconnects == 1
        second.write(b"TOTE-0002\r")
        scan = scanner.read(timeout=5)
        assert scan is not None and scan.data == {"tote": "TOTE-0002"}
    finally:
        scanner.close()
        first.close()
        if second is not None:
            second.close()


def test_waits_for_a_device_that_is_not_there_yet(tmp_path):
    link = tmp_path / "scanner"
    scanner = open_scanner(f"serial://{link}?wait=1")
    pair = Pty()
    try:
        assert scanner.status.state is LinkState.RECONNECTING
        link.symlink_to(pair.path)
        wait_until(lambda: scanner.status.state is LinkState.CONNECTED, 10, what="connect")
        pair.write(b"OP-7\r")
        scan = scanner.read(timeout=5)
        assert scan is not None and scan.data == {"operator": "7"}
    finally:
        scanner.close()
        pair.close()
