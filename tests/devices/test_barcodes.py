"""Barcode decoding (DESIGN.md §4.5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.barcodes import (
    BarcodeError,
    Prefixes,
    ScanKind,
    decode,
    decode_strict,
    gtin_check_digit,
    is_valid_gtin,
)
from devices.errors import DeviceError

GS = "\x1d"


@pytest.mark.parametrize(
    ("code", "gtin14"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("4006381333931", "04006381333931"),  # GTIN-13 (EAN-13)
        ("10614141000415", "10614141000415"),  # GTIN-14
    ],
)
def test_valid_gtins_of_every_length_become_gs1_with_a_14_digit_gtin(code, gtin14):
    scan = decode(code)
    assert scan.kind is ScanKind.GS1
    assert scan.data == {"gtin": gtin14}
    assert is_valid_gtin(code)


@pytest.mark.parametrize(
    ("code", "expected", "got"),
    [
        ("96385075", 4, 5),
        ("036000291453", 2, 3),
        ("4006381333933", 1, 3),
        ("10614141000416", 5, 6),
    ],
)
def test_wrong_check_digit_is_rejected_saying_which_digit(code, expected, got):
    scan = decode(code)
    assert scan.kind is ScanKind.UNKNOWN
    assert scan.data == {"error": f"check digit wrong (expected {expected}, got {got})"}
    assert not is_valid_gtin(code)


def test_check_digit_helper():
    assert gtin_check_digit("400638133393") == 1
    assert gtin_check_digit("9638507") == 4
    with pytest.raises(ValueError):
        gtin_check_digit("12a4")
    assert not is_valid_gtin("1234567")  # wrong length
    assert not is_valid_gtin("４００６３８１３３３９３１")  # fullwidth digits are not digits here


def test_bracketed_gs1_element_string():
    scan = decode("(01)04006381333931(17)270300(10)L2311(21)SN-77")
    assert scan.kind is ScanKind.GS1
    assert scan.data == {
        "gtin": "04006381333931",
        "expiry": "2027-03-31",  # day 00 means the end of the month
        "lot": "L2311",
        "serial": "SN-77",
    }


def test_gs_separated_element_string_with_aim_id():
    raw = f"]C1{GS}0104006381333931172702281012A{GS}21S1"
    scan = decode(raw)
    assert scan.kind is ScanKind.GS1
    assert scan.symbology == "]C1"
    assert scan.data == {
        "gtin": "04006381333931",
        "expiry": "2027-02-28",
        "lot": "12A",
        "serial": "S1",
    }


def test_expiry_day_00_in_february_of_a_leap_year():
    assert decode("(01)04006381333931(17)280200").data["expiry"] == "2028-02-29"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("0104006381333931172313451", "expiry date invalid (17: 231345)"),
        ("(01)04006381333931(17)230231", "expiry date invalid (17: 230231)"),
        ("(01)04006381333932(10)X", "check digit wrong (expected 1, got 2)"),
    ],
)
def test_bad_gs1_fields_are_rejected_with_the_reason(raw, error):
    scan = decode(raw)
    assert scan.kind is ScanKind.UNKNOWN
    assert scan.data == {"error": error}


def test_sscc():
    assert decode("00340123450000000000").data == {"sscc": "340123450000000000"}
    bad = decode("(00)340123450000000005")
    assert bad.data == {"error": "check digit wrong (expected 0, got 5)"}


def test_other_ais_are_kept_not_lost():
    scan = decode("(01)04006381333931(30)12")
    assert scan.data == {"gtin": "04006381333931", "ai": {"30": "12"}}


@pytest.mark.parametrize(
    ("raw", "kind", "data"),
    [
        ("LOC-A03-12-2", ScanKind.LOCATION, {"code": "A03-12-2"}),
        ("TOTE-0042", ScanKind.TOTE, {"tote": "TOTE-0042"}),
        ("OP-1007", ScanKind.BADGE, {"operator": "1007"}),
        ("ORD-2026-0001", ScanKind.ORDER, {"order_id": "2026-0001"}),
        ("  TOTE-0042\r\n", ScanKind.TOTE, {"tote": "TOTE-0042"}),
    ],
)
def test_internal_prefixes(raw, kind, data):
    scan = decode(raw)
    assert (scan.kind, scan.data) == (kind, data)
    assert scan.ok


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", "empty scan"),
        ("   ", "empty scan"),
        ("HELLO", "unknown prefix"),
        ("BIN-7", "unknown prefix"),
        ("TOTE-AB", "tote number must be digits (got 'AB')"),
        ("LOC-", "location code missing after 'LOC-'"),
        ("12345", "not a GTIN (8, 12, 13 or 14 digits, got 5)"),
    ],
)
def test_rejects_say_why(raw, error):
    scan = decode(raw)
    assert scan.kind is ScanKind.UNKNOWN
    assert scan.data == {"error": error}
    assert not scan.ok


def test_configured_prefixes_replace_the_defaults():
    site = Prefixes(location="L:", tote="T", badge="B-", order="O#")
    assert decode("L:A1", site).data == {"code": "A1"}
    assert decode("T77", site).data == {"tote": "T77"}
    assert decode("LOC-A1", site).data == {"error": "unknown prefix"}


def test_decode_strict_raises_a_device_error_with_the_reason():
    assert decode_strict("TOTE-0042").kind is ScanKind.TOTE
    with pytest.raises(BarcodeError, match=r"check digit wrong \(expected 1, got 3\)") as info:
        decode_strict("4006381333933")
    assert isinstance(info.value, DeviceError)


def test_payload_shape_for_mqtt():
    assert decode("TOTE-0042").to_payload() == {
        "raw": "TOTE-0042",
        "kind": "tote",
        "data": {"tote": "TOTE-0042"},
    }


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_decode_never_raises_on_any_text(raw):
    scan = decode(raw)
    assert scan.raw == raw
    assert scan.kind is not ScanKind.UNKNOWN or scan.data["error"]


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="0123456789()\x1d]CdQ1", max_size=60)
    | st.from_regex(r"\(0[01]\)[0-9]{14,18}(\(1[07]\)[0-9A-Z]{0,8})*", fullmatch=True)
)
def test_decode_never_raises_on_gs1_like_text(raw):
    scan = decode(raw)
    assert isinstance(scan.kind, ScanKind)
