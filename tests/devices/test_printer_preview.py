"""The ESC/POS preview decoder: round trips through the renderer, never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.printer.labels import (
    PackingSlip,
    PickLabel,
    ShippingLabel,
    SlipLine,
    render_packing_slip,
    render_pick_label,
    render_shipping_label,
)
from devices.printer.preview import iter_tokens, preview

LABEL = ShippingLabel(
    order_id="ORD-1001",
    ship_to_name="Jürgen Müller",
    address_lines=("ul. Łódzka 5", "São Paulo"),
    city="Łódź",
    postcode="90-001",
    country="PL",
    carrier="DHL",
    service="express",
    tracking="1Z999AA1{0123",
    tracking_url="https://track.example/t?n=1Z999AA1&ü=1",
    level="P2",
    weight_g=1250,
    carton="M",
)


def test_shipping_label_round_trip() -> None:
    result = preview(render_shipping_label(LABEL))
    for line in ("Jürgen Müller", "ul. Łódzka 5", "São Paulo", "90-001 Łódź", "ORDER ORD-1001"):
        assert f"{line}\n" in result.text
    assert "TRACKING 1Z999AA1{0123\n" in result.text
    assert result.barcodes == [("CODE128", "1Z999AA1{0123")]
    assert result.qrcodes == ["https://track.example/t?n=1Z999AA1&ü=1"]
    assert result.inverted_text == ["URGENT P2"]
    assert result.cuts == 1


def test_packing_slip_and_pick_label_round_trip() -> None:
    slip = PackingSlip("ORD-2", (SlipLine("SKU-Ω", "Ελληνικά", 3),), "S", "P4")
    result = preview(render_packing_slip(slip))
    assert "SKU-Ω" in result.text and "Ελληνικά" in result.text
    assert result.inverted_text == [] and result.barcodes == [] and result.cuts == 1
    pick = preview(render_pick_label(PickLabel("ORD-3", "TOTE-7", "P1", 2)))
    assert pick.barcodes == [("CODE128", "TOTE-7")] and pick.inverted_text == ["URGENT P1"]


def test_function_a_barcode_and_page_default() -> None:
    job = b"\x1b@\x1dk\x02" + b"4006381333931\x00" + b"\x81\n" + b"\x1dV\x41\x03"
    result = preview(job)
    assert result.barcodes == [("EAN13", "4006381333931")]
    assert result.text == "ü\n"  # CP437 until an ESC t says otherwise
    assert result.cuts == 1


def test_image_data_is_not_read_as_commands() -> None:
    # GS v 0: 2 bytes wide, 2 rows; the data happens to look like a cut and an ESC t
    job = b"A\x1dv0\x00\x02\x00\x02\x00\x1dV\x00\x1b" + b"B\n"
    result = preview(job)
    assert result.cuts == 0 and result.text == "AB\n"


def test_truncated_command_stops_cleanly() -> None:
    tokens = list(iter_tokens(b"hi\x1d(k\x10\x00abc"))
    assert [t.kind for t in tokens] == ["text", "incomplete"]
    assert tokens[-1].start == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = preview(data)
    assert result.cuts >= 0
    assert isinstance(result.render(), str)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30))
def test_any_name_round_trips_or_falls_back(name: str) -> None:
    from devices.printer.text import printable_text

    job = render_shipping_label(ShippingLabel(**{**LABEL.__dict__, "ship_to_name": name or "x"}))
    expected = printable_text(name or "x")
    assert f"\n{expected}\n" in preview(job).text
