"""Conveyor frame codec (DESIGN.md §4.4): byte for byte, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    checksum,
    encode,
)
from devices.errors import DeviceError


def test_checksum_is_xor_of_bytes_before_star() -> None:
    body = b"DIV|12|TOTE-0042|3"
    expected = 0
    for byte in body:
        expected ^= byte
    assert checksum(body) == expected
    assert encode(Div(12, "TOTE-0042", 3)) == body + b"*%02X\r\n" % expected


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (Div(12, "TOTE-0042", 3), b"DIV|12|TOTE-0042|3*36\r\n"),
        (Ping(7), b"PING|7*5B\r\n"),
        (Ack(12), b"ACK|12*36\r\n"),
        (Nak(12, "no lane 9"), b"NAK|12|no lane 9*79\r\n"),
        (Ind(5, "TOTE-0042"), b"IND|5|TOTE-0042*57\r\n"),
        (Done(12, "TOTE-0042", 3), b"DONE|12|TOTE-0042|3*6D\r\n"),
        (Miss("TOTE-0042", 0), b"MISS|TOTE-0042|0*15\r\n"),
        (Flt("JAM", "belt stopped"), b"FLT|JAM|belt stopped*4E\r\n"),
        (Hb(1), b"HB|1*47\r\n"),
    ],
)  # checksums computed independently with functools.reduce(operator.xor, body)
def test_encode_and_decode_byte_for_byte(frame: Frame, wire: bytes) -> None:
    assert encode(frame) == wire
    reader = FrameReader()
    assert reader.feed(wire) == [frame]
    assert reader.dropped == 0


def test_lowercase_checksum_and_bare_lf_are_accepted() -> None:
    assert FrameReader().feed(b"DIV|12|TOTE-0042|3*36\n") == [Div(12, "TOTE-0042", 3)]
    assert FrameReader().feed(b"NAK|1|x*" + b"%02x" % checksum(b"NAK|1|x") + b"\r\n") == [
        Nak(1, "x")
    ]


@pytest.mark.parametrize(
    "frame",
    [
        Div(1, "TOTE|1", 2),
        Div(1, "TOTE*1", 2),
        Div(1, "TOTE\r\n", 2),
        Div(1, "", 2),
        Div(1, "TOTE 1", 2),
        Div(1, "TÖTE", 2),
        Div(-1, "TOTE-1", 2),
        Div(1, "TOTE-1", 1000),
        Nak(1, "bad|reason"),
        Flt("", "x"),
    ],
)
def test_encode_rejects_fields_that_cannot_travel(frame: Frame) -> None:
    with pytest.raises(ConveyorError) as caught:
        encode(frame)
    assert isinstance(caught.value, DeviceError)


@pytest.mark.parametrize(
    ("line", "counter"),
    [
        (b"hello world\r\n", "garbage"),
        (b"\x00\xff\xfe*ZZ\r\n", "garbage"),
        (b"DIV|12|TOTE-0042|3*37\r\n", "bad_checksum"),
        (b"FOO|1*" + b"%02X" % checksum(b"FOO|1") + b"\r\n", "unknown_type"),
        (b"ACK|1|2*" + b"%02X" % checksum(b"ACK|1|2") + b"\r\n", "bad_fields"),
        (b"ACK|x*" + b"%02X" % checksum(b"ACK|x") + b"\r\n", "bad_fields"),
        (b"ACK|-1*" + b"%02X" % checksum(b"ACK|-1") + b"\r\n", "bad_fields"),
        (b"A" * 300 + b"\r\n", "overlong"),
    ],
)
def test_bad_lines_are_dropped_and_counted(line: bytes, counter: str) -> None:
    reader = FrameReader()
    assert reader.feed(line + encode(Hb(3))) == [Hb(3)]
    assert reader.counts[counter] == 1
    assert reader.dropped == 1


def test_overlong_line_keeps_memory_bounded_and_resyncs() -> None:
    reader = FrameReader(max_line=64)
    for _ in range(100):
        assert reader.feed(b"X" * 1000) == []
        assert len(reader._buffer) <= 64
    assert reader.feed(b"tail\r\n" + encode(Ack(9))) == [Ack(9)]
    assert reader.counts["overlong"] == 1


def test_frame_split_across_feeds_and_garbage_glued_in_front() -> None:
    reader = FrameReader()
    wire = encode(Done(4, "TOTE-7", 2))
    assert reader.feed(b"\x00\x13noise" + wire[:6]) == []
    assert reader.feed(wire[6:]) == [Done(4, "TOTE-7", 2)]
    assert reader.counts["garbage"] == 1


totes = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="|*"),
    min_size=1,
    max_size=64,
)
texts = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|*"),
    max_size=120,
)
seqs = st.integers(min_value=0, max_value=2**32 - 1)
lanes = st.integers(min_value=0, max_value=999)
frames = st.one_of(
    st.builds(Div, seqs, totes, lanes),
    st.builds(Ping, seqs),
    st.builds(Ack, seqs),
    st.builds(Nak, seqs, texts),
    st.builds(Ind, seqs, totes),
    st.builds(Done, seqs, totes, lanes),
    st.builds(Miss, totes, lanes),
    st.builds(Flt, totes, texts),
    st.builds(Hb, seqs),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=600), max_size=8))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    reader = FrameReader()
    for chunk in chunks:
        reader.feed(chunk)
    assert len(reader._buffer) <= reader.max_line


@settings(max_examples=150, deadline=None)
@given(st.lists(frames, max_size=10), st.integers(min_value=1, max_value=17))
def test_round_trip_in_any_chunking(sent: list[Frame], chunk: int) -> None:
    wire = b"".join(encode(frame) for frame in sent)
    reader = FrameReader()
    got: list[Frame] = []
    for start in range(0, len(wire), chunk):
        got += reader.feed(wire[start : start + chunk])
    assert got == sent
    assert reader.dropped == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(frames, st.binary(max_size=40)), max_size=8))
def test_valid_frames_survive_interleaved_garbage(pairs: list[tuple[Frame, bytes]]) -> None:
    wire = b""
    for frame, noise in pairs:
        # Noise without '*' can never pass for a frame; it ends with a line end or not.
        wire += noise.replace(b"*", b"") + encode(frame)
    assert FrameReader().feed(wire) == [frame for frame, _ in pairs]
