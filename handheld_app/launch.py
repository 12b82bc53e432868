"""Starting the app: Kivy's window settings must be in place before Kivy makes its
window, so they are set here before ``handheld_app.app`` is imported."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from handheld_app.settings import HandheldSettings

if TYPE_CHECKING:
    from handheld_app.app import HandheldApp


def configure_kivy(width: int, height: int) -> None:
    """Portrait window, no Kivy argument parsing, Escape does not quit."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "1")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")


def main(
    settings: HandheldSettings,
    operator: str | None = None,
    use_sync: bool = True,
    exit_when_ready: bool = False,
) -> int:
    """Run the app until its window closes; prints one line when the task list is ready."""
    started = time.monotonic()
    configure_kivy(settings.width, settings.height)
    from handheld_app.app import HandheldApp

    def ready(app: HandheldApp) -> None:
        count = len(app.session.tasks.view().rows) if app.session else 0
        print(
            f"rushline handheld: task list ready ({count} tasks) "
            f"in {time.monotonic() - started:.2f} s",
            flush=True,
        )
        if exit_when_ready:
            app.stop()

    HandheldApp(settings, operator=operator, use_sync=use_sync, on_ready=ready).run()
    return 0
