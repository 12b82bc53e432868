"""Shipping labels as the printer simulator saw them: its ``*.txt`` previews parsed back
into (order, tracking text, tracking barcode), so the report can check each one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ORDER = re.compile(r"^ORDER (\S+)\s*$", re.M)
_TRACKING = re.compile(r"^TRACKING (\S+)\s*$", re.M)
_BARCODE = re.compile(r"^\[BARCODE [^\]]*\] (\S+)\s*$", re.M)


@dataclass(frozen=True)
class PrintedLabel:
    """One shipping label preview: the order it names and its tracking number."""

    file: str
    order_id: str
    tracking: str
    barcode: str

    @property
    def consistent(self) -> bool:
        """The barcode encodes the same tracking number as the printed text."""
        return self.barcode == self.tracking


def _code128_data(raw: str) -> str:
    # python-escpos prefixes CODE128 data with its code set ("{B"); the number follows.
    return raw[2:] if len(raw) > 2 and raw[0] == "{" and raw[1] in "ABC" else raw


def parse_label(text: str, file: str = "") -> PrintedLabel | None:
    """The label in one preview, or None when the job is not a shipping label."""
    if "SHIPPING LABEL" not in text:
        return None
    order = _ORDER.search(text)
    tracking = _TRACKING.search(text)
    barcode = _BARCODE.search(text)
    if order is None or tracking is None:
        return None
    return PrintedLabel(
        file,
        order.group(1),
        tracking.group(1),
        _code128_data(barcode.group(1)) if barcode else "",
    )


def read_labels(folder: Path) -> list[PrintedLabel]:
    """Every shipping label preview (``*.txt``) under ``folder``, in file order."""
    if not folder.exists():
        return []
    out = []
    for path in sorted(folder.rglob("*.txt")):
        label = parse_label(path.read_text(encoding="utf-8", errors="replace"), path.name)
        if label is not None:
            out.append(label)
    return out
