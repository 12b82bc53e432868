"""Colours and sizes of the handheld (no Kivy here: plain numbers the .kv rules use).

High contrast on a dim screen: white text on saturated level colours over near black.
Sizes are for gloved hands at arm's length: touch targets >= 64 dp, body text >= 20 sp,
the bin and the item 32 sp and more.
"""

from __future__ import annotations

RGBA = tuple[float, float, float, float]


def _hex(value: str) -> RGBA:
    value = value.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, 1.0)


BACKGROUND = _hex("#101214")
PANEL = _hex("#1e2226")
BUTTON = _hex("#2f3a45")
TEXT = _hex("#ffffff")
MUTED = _hex("#c8d0d8")
OK = _hex("#1b8a3a")
ERROR = _hex("#d0021b")
ONLINE = _hex("#1b8a3a")
OFFLINE = _hex("#b00020")

LEVEL_COLOURS: dict[str, RGBA] = {
    "P1": _hex("#d0021b"),  # red
    "P2": _hex("#e66a00"),  # orange
    "P3": _hex("#1f5fbf"),  # blue
    "P4": _hex("#5f6770"),  # grey
}

TOUCH_DP = 72  # every button: >= 64 dp for gloves
ROW_DP = 104  # a task row
BODY_SP = 22  # body text: >= 20 sp
TITLE_SP = 28
BIG_SP = 44  # the bin and the item: >= 32 sp
HUGE_SP = 56  # the bin on the pick screen


def level_colour(level: str) -> RGBA:
    """The colour of a priority level (unknown levels are grey)."""
    return LEVEL_COLOURS.get(level, LEVEL_COLOURS["P4"])
