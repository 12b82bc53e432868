"""Scanner input for the app, by the configured source URL.

- ``wedge://``: the scanner types into the handheld; Kivy key events go through
  ``WedgeKeys`` (pure) into the devices ``WedgeDecoder``, which tells a scanner burst
  (a ``Scan``) from a person typing (``TypedText``).
- ``serial://``, ``evdev://``, ``sim://``: ``devices.scanner.open_scanner`` read on a
  thread; each scan is handed to the UI thread with ``Clock.schedule_once``.

Kivy is imported only inside ``ScannerInput`` so ``WedgeKeys`` is testable without it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from devices.barcodes import DEFAULT_PREFIXES, Prefixes, Scan
from devices.scanner import QueueScanner, TypedText, WedgeDecoder, WedgeTiming, open_scanner
from devices.url import parse_device_url

log = logging.getLogger(__name__)

ENTER_KEYS = (13, 271)  # Return and keypad Enter in Kivy's key codes
BACKSPACE = 8
# A US layout with Shift held (wedge scanners emulate a US keyboard by default).
_SHIFTED = dict(zip("1234567890-=[]\\;',./`", '!@#$%^&*()_+{}|:"<>?~', strict=True))

ScanResult = Scan | TypedText
ResultHandler = Callable[[ScanResult], None]


class WedgeKeys:
    """Kivy ``on_key_down`` arguments -> wedge decoder; returns the result on Enter."""

    def __init__(
        self,
        decoder: WedgeDecoder | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.decoder = decoder or WedgeDecoder()
        self.clock = clock

    def key_down(
        self, key: int, codepoint: str | None, modifiers: list[str] | tuple[str, ...] = ()
    ) -> ScanResult | None:
        """One key press; a ``Scan`` or ``TypedText`` when it was Enter."""
        now = self.clock()
        if key in ENTER_KEYS:
            return self.decoder.feed_enter(now)
        if key == BACKSPACE:
            self.decoder.feed_backspace(now)
            return None
        if not codepoint or "ctrl" in modifiers or "meta" in modifiers:
            return None
        char = codepoint
        upper = ("shift" in modifiers) != ("capslock" in modifiers)
        if char.isalpha():
            char = char.upper() if upper else char
        elif "shift" in modifiers:
            char = _SHIFTED.get(char, char)
        self.decoder.feed_char(char, now)
        return None

    def clear(self) -> None:
        """Drop a partial entry (the screen changed)."""
        self.decoder.clear()


class ScannerInput:
    """Feeds every scan (and typed entry) of the configured source to ``on_result`` on
    the UI thread. ``start``/``stop``."""

    def __init__(
        self,
        source: str,
        on_result: ResultHandler,
        device_id: str = "",
        prefixes: Prefixes = DEFAULT_PREFIXES,
    ) -> None:
        self.source = source
        self.url = parse_device_url(source, allowed=("serial", "evdev", "wedge", "sim"))
        self.on_result = on_result
        self.device_id = device_id
        self.prefixes = prefixes
        timing = WedgeTiming(
            max_gap=self.url.int_option("max_gap_ms", 30) / 1000,
            min_chars=self.url.int_option("min_chars", 4),
        )
        self.keys = WedgeKeys(WedgeDecoder(timing, prefixes, device_id))
        self._scanner: QueueScanner | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._bound = False

    @property
    def is_wedge(self) -> bool:
        """True when scans arrive as key events."""
        return self.url.scheme == "wedge"

    def start(self) -> None:
        """Bind the keyboard (wedge) or open the device and start its reader thread."""
        from kivy.core.window import Window

        # Keys are always watched: a person may type a code or a quantity on any source.
        Window.bind(on_key_down=self._on_key_down)
        self._bound = True
        if self.is_wedge:
            return
        self._scanner = open_scanner(self.source, self.device_id, self.prefixes)
        self._thread = threading.Thread(target=self._read_loop, name="scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Unbind and close the device."""
        if self._bound:
            from kivy.core.window import Window

            Window.unbind(on_key_down=self._on_key_down)
            self._bound = False
        self._stop.set()
        if self._scanner is not None:
            self._scanner.close()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def push(self, scan: Scan) -> None:
        """Hand a scan to the UI thread (from any thread)."""
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: self.on_result(scan), 0)

    def _read_loop(self) -> None:
        scanner = self._scanner
        while scanner is not None and not self._stop.is_set():
            scan = scanner.read(timeout=0.2)
            if scan is not None:
                self.push(scan)

    def _on_key_down(
        self, _window: Any, key: int, _scancode: int, codepoint: str | None, modifiers: Any
    ) -> bool:
        result = self.keys.key_down(key, codepoint, list(modifiers or ()))
        if result is not None:
            self.on_result(result)
        return False
