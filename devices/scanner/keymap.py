"""US keyboard map for HID (keyboard-mode) scanners: key event -> text, pure."""

from __future__ import annotations

from evdev import ecodes

EV_KEY = ecodes.EV_KEY
KEY_DOWN = 1  # value 0 is release, 2 is autorepeat (a scanner never holds a key)
MAX_CODE = 4096  # a "code" longer than this is a stuck key or a person leaning on it

# key -> (unshifted, shifted)
US_KEYS: dict[int, tuple[str, str]] = {}
_KEYPAD = {
    ecodes.KEY_KPMINUS,
    ecodes.KEY_KPPLUS,
    ecodes.KEY_KPDOT,
    ecodes.KEY_KPSLASH,
    ecodes.KEY_KPASTERISK,
}
for _index, _letter in enumerate("abcdefghijklmnopqrstuvwxyz"):
    US_KEYS[getattr(ecodes, f"KEY_{_letter.upper()}")] = (_letter, _letter.upper())
for _digit, _shifted in zip("1234567890", "!@#$%^&*()", strict=True):
    US_KEYS[getattr(ecodes, f"KEY_{_digit}")] = (_digit, _shifted)
    US_KEYS[getattr(ecodes, f"KEY_KP{_digit}")] = (_digit, _digit)
    _KEYPAD.add(getattr(ecodes, f"KEY_KP{_digit}"))
US_KEYS.update(
    {
        ecodes.KEY_MINUS: ("-", "_"),
        ecodes.KEY_EQUAL: ("=", "+"),
        ecodes.KEY_LEFTBRACE: ("[", "{"),
        ecodes.KEY_RIGHTBRACE: ("]", "}"),
        ecodes.KEY_BACKSLASH: ("\\", "|"),
        ecodes.KEY_SEMICOLON: (";", ":"),
        ecodes.KEY_APOSTROPHE: ("'", '"'),
        ecodes.KEY_GRAVE: ("`", "~"),
        ecodes.KEY_COMMA: (",", "<"),
        ecodes.KEY_DOT: (".", ">"),
        ecodes.KEY_SLASH: ("/", "?"),
        ecodes.KEY_SPACE: (" ", " "),
        ecodes.KEY_KPMINUS: ("-", "-"),
        ecodes.KEY_KPPLUS: ("+", "+"),
        ecodes.KEY_KPDOT: (".", "."),
        ecodes.KEY_KPSLASH: ("/", "/"),
        ecodes.KEY_KPASTERISK: ("*", "*"),
    }
)
SHIFT_KEYS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
CTRL_KEYS = frozenset({ecodes.KEY_LEFTCTRL, ecodes.KEY_RIGHTCTRL})
ENTER_KEYS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER})


class HidKeyDecoder:
    """Turns key events into codes: ``feed`` returns the text when Enter ends a code."""

    def __init__(self, end_keys: frozenset[int] = ENTER_KEYS, max_code: int = MAX_CODE) -> None:
        self.end_keys = end_keys
        self.max_code = max_code
        self.ignored_keys = 0
        self._shift: set[int] = set()
        self._ctrl: set[int] = set()
        self._chars: list[str] = []

    def feed(self, event_type: int, code: int, value: int) -> str | None:
        """One input event; the complete code on its end key, else None."""
        if event_type != EV_KEY:
            return None  # EV_SYN / EV_MSC (scan codes) carry nothing for us
        if code in SHIFT_KEYS or code in CTRL_KEYS:
            held = self._shift if code in SHIFT_KEYS else self._ctrl
            if value:
                held.add(code)
            else:
                held.discard(code)
            return None
        if value != KEY_DOWN:
            return None
        if code in self.end_keys:
            text, self._chars = "".join(self._chars), []
            return text or None
        if self._ctrl and code == ecodes.KEY_RIGHTBRACE:
            char = "\x1d"  # Ctrl+] is how keyboard-mode scanners type FNC1 (GS)
        elif code in US_KEYS:
            char = US_KEYS[code][1 if self._shift else 0]
        else:
            self.ignored_keys += 1
            return None
        if len(self._chars) >= self.max_code:
            self._chars.clear()
            self.ignored_keys += 1
        self._chars.append(char)
        return None

    def reset(self) -> None:
        """Forget held modifiers and a partial code (the device went away)."""
        self._shift.clear()
        self._ctrl.clear()
        self._chars.clear()


# Reverse map for simulators and tests: char -> (key, needs shift).
CHAR_KEYS: dict[str, tuple[int, bool]] = {}
for _key, (_plain, _shifted) in US_KEYS.items():
    if _key not in _KEYPAD:
        CHAR_KEYS.setdefault(_plain, (_key, False))
        CHAR_KEYS.setdefault(_shifted, (_key, True))
