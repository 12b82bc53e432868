"""What the picker is told after each action, and the sound/vibration port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Feedback:
    """The outcome of one action: ``ok`` or refused, a message for the screen and a
    machine-readable ``code`` (e.g. ``wrong_location``) for tests and the demo."""

    ok: bool
    message: str
    code: str = "ok"

    @classmethod
    def good(cls, message: str, code: str = "ok") -> Feedback:
        """An accepted action."""
        return cls(True, message, code)

    @classmethod
    def refuse(cls, code: str, message: str) -> Feedback:
        """A refused action: nothing was recorded."""
        return cls(False, message, code)


class FeedbackPort(Protocol):
    """Sound and vibration: a short beep on success, a distinct buzz on a refusal."""

    def on_ok(self) -> None:
        """An action was accepted."""
        ...

    def on_error(self) -> None:
        """An action was refused."""
        ...


class SilentFeedback:
    """A ``FeedbackPort`` that does nothing but count (headless pickers, tests)."""

    def __init__(self) -> None:
        self.oks = 0
        self.errors = 0

    def on_ok(self) -> None:
        """Count an accepted action."""
        self.oks += 1

    def on_error(self) -> None:
        """Count a refused action."""
        self.errors += 1
