"""Keyboard wedge: a scanner burst versus a person typing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.barcodes import Scan, ScanKind
from devices.scanner import TypedText, WedgeDecoder, WedgeTiming, open_scanner


def type_text(decoder, text: str, start: float, gap: float):
    t = start
    for char in text:
        decoder.feed_char(char, t)
        t += gap
    return decoder.feed_enter(t)


def test_fast_burst_is_a_scan():
    result = type_text(WedgeDecoder(device_id="hh-1"), "TOTE-0042", 100.0, 0.004)
    assert isinstance(result, Scan)
    assert (result.kind, result.data, result.device) == (
        ScanKind.TOTE,
        {"tote": "TOTE-0042"},
        "hh-1",
    )


def test_slow_typing_is_typed_text():
    assert type_text(WedgeDecoder(), "TOTE-0042", 0.0, 0.180) == TypedText("TOTE-0042")


def test_short_burst_is_typed_text_and_threshold_is_configurable():
    assert type_text(WedgeDecoder(), "12", 0.0, 0.001) == TypedText("12")
    relaxed = WedgeDecoder(WedgeTiming(max_gap=0.2, min_chars=2))
    assert isinstance(type_text(relaxed, "OP-7", 0.0, 0.150), Scan)


def test_backspace_marks_a_person_and_enter_alone_is_nothing():
    decoder = WedgeDecoder()
    decoder.feed_char("A", 0.0)
    decoder.feed_char("X", 0.001)
    decoder.feed_backspace(0.002)
    for i, char in enumerate("BCD"):
        decoder.feed_char(char, 0.003 + i * 0.001)
    assert decoder.feed_enter(0.01) == TypedText("ABCD")
    assert decoder.feed_enter(0.02) is None


def test_wedge_url_backend_queues_scans_only():
    with open_scanner("wedge://?max_gap_ms=30&min_chars=4", device_id="hh-2") as scanner:
        assert type_text(scanner, "slow", 0.0, 0.5) == TypedText("slow")
        burst = type_text(scanner, "LOC-A1", 1.0, 0.002)
        assert isinstance(burst, Scan)
        assert scanner.read(timeout=1) == burst
        assert scanner.read(timeout=0.01) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=3), st.floats(0, 1e6), st.booleans()), max_size=60))
def test_any_keystrokes_never_raise(strokes):
    decoder = WedgeDecoder()
    for text, t, enter in strokes:
        for char in text:
            decoder.feed_char(char, t)
        if enter:
            result = decoder.feed_enter(t)
            assert result is None or isinstance(result, Scan | TypedText)
