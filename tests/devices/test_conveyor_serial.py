"""The serial conveyor adapter against the simulated controller over a real pty."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.conveyor import (
    ConveyorError,
    ConveyorEvent,
    EventType,
    open_conveyor,
)
from devices.conveyor.protocol import Div
from devices.conveyor.serial import SerialConveyor
from devices.conveyor.sim import ConveyorSim
from devices.errors import DeviceURLError
from tests.support.waiting import wait_until


class Recorder:
    """Collects events from the I/O thread for the test to wait on."""

    def __init__(self) -> None:
        self.events: list[ConveyorEvent] = []
        self.lock = threading.Lock()

    def __call__(self, event: ConveyorEvent) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: EventType) -> list[ConveyorEvent]:
        with self.lock:
            return [e for e in self.events if e.type == kind]

    def wait(self, kind: EventType, count: int = 1, timeout: float = 5.0) -> ConveyorEvent:
        return wait_until(
            lambda: len(self.of(kind)) >= count and self.of(kind)[count - 1],
            timeout=timeout,
            what=f"{count} x {kind} (saw {[e.type.value for e in self.events]})",
        )


@pytest.fixture
def sim() -> Iterator[ConveyorSim]:
    with ConveyorSim(lanes=3, speed_m_s=1.0, gate_spacing_m=0.5, recirculation_s=0.3) as sim:
        yield sim


def test_induction_callback_diverts_and_tote_reaches_its_lane(sim: ConveyorSim) -> None:
    lanes = {"TOTE-0042": 2}
    recorder = Recorder()
    with open_conveyor(f"serial://{sim.path}?heartbeat=2&ack_timeout=0.5") as conveyor:

        def sort(event: ConveyorEvent) -> None:
            if event.type == "inducted" and event.tote:
                conveyor.divert(event.tote, lanes[event.tote])

        conveyor.on_event(sort)
        conveyor.on_event(recorder)
        sim.induct("TOTE-0042")
        done = recorder.wait(EventType.DIVERTED)
        assert (done.tote, done.lane) == ("TOTE-0042", 2)
        ack = recorder.of(EventType.ACK)[0]
        assert (ack.tote, ack.lane, ack.seq) == ("TOTE-0042", 2, done.seq)
        types = [e.type for e in recorder.events if e.type != EventType.RECONNECTED]
        assert types == [EventType.INDUCTED, EventType.ACK, EventType.DIVERTED]
        # events() hands out the same events, in order.
        assert conveyor.events(timeout=1) == recorder.events[0]
        status = conveyor.status
        assert status.connected and status.pending == 0 and status.retransmits == 0
        assert status.last_heartbeat is not None
    assert [f for f in sim.received if isinstance(f, Div)] == [Div(done.seq or 0, "TOTE-0042", 2)]


def test_lost_div_is_retransmitted_with_the_same_seq(sim: ConveyorSim) -> None:
    recorder = Recorder()
    with SerialConveyor(sim.path, ack_timeout=0.3, retries=3, heartbeat=5) as conveyor:
        conveyor.on_event(recorder)
        wait_until(lambda: conveyor.status.last_heartbeat, what="first HB")
        sim.induct("TOTE-7")
        recorder.wait(EventType.INDUCTED)
        sim.drop_next(1)
        seq = conveyor.divert("TOTE-7", 3)
        done = recorder.wait(EventType.DIVERTED)
        assert (done.seq, done.lane) == (seq, 3)
        assert conveyor.status.retransmits == 1
    assert [f for f in sim.received if isinstance(f, Div)] == [Div(seq, "TOTE-7", 3)] * 2


def test_divert_never_acked_is_reported_after_retries(sim: ConveyorSim) -> None:
    recorder = Recorder()
    with SerialConveyor(sim.path, ack_timeout=0.05, retries=2, heartbeat=5) as conveyor:
        conveyor.on_event(recorder)
        wait_until(lambda: conveyor.status.last_heartbeat, what="first HB")
        sim.induct("TOTE-8")
        sim.drop_next(3)
        seq = conveyor.divert("TOTE-8", 1)
        failed = recorder.wait(EventType.NAK)
        assert (failed.seq, failed.code, failed.tote) == (seq, "no_ack", "TOTE-8")
        assert "3 sends" in (failed.text or "")
        assert conveyor.status.retransmits == 2 and conveyor.status.pending == 0


def test_controller_nak_is_reported(sim: ConveyorSim) -> None:
    recorder = Recorder()
    with SerialConveyor(sim.path, heartbeat=5) as conveyor:
        conveyor.on_event(recorder)
        sim.induct("TOTE-5")
        seq = conveyor.divert("TOTE-5", 9)
        nak = recorder.wait(EventType.NAK)
        assert (nak.seq, nak.code, nak.lane) == (seq, "rejected", 9)
        assert "lane 9" in (nak.text or "")
        assert conveyor.status.naks == 1


def test_late_divert_is_missed_and_tote_comes_round_again(sim: ConveyorSim) -> None:
    recorder = Recorder()
    with SerialConveyor(sim.path, heartbeat=5) as conveyor:
        conveyor.on_event(recorder)
        sim.induct("TOTE-6")
        wait_until(lambda: (sim.position_m("TOTE-6") or 0) > 0.6, what="tote past gate 1")
        conveyor.divert("TOTE-6", 1)
        missed = recorder.wait(EventType.MISSED)
        assert (missed.tote, missed.lane) == ("TOTE-6", 1)
        again = recorder.wait(EventType.INDUCTED, count=2)
        assert again.tote == "TOTE-6"


def test_fault_and_garbage_reach_the_host(sim: ConveyorSim) -> None:
    recorder = Recorder()
    with SerialConveyor(sim.path, heartbeat=5) as conveyor:
        conveyor.on_event(recorder)
        sim.garbage(b"\x00\x07zzz|*\r\nDIV|1|T|1*00\r\n")
        sim.inject_fault("E42", "motor hot")
        fault = recorder.wait(EventType.FAULT)
        assert (fault.code, fault.text) == ("E42", "motor hot")
        assert conveyor.status.garbage == 2


def test_device_vanishes_and_reappears_at_the_same_path(tmp_path: Path) -> None:
    link = tmp_path / "conveyor"
    first = ConveyorSim(lanes=2, speed_m_s=1.0).start()
    link.symlink_to(first.path)
    recorder = Recorder()
    with SerialConveyor(str(link), heartbeat=1.0, backoff_max=0.1) as conveyor:
        conveyor.on_event(recorder)
        wait_until(lambda: conveyor.status.last_heartbeat, what="first HB")
        first.stop()
        lost = recorder.wait(EventType.HEARTBEAT_LOST)
        wait_until(lambda: not conveyor.status.connected, what="link down")
        with pytest.raises(ConveyorError, match="not connected"):
            conveyor.divert("TOTE-1", 1)
        with ConveyorSim(lanes=2, speed_m_s=1.0) as second:
            fresh = tmp_path / "conveyor.new"
            fresh.symlink_to(second.path)
            os.replace(fresh, link)
            recorder.wait(EventType.RECONNECTED)
            second.induct("TOTE-2")
            assert recorder.wait(EventType.INDUCTED).tote == "TOTE-2"
            conveyor.divert("TOTE-2", 2)
            assert recorder.wait(EventType.DIVERTED).lane == 2
            assert conveyor.status.reconnects >= 1
    assert lost.text


def test_silent_controller_is_noticed_and_reopened(sim: ConveyorSim) -> None:
    recorder = Recorder()
    with SerialConveyor(sim.path, heartbeat=0.6, backoff_max=0.1) as conveyor:
        conveyor.on_event(recorder)
        wait_until(lambda: conveyor.status.last_heartbeat, what="first HB")
        sim.mute(True)
        lost = recorder.wait(EventType.HEARTBEAT_LOST)
        assert "no heartbeat" in (lost.text or "")
        sim.mute(False)
        recorder.wait(EventType.RECONNECTED)
        wait_until(lambda: conveyor.status.connected, what="connected")


def test_bad_tote_changes_nothing_and_bad_urls_are_named(sim: ConveyorSim) -> None:
    with SerialConveyor(sim.path, heartbeat=5) as conveyor:
        with pytest.raises(ConveyorError, match=r"TOTE\|1"):
            conveyor.divert("TOTE|1", 1)
        assert conveyor.status.pending == 0
    with pytest.raises(ConveyorError, match="/dev/nonexistent-conveyor"):
        open_conveyor("serial:///dev/nonexistent-conveyor")
    with pytest.raises(DeviceURLError, match="ack_timeout"):
        open_conveyor(f"serial://{sim.path}?ack_timeout=soon")
    with pytest.raises(DeviceURLError, match="unknown backend"):
        open_conveyor("usb://1234:5678")
