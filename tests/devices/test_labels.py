"""Label rendering, byte for byte."""

from __future__ import annotations

import logging
import re

import pytest

from devices.printer.labels import (
    LabelError,
    PackingSlip,
    PickLabel,
    ShippingLabel,
    SlipLine,
    render_packing_slip,
    render_pick_label,
    render_shipping_label,
)
from devices.printer.text import clean_text, printable_text

GS, ESC = b"\x1d", b"\x1b"
INVERT_ON = GS + b"B\x01"
TRACKING = "1Z999AA10123456784"
URL = "https://track.example/1Z999AA10123456784"


def label(**changes: object) -> ShippingLabel:
    fields: dict[str, object] = dict(
        order_id="ORD-1001",
        ship_to_name="Anna Müller",
        address_lines=("ul. Piotrkowska 5",),
        city="Łódź",
        postcode="90-001",
        country="PL",
        carrier="DHL",
        service="express",
        tracking=TRACKING,
        tracking_url=URL,
        level="P1",
        weight_g=1250,
        carton="M",
    )
    fields.update(changes)
    return ShippingLabel(**fields)  # type: ignore[arg-type]


def test_tracking_number_is_a_code128_barcode_and_text() -> None:
    job = render_shipping_label(label())
    data = b"{B" + TRACKING.encode()
    # GS k 73 (CODE128, function B) n data
    assert GS + b"kI" + bytes([len(data)]) + data in job
    assert b"TRACKING " + TRACKING.encode() + b"\n" in job


def test_qr_store_command_carries_the_tracking_url() -> None:
    job = render_shipping_label(label())
    body = b"1P0" + URL.encode()
    size = len(body)
    assert GS + b"(k" + bytes([size & 0xFF, size >> 8]) + body in job
    assert GS + b"(k\x03\x001Q0" in job  # print the stored symbol


@pytest.mark.parametrize(
    ("level", "inverted"), [("P1", True), ("P2", True), ("P3", False), ("P4", False)]
)
def test_urgent_banner_is_reversed_only_for_p1_and_p2(level: str, inverted: bool) -> None:
    job = render_shipping_label(label(level=level))
    assert (INVERT_ON in job) is inverted
    if inverted:
        start = job.index(INVERT_ON)
        end = job.index(GS + b"B\x00", start)
        assert job[start:end].endswith(f" URGENT {level} \n".encode())


def test_job_starts_with_init_and_ends_with_cut() -> None:
    job = render_shipping_label(label())
    assert job.startswith(ESC + b"@")
    assert job.endswith(GS + b"V\x00")


def test_no_raw_control_byte_from_an_address_survives() -> None:
    evil = label(
        ship_to_name="Eve\x1b@\x00",
        address_lines=("Street\x1dV\x00 1", "\x1bp\x00\x19\x7f drawer", "line\nbreak\x7f\x9b"),
        city="C\x10\x04\x01ity",
    )
    clean = render_shipping_label(
        label(ship_to_name="Eve", address_lines=("Street", "x"), city="City")
    )
    job = render_shipping_label(evil)
    assert b"Eve@\n" in job and b"StreetV 1\n" in job and b"p drawer\n" in job
    assert b"line break\n" in job and b"90-001 City\n" in job
    # every ESC / GS / DLE in the job is one the renderer wrote, never one from the input
    assert job.count(ESC) == clean.count(ESC) and job.count(GS) == clean.count(GS)
    assert b"\x10\x04" not in job and b"\x7f" not in job


def test_code_page_select_precedes_encoded_polish_text() -> None:
    job = render_shipping_label(label(ship_to_name="Łódź"))
    match = re.search(rb"\x1bt(.)([^\x1b\x1d\n]+)\n", job[job.index(b"SHIP TO") :], re.S)
    assert match is not None
    page, encoded = match.group(1)[0], match.group(2)
    assert page == 18  # CP852 in the default profile
    assert encoded.decode("cp852") == "Łódź"


