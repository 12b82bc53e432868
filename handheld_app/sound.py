"""The feedback port on a device: a short high beep on success, a long low buzz on a
refusal (SoundLoader), and a vibration where the platform has one. Any part that is
missing (no audio device, no vibrator) quietly becomes a no-op: feedback must never
stop a pick."""

from __future__ import annotations

import logging
import math
import struct
import wave
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_tone(path: Path, freq: float, seconds: float, rate: int = 16000) -> Path:
    """A mono 16-bit sine tone WAV (made on first use, so no binary ships)."""
    frames = int(rate * seconds)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate)))
                for i in range(frames)
            )
        )
    return path


class DeviceFeedback:
    """``FeedbackPort`` for the app; ``enabled=False`` makes it silent."""

    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.oks = 0
        self.errors = 0
        self._ok: Any = None
        self._error: Any = None
        self._vibrator: Any = None
        if not enabled:
            return
        try:
            from kivy.core.audio import SoundLoader

            folder.mkdir(parents=True, exist_ok=True)
            self._ok = SoundLoader.load(str(write_tone(folder / "ok.wav", 1760, 0.08)))
            self._error = SoundLoader.load(str(write_tone(folder / "error.wav", 220, 0.35)))
        except Exception as exc:  # no audio provider here: stay silent
            log.info("feedback sounds off: %s", exc)
        try:
            from plyer import vibrator  # Android/iOS only

            self._vibrator = vibrator
        except Exception:
            self._vibrator = None

    def on_ok(self) -> None:
        """Beep."""
        self.oks += 1
        self._play(self._ok)

    def on_error(self) -> None:
        """Buzz and vibrate."""
        self.errors += 1
        self._play(self._error)
        if self._vibrator is not None:
            try:
                self._vibrator.vibrate(0.3)
            except Exception:
                self._vibrator = None

    def _play(self, sound: Any) -> None:
        if sound is None or not self.enabled:
            return
        try:
            sound.stop()
            sound.play()
        except Exception:
            log.debug("sound failed", exc_info=True)
