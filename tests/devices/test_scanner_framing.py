"""Scanner framing, byte for byte (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import DeviceURLError
from devices.scanner.framing import FrameDecoder, Framing


def test_cr_frames_split_across_reads():
    decoder = FrameDecoder(Framing("CR"))
    assert decoder.feed(b"TOTE-00") == []
    assert decoder.feed(b"42\rLOC-A1\rORD") == [("TOTE-0042", None), ("LOC-A1", None)]
    assert decoder.feed(b"-7\r") == [("ORD-7", None)]
    assert decoder.stats.frames == 3
    assert decoder.stats.garbage_bytes == 0


@pytest.mark.parametrize(
    ("suffix", "wire"),
    [
        ("CR", b"A1\rB2\r"),
        ("LF", b"A1\nB2\n"),
        ("CRLF", b"A1\r\nB2\r\n"),
        ("TAB", b"A1\tB2\t"),
    ],
)
def test_each_suffix(suffix, wire):
    assert FrameDecoder(Framing(suffix)).feed(wire) == [("A1", None), ("B2", None)]


def test_crlf_split_between_cr_and_lf():
    decoder = FrameDecoder(Framing("CRLF"))
    assert decoder.feed(b"A1\r") == []
    assert decoder.feed(b"\nB2\r\n") == [("A1", None), ("B2", None)]


def test_stray_lf_after_cr_is_ignored_not_counted():
    decoder = FrameDecoder(Framing("CR"))
    assert decoder.feed(b"A1\r\nB2\r\n") == [("A1", None), ("B2", None)]
    assert decoder.stats.garbage_bytes == 0


def test_prefix_and_aim_id_are_stripped():
    decoder = FrameDecoder(Framing("CR", prefix="@", aim=True))
    wire = b"@]C1\x1d0104006381333931\r@]d2TOTE-1\r@]Q3LOC-A\r@]E04006381333931\r"
    assert decoder.feed(wire) == [
        ("\x1d0104006381333931", "]C1"),  # GS (FNC1) survives: GS1 needs it
        ("TOTE-1", "]d2"),
        ("LOC-A", "]Q3"),
        ("4006381333931", "]E0"),
    ]


def test_aim_id_left_alone_when_not_configured():
    assert FrameDecoder(Framing("CR")).feed(b"]C1ABC\r") == [("]C1ABC", None)]


def test_garbage_bytes_are_dropped_and_counted():
    decoder = FrameDecoder(Framing("CR"))
    assert decoder.feed(b"\x00TO\xffTE-\x07 42\r") == [("TOTE- 42", None)]
    assert decoder.stats.garbage_bytes == 3
    assert decoder.feed(b"\x00\x01\r\r") == []  # a frame of only noise is no code
    assert decoder.stats.empty_frames == 2


def test_oversize_line_is_dropped_and_the_buffer_stays_bounded():
    decoder = FrameDecoder(Framing("CR"), max_line=1024)
    for _ in range(50):
        assert decoder.feed(b"X" * 1000) == []
        assert decoder.pending <= 2048
    assert decoder.feed(b"tail-of-noise\rTOTE-9\r") == [("TOTE-9", None)]
    assert decoder.stats.oversize_lines == 1
    assert decoder.stats.garbage_bytes >= 50_000


def test_encode_is_the_inverse_of_decode():
    framing = Framing("CRLF", prefix="#", aim=True)
    assert framing.encode("TOTE-1", "]d2") == b"#]d2TOTE-1\r\n"
    assert FrameDecoder(framing).feed(framing.encode("TOTE-1", "]d2")) == [("TOTE-1", "]d2")]


def test_unknown_suffix_is_a_clear_error():
    with pytest.raises(DeviceURLError, match="suffix 'NUL' unknown"):
        Framing("NUL")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_random_bytes_never_raise(chunks):
    decoder = FrameDecoder(Framing("CR", aim=True), max_line=512)
    for chunk in chunks:
        for code, _aim in decoder.feed(chunk):
            assert code.isprintable() or "\x1d" in code
    assert decoder.pending <= 512 + 300


_codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=20)
_noise = st.binary(max_size=20).map(lambda b: bytes(x for x in b if x not in b"\r"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_codes, _noise), min_size=1, max_size=15), st.integers(1, 7))
def test_valid_frames_interleaved_with_garbage_still_come_out(pairs, chunk):
    # Garbage sits in its own CR-terminated line between real frames.
    wire = b"".join(noise + b"\r" + code.encode() + b"\r" for code, noise in pairs)
    decoder = FrameDecoder(Framing("CR"))
    out = []
    for start in range(0, len(wire), chunk):
        out += decoder.feed(wire[start : start + chunk])
    codes = [code for code, _ in out]
    expected = [code for code, _ in pairs]
    # Every real code comes out, in order; printable noise may add frames between them.
    iterator = iter(codes)
    assert all(any(got == want for got in iterator) for want in expected)