PAGES = {0: "cp437", 2: "cp850", 13: "cp857", 14: "cp737", 16: "cp1252", 18: "cp852"}


def decode_line(line: bytes, page: int) -> str:
    """Decode one printed line the way the printer does: ESC t n switches the page."""
    out = []
    for i, part in enumerate(re.split(rb"\x1bt(.)", line, flags=re.S)):
        if i % 2:
            page = part[0]
        else:
            out.append(part.decode(PAGES[page]))
    return "".join(out)


@pytest.mark.parametrize("name", ["Müller", "São Paulo", "Ελληνικά", "Łódź Müller São"])
def test_non_ascii_decodes_back_through_the_selected_code_pages(name: str) -> None:
    job = render_shipping_label(label(ship_to_name=name))
    head, _, tail = job.partition(b"SHIP TO\n")
    page = int(re.findall(rb"\x1bt(.)", head, re.S)[-1][0])
    line = tail[: tail.index(b"\n")]
    line = line.split(b"\x1bE\x01", 1)[1]  # after the bold name style
    assert decode_line(line, page) == name


def test_cjk_without_a_code_page_falls_back_to_question_marks_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="devices.printer.text"):
        job = render_shipping_label(label(ship_to_name="張偉"))
    assert b"\x1b!\x10\x1bE\x01??\n" in job  # one "?" per character, no GB18030 bytes
    assert "張偉".encode("gb18030") not in job
    assert "no code page" in caplog.text and "張偉" in caplog.text


def test_accented_letters_without_a_code_page_lose_only_the_accent() -> None:
    assert printable_text("Ḿaçon Ŵ", "default") == "Maçon W"


def test_clean_text_strips_c0_c1_and_del() -> None:
    assert clean_text("a\x00b\x1bc\x1dd\x7fe\x85f\x9fg") == "abcdefg"
    assert clean_text(" two\r\nlines\tx ") == "two lines x"
    assert clean_text("evil\u202egnp.exe\u200b") == "evilgnp.exe"


def test_bad_fields_are_named() -> None:
    with pytest.raises(LabelError, match="level"):
        render_shipping_label(label(level="P9"))
    with pytest.raises(LabelError, match="tracking"):
        render_shipping_label(label(tracking="\x1b\x1d"))
    with pytest.raises(LabelError, match="tracking"):
        render_shipping_label(label(tracking="Łódź"))
    with pytest.raises(LabelError, match="profile"):
        render_shipping_label(label(), profile="no-such-printer")


def test_brace_in_tracking_is_escaped_for_code128() -> None:
    job = render_shipping_label(label(tracking="AB{C"))
    assert b"kI\x07{BAB{{C" in job


def test_packing_slip_lists_lines_and_carton() -> None:
    slip = PackingSlip(
        "ORD-7",
        (SlipLine("SKU-1", "Café crème", 2), SlipLine("SKU-22", "Tea", 1)),
        "L",
        "P3",
    )
    job = render_packing_slip(slip)
    assert b"ORDER ORD-7\n" in job and b"CARTON L\n" in job
    assert b"   2  SKU-1            Caf\x82 cr\x8ame\n" in job
    assert b"   1  SKU-22           Tea\n" in job
    assert INVERT_ON not in job and job.endswith(GS + b"V\x00")
    with pytest.raises(LabelError, match="qty"):
        render_packing_slip(PackingSlip("ORD-7", (SlipLine("S", "n", 0),), "L", "P3"))


def test_pick_label_has_tote_barcode_and_banner() -> None:
    job = render_pick_label(PickLabel("ORD-9", "TOTE-0042", "P2", 4))
    assert GS + b"kI\x0b{BTOTE-0042" in job
    assert INVERT_ON in job and b"LINES 4" in job


def test_profile_changes_the_code_page_numbers() -> None:
    # TM-T88III has no CP852: Ł is printed as L, ó from another page.
    job = render_shipping_label(label(ship_to_name="Łódź"), profile="TM-T88III")
    assert b"\x1bt\x12" not in job[job.index(b"SHIP TO") :]
