"""Text that came from outside (names, addresses) made safe and printable.

Two steps, both pure: :func:`clean_text` removes control characters so a name can never
smuggle a printer command (ESC, GS, NUL, ...) into a job; :func:`printable_text` keeps only
characters one of the profile's code pages can print, so python-escpos never falls back to
bytes the printer would show as mojibake.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import lru_cache

from escpos.capabilities import get_profile
from escpos.magicencode import Encoder

log = logging.getLogger(__name__)

# Characters a printer profile cannot print become this, one per character, so the
# reader sees how many characters are missing rather than garbage.
REPLACEMENT = "?"

_WHITESPACE_CONTROLS = {"\t", "\n", "\r", "\x0b", "\x0c"}


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


def clean_text(text: str) -> str:
    """Drop C0/C1 control characters (ESC, GS, NUL, DEL, ...) and invisible format
    characters (bidi overrides, zero-width); line breaks and tabs become one space so a
    field cannot break the label's layout."""
    kept = []
    for char in text:
        if char in _WHITESPACE_CONTROLS or char in "\u2028\u2029":
            kept.append(" ")
        elif not _is_control(char) and unicodedata.category(char) != "Cf":
            kept.append(char)
    return " ".join("".join(kept).split())


@lru_cache(maxsize=16)
def code_page_maps(profile: str) -> dict[str, dict[str, int]]:
    """For each code page the profile offers: Unicode character -> byte (128..255)."""
    encoder = Encoder(get_profile(profile).get_code_pages())
    maps: dict[str, dict[str, int]] = {}
    for name in encoder.codepages:
        try:
            maps[name] = encoder._get_codepage_char_map(name)
        except (LookupError, KeyError):
            continue  # "Unknown" slots have no table: the encoder never picks them either
    return maps


@lru_cache(maxsize=16)
def printable_characters(profile: str) -> frozenset[str]:
    """Every non-ASCII character some code page of ``profile`` can print."""
    chars: set[str] = set()
    for mapping in code_page_maps(profile).values():
        chars.update(c for c in mapping if c != " ")
    return frozenset(chars)


def _printable(char: str, available: frozenset[str]) -> bool:
    return (0x20 <= ord(char) < 0x7F) or char in available


def printable_text(text: str, profile: str = "default") -> str:
    """``clean_text(text)`` with every character the profile cannot print replaced:
    first by its base letter without accents (NFKD), else by ``?``; logs a warning."""
    cleaned = clean_text(text)
    available = printable_characters(profile)
    if all(_printable(c, available) for c in cleaned):
        return cleaned
    out: list[str] = []
    missing: list[str] = []
    for char in cleaned:
        if _printable(char, available):
            out.append(char)
            continue
        base = "".join(
            c
            for c in unicodedata.normalize("NFKD", char)
            if not unicodedata.combining(c) and _printable(c, available)
        )
        out.append(base or REPLACEMENT)
        if not base:
            missing.append(char)
    if missing:
        log.warning(
            "printer profile %s has no code page for %r in %r; printed as %r",
            profile,
            "".join(missing),
            cleaned,
            REPLACEMENT,
        )
    return "".join(out)
