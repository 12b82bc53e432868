"""Drives the real Kivy app offscreen in ONE process (Kivy allows one App run and one
window per process): scenarios are generators pumped by the Kivy clock; scans are
typed as key events into the wedge decoder, exactly as a keyboard-wedge scanner does.

    python -m tests.handheld_app.ui_driver --config hh.toml --out result.json \
        --shots DIR --operator-badge OP-0007 --scenario signin,pick,...

Results: a JSON object per scenario step ({"name", "ok", "detail", ...}) plus the
screenshot paths. When a scenario needs the test to act (stop or start central) it
prints ``NEED <what>`` on stdout and waits for one line on stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("KIVY_WINDOW", "sdl2")
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

Step = Generator[Any, None, None]


class Driver:
    """Runs scenario generators on the Kivy clock and records what it saw."""

    def __init__(self, app: Any, shots: Path, out: Path) -> None:
        self.app = app
        self.shots = shots
        self.out = out
        self.results: dict[str, Any] = {"steps": [], "screenshots": [], "timings": {}}
        self._answers: list[str] = []
        self._answer_ready = threading.Event()
        threading.Thread(target=self._read_stdin, daemon=True).start()

    # --- helpers used by scenarios ---------------------------------------------------

    def _read_stdin(self) -> None:
        for line in sys.stdin:
            self._answers.append(line.strip())
            self._answer_ready.set()

    @property
    def answer(self) -> str:
        """The test's last answer line."""
        return self._answers[-1] if self._answers else ""

    def need(self, what: str, timeout: float = 60.0) -> Step:
        """Ask the test to do something and wait for its answer line."""
        self._answer_ready.clear()
        print(f"NEED {what}", flush=True)
        yield (lambda: self._answer_ready.is_set(), timeout, f"answer to {what}")

    def type_code(self, code: str) -> None:
        """A wedge scanner burst: each character as a key event, then Enter."""
        from kivy.core.window import Window

        for char in code:
            shift = char.isupper() or char in '!@#$%^&*()_+{}|:"<>?~'
            base = char.lower()
            Window.dispatch("on_key_down", ord(base), 0, base, ["shift"] if shift else [])
        Window.dispatch("on_key_down", 13, 40, None, [])

    def shot(self, name: str) -> str:
        """Save the window as ``<shots>/<name>.png``."""
        from kivy.core.window import Window

        self.shots.mkdir(parents=True, exist_ok=True)
        made = Window.screenshot(name=str(self.shots / f"{name}.png"))
        target = self.shots / f"{name}.png"
        if made and Path(made) != target:
            Path(made).replace(target)
        self.results["screenshots"].append(str(target))
        return str(target)

    def record(self, name: str, ok: bool, **detail: Any) -> None:
        """One checked step."""
        self.results["steps"].append({"name": name, "ok": bool(ok), **detail})

    def write(self) -> None:
        """Write the JSON result (after every step: a crash keeps what was seen)."""
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.results, indent=2, default=str))
        tmp.replace(self.out)

    # --- the pump --------------------------------------------------------------------

    def run(self, scenarios: list[Callable[[Driver], Step]]) -> None:
        """Pump the scenarios one after the other; stop the app at the end."""
        from kivy.clock import Clock

        steps: Iterator[Any] = iter(())

        def chain() -> Step:
            for scenario in scenarios:
                yield from scenario(self)

        steps = chain()
        state: dict[str, Any] = {"wait": None, "until": 0.0, "what": ""}

        def pump(_dt: float) -> None:
            try:
                wait = state["wait"]
                if wait is not None:
                    if not wait():
                        if time.monotonic() > state["until"]:
                            raise TimeoutError(f"timed out waiting for {state['what']}")
                        return
                    state["wait"] = None
                item = next(steps)
                if isinstance(item, (int, float)):
                    end = time.monotonic() + float(item)
                    state.update(wait=lambda: time.monotonic() >= end, until=end + 5, what="pause")
                elif isinstance(item, tuple):
                    cond, timeout, what = item
                    state.update(wait=cond, until=time.monotonic() + timeout, what=what)
                self.write()
            except StopIteration:
                self.results["finished"] = True
                self.finish()
            except Exception as exc:
                self.results["error"] = f"{exc.__class__.__name__}: {exc}"
                self.results["traceback"] = traceback.format_exc()
                try:
                    self.shot("zz_failure")
                except Exception:
                    pass
                self.finish()

        self._event = Clock.schedule_interval(pump, 0)

    def finish(self) -> None:
        """Write the result and stop the app."""
        self._event.cancel()
        self.write()
        self.app.stop()


def until(cond: Callable[[], Any], what: str, timeout: float = 10.0) -> tuple[Any, float, str]:
    """A wait for ``cond`` (yield it from a scenario)."""
    return (cond, timeout, what)


def main() -> int:
    """Parse arguments, build the app and run the named scenarios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--shots", required=True)
    parser.add_argument("--scenario", required=True, help="comma-separated names")
    parser.add_argument("--offline", action="store_true")
    args = parser.parse_args()

    from handheld_app.launch import configure_kivy
    from handheld_app.settings import load_handheld_settings

    settings = load_handheld_settings(args.config)
    configure_kivy(settings.width, settings.height)
    from handheld_app.app import HandheldApp
    from tests.handheld_app import ui_scenarios

    app = HandheldApp(settings, use_sync=not args.offline)
    driver = Driver(app, Path(args.shots), Path(args.out))
    chosen = [getattr(ui_scenarios, f"scenario_{name}") for name in args.scenario.split(",")]
    original = app.on_start

    def on_start() -> None:
        original()
        driver.run(chosen)

    app.on_start = on_start
    app.run()
    driver.write()
    return 0 if driver.results.get("finished") else 1


if __name__ == "__main__":
    sys.exit(main())
