"""HID keyboard-mode scanner: key decoding and the reader over a pipe of input_event records."""

from __future__ import annotations

import os
import threading

import pytest
from evdev import InputEvent, ecodes
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.barcodes import ScanKind
from devices.errors import DeviceError
from devices.scanner import LinkState, open_scanner
from devices.scanner.hid import INPUT_EVENT, HidScanner, RawEventSource
from devices.scanner.keymap import CHAR_KEYS, HidKeyDecoder
from tests.support.waiting import wait_until


def key_events(text: str, enter: int = ecodes.KEY_ENTER) -> list[InputEvent]:
    """The events a keyboard-mode scanner sends to type ``text`` and Enter."""
    events: list[InputEvent] = []

    def key(code: int, value: int) -> None:
        events.append(InputEvent(1, 0, ecodes.EV_MSC, ecodes.MSC_SCAN, 458756))
        events.append(InputEvent(1, 0, ecodes.EV_KEY, code, value))
        events.append(InputEvent(1, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))

    for char in text:
        code, shifted = CHAR_KEYS[char]
        if shifted:
            key(ecodes.KEY_LEFTSHIFT, 1)
        key(code, 1)
        key(code, 0)
        if shifted:
            key(ecodes.KEY_LEFTSHIFT, 0)
    key(enter, 1)
    key(enter, 0)
    return events


def feed_all(decoder: HidKeyDecoder, events: list[InputEvent]) -> list[str]:
    out = []
    for event in events:
        code = decoder.feed(event.type, event.code, event.value)
        if code is not None:
            out.append(code)
    return out


def test_decodes_letters_digits_and_shifted_punctuation():
    decoder = HidKeyDecoder()
    text = "(01)04006381333931 LOC-A03/12.2 Tote_#!"
    assert feed_all(decoder, key_events(text)) == [text]


def test_keypad_enter_and_right_shift_and_keypad_digits():
    decoder = HidKeyDecoder()
    events = [
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_RIGHTSHIFT, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_T, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_RIGHTSHIFT, 0),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_KP4, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_KP2, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_KP2, 2),  # autorepeat is ignored
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_KPENTER, 1),
    ]
    assert feed_all(decoder, events) == ["T42"]


def test_ctrl_right_bracket_types_gs_and_unknown_keys_are_counted():
    decoder = HidKeyDecoder()
    events = [
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_LEFTCTRL, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_RIGHTBRACE, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_LEFTCTRL, 0),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_F5, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_1, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_ENTER, 1),
        InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_ENTER, 1),  # empty code: nothing
    ]
    assert feed_all(decoder, events) == ["\x1d1"]
    assert decoder.ignored_keys == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 800), st.integers(-3, 3))))
def test_random_events_never_raise(events):
    decoder = HidKeyDecoder(max_code=64)
    for event_type, code, value in events:
        out = decoder.feed(event_type, code, value)
        assert out is None or 0 < len(out) <= 64


class PipeDevice:
    """A stand-in for /dev/input/eventN: a pipe carrying raw ``struct input_event``."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    def source(self) -> RawEventSource:
        return RawEventSource(self.read_fd)

    def type(self, text: str, split: int = 0) -> None:
        raw = b"".join(
            INPUT_EVENT.pack(e.sec, e.usec, e.type, e.code, e.value) for e in key_events(text)
        )
        if split:  # records split mid-struct across writes must still parse
            os.write(self.write_fd, raw[:split])
            os.write(self.write_fd, raw[split:])
        else:
            os.write(self.write_fd, raw)

    def unplug(self) -> None:
        os.close(self.write_fd)


def test_reader_over_a_pipe_of_input_events_and_reconnect():
    devices = [PipeDevice(), PipeDevice()]
    opened: list[PipeDevice] = []
    lock = threading.Lock()

    def opener() -> RawEventSource:
        with lock:
            if len(opened) == len(devices):
                raise OSError(19, "No such device")
            device = devices[len(opened)]
            opened.append(device)
        return device.source()

    scanner = HidScanner("/dev/input/by-id/usb-test-event-kbd", opener=opener, device_id="dock-1")
    try:
        devices[0].type("TOTE-0042", split=37)
        scan = scanner.read(timeout=5)
        assert scan is not None
        assert (scan.kind, scan.data, scan.device) == (
            ScanKind.TOTE,
            {"tote": "TOTE-0042"},
            "dock-1",
        )
        devices[0].unplug()  # EOF: the device went away
        wait_until(lambda: scanner.status.reconnects == 1, 10, what="reconnect")
        devices[1].type("(01)04006381333931(17)270300")
        scan = scanner.read(timeout=5)
        assert scan is not None
        assert scan.data == {"gtin": "04006381333931", "expiry": "2027-03-31"}
        assert scanner.status.state is LinkState.CONNECTED
    finally:
        scanner.close()
        for device in devices:
            for fd in (device.write_fd,):
                try:
                    os.close(fd)
                except OSError:
                    pass


def test_missing_evdev_device_is_a_device_error(tmp_path):
    with pytest.raises(DeviceError, match="cannot open"):
        open_scanner(f"evdev://{tmp_path}/usb-none-event-kbd")
