"""The simulated conveyor controller, driven from a raw host end of a real pty."""

from __future__ import annotations

import os
import select
import time
import tty
from collections.abc import Callable, Iterator

import pytest

from devices.conveyor.protocol import (
    Ack,
    ConveyorError,
    Div,
    Done,
    Flt,
    Frame,
    FrameReader,
    Hb,
    Ind,
    Miss,
    Nak,
    Ping,
    encode,
)
from devices.conveyor.sim import ConveyorSim
from tests.support.waiting import wait_until


class RawHost:
    """The host end of the line, with no adapter in between: bytes in, frames out."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.reader = FrameReader()
        self.seen: list[Frame] = []

    def send(self, frame: Frame) -> None:
        os.write(self.fd, encode(frame))

    def wait_for(self, match: Callable[[Frame], bool], timeout: float = 5.0) -> Frame:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.seen:
                if match(frame):
                    self.seen.remove(frame)
                    return frame
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                self.seen += self.reader.feed(os.read(self.fd, 4096))
        raise TimeoutError(f"no matching frame; saw {self.seen}")

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def sim() -> Iterator[ConveyorSim]:
    with ConveyorSim(lanes=3, speed_m_s=2.0, gate_spacing_m=0.5, recirculation_s=0.2) as sim:
        yield sim


@pytest.fixture
def host(sim: ConveyorSim) -> Iterator[RawHost]:
    host = RawHost(sim.path)
    yield host
    host.close()


def test_ping_gets_heartbeat_with_same_seq(host: RawHost) -> None:
    host.send(Ping(41))
    assert host.wait_for(lambda f: isinstance(f, Hb) and f.seq == 41) == Hb(41)


def test_divert_in_time_acks_then_done_at_the_gate(sim: ConveyorSim, host: RawHost) -> None:
    sim.induct("TOTE-1")
    ind = host.wait_for(lambda f: isinstance(f, Ind))
    assert ind == Ind(1, "TOTE-1")
    sent_at = time.monotonic()
    host.send(Div(7, "TOTE-1", 2))
    host.send(Div(7, "TOTE-1", 2))  # the host retransmitted: same seq
    assert host.wait_for(lambda f: isinstance(f, Ack)) == Ack(7)
    assert host.wait_for(lambda f: isinstance(f, Ack)) == Ack(7)
    assert host.wait_for(lambda f: isinstance(f, Done)) == Done(7, "TOTE-1", 2)
    # Gate 2 is 1.0 m from induction at 2 m/s: about 0.5 s after the IND.
    assert time.monotonic() - sent_at > 0.3
    host.send(Ping(99))  # a barrier: everything the sim sent before HB 99 has arrived
    host.wait_for(lambda f: f == Hb(99))
    assert not [f for f in host.seen if isinstance(f, Done)]
    assert [f for f in sim.sent if isinstance(f, Done)] == [Done(7, "TOTE-1", 2)]
    assert "TOTE-1" not in sim.on_belt()


def test_undiverted_tote_is_missed_with_lane_0_and_recirculates(
    sim: ConveyorSim, host: RawHost
) -> None:
    sim.induct("TOTE-9")
    assert host.wait_for(lambda f: isinstance(f, Ind)) == Ind(1, "TOTE-9")
    assert host.wait_for(lambda f: isinstance(f, Miss)) == Miss("TOTE-9", 0)
    assert host.wait_for(lambda f: isinstance(f, Ind)) == Ind(2, "TOTE-9")


def test_divert_while_recirculating_applies_on_the_next_pass() -> None:
    with ConveyorSim(lanes=2, speed_m_s=4.0, gate_spacing_m=0.5, recirculation_s=0.5) as sim:
        host = RawHost(sim.path)
        try:
            sim.induct("TOTE-R")
            assert host.wait_for(lambda f: isinstance(f, Ind)) == Ind(1, "TOTE-R")
            assert host.wait_for(lambda f: isinstance(f, Miss)) == Miss("TOTE-R", 0)
            host.send(Div(11, "TOTE-R", 2))
            assert host.wait_for(lambda f: isinstance(f, Ack)) == Ack(11)
            assert host.wait_for(lambda f: isinstance(f, Ind)) == Ind(2, "TOTE-R")
            assert host.wait_for(lambda f: isinstance(f, Done)) == Done(11, "TOTE-R", 2)
        finally:
            host.close()


def test_late_divert_is_acked_and_missed(sim: ConveyorSim, host: RawHost) -> None:
    sim.induct("TOTE-2")
    host.wait_for(lambda f: isinstance(f, Ind))
    # Lane 1's gate is at 0.5 m, its window (0.05 s at 2 m/s) ends at 0.6 m.
    wait_until(lambda: (sim.position_m("TOTE-2") or 0) > 0.65, timeout=5)
    host.send(Div(3, "TOTE-2", 1))
    assert host.wait_for(lambda f: isinstance(f, Ack)) == Ack(3)
    assert host.wait_for(lambda f: isinstance(f, Miss)) == Miss("TOTE-2", 1)


def test_bad_lane_and_unknown_tote_are_nakked(sim: ConveyorSim, host: RawHost) -> None:
    sim.induct("TOTE-3")
    host.send(Div(1, "TOTE-3", 4))
    nak = host.wait_for(lambda f: isinstance(f, Nak))
    assert isinstance(nak, Nak) and nak.seq == 1 and "lane 4" in nak.reason
    host.send(Div(2, "TOTE-404", 1))
    nak = host.wait_for(lambda f: isinstance(f, Nak))
    assert isinstance(nak, Nak) and nak.seq == 2 and "TOTE-404" in nak.reason


def test_jam_reports_fault_and_holds_the_tote(sim: ConveyorSim, host: RawHost) -> None:
    sim.induct("TOTE-4")
    host.send(Div(5, "TOTE-4", 1))
    host.wait_for(lambda f: isinstance(f, Ack))
    started = time.monotonic()
    sim.jam(0.5)
    fault = host.wait_for(lambda f: isinstance(f, Flt))
    assert isinstance(fault, Flt) and fault.code == "JAM"
    assert host.wait_for(lambda f: isinstance(f, Done)) == Done(5, "TOTE-4", 1)
    assert time.monotonic() - started >= 0.45


def test_fault_garbage_and_bad_tote(sim: ConveyorSim, host: RawHost) -> None:
    sim.garbage(b"\x00\xffnoise\r\n")
    sim.inject_fault("E42", "motor hot")
    assert host.wait_for(lambda f: isinstance(f, Flt)) == Flt("E42", "motor hot")
    assert host.reader.counts["garbage"] == 1
    with pytest.raises(ConveyorError, match="TOTE 1"):
        sim.induct("TOTE 1")
    assert sim.on_belt() == []


def test_bad_geometry_is_refused() -> None:
    with pytest.raises(ConveyorError, match="3 distances"):
        ConveyorSim(lanes=3, induction_to_gate_m=[1.0, 2.0])
