"""The demo's child processes: started with their own log file, always stopped.

Every child gets SIGTERM, then SIGKILL after a grace period; ``Supervisor`` is a context
manager whose exit stops every child still running (newest first), so a failing demo
leaves no orphan behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class ProcessError(Exception):
    """A child process could not be started or did not come up."""


@dataclass
class Child:
    """One running child: its name (unique in the supervisor), command and log."""

    name: str
    argv: tuple[str, ...]
    log_path: Path
    popen: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the child's log, for error messages."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def rushline_argv(*args: str) -> tuple[str, ...]:
    """The command line that runs ``rushline <args>`` with this interpreter."""
    return (sys.executable, "-m", "rushline", *args)


class Supervisor:
    """Starts named children with logs under ``log_dir`` and stops them all on exit."""

    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.env = dict(os.environ if env is None else env)
        self.children: dict[str, Child] = {}
        self.stopped: list[str] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    ) -> Child:
        """Start ``argv`` as child ``name`` (stdout and stderr go to ``<name>.log``)."""
        old = self.children.get(name)
        if old is not None and old.alive():
            raise ProcessError(f"{name}: already running (pid {old.pid})")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            try:
                popen = subprocess.Popen(
                    list(argv),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=stdin,
                    env={**self.env, **(env or {})},
                    # Own process group: a Ctrl-C at the terminal reaches the demo only,
                    # which then stops its children in order.
                    start_new_session=True,
                )
            except OSError as exc:
                raise ProcessError(f"{name}: cannot start {argv[0]}: {exc}") from exc
        child = Child(name, tuple(argv), log_path, popen)
        self.children[name] = child
        return child

    def wait_ready(
        self, child: Child, ready: Callable[[], bool], timeout: float, what: str
    ) -> None:
        """Poll ``ready`` until true; fail with the log's tail if the child exits or time
        runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                raise ProcessError(
                    f"{child.name} exited with {child.popen.returncode} before {what}:\n"
                    f"{child.log_tail()}"
                )
            try:
                if ready():
                    return
            except Exception:  # still starting; keep polling until the deadline
                pass
            time.sleep(0.05)
        raise ProcessError(f"{child.name}: no {what} after {timeout:.0f} s:\n{child.log_tail()}")

    def stop(self, name: str, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        child = self.children.pop(name, None)
        if child is None:
            return None
        code = terminate(child.popen, grace)
        self.stopped.append(name)
        return code

    def kill(self, name: str) -> None:
        """SIGKILL at once (a crash)."""
        child = self.children.pop(name, None)
        if child is not None and child.alive():
            child.popen.kill()
            child.popen.wait(timeout=10)

    def stop_all(self, grace: float = 5.0) -> None:
        """Stop every child still known, newest first."""
        for name in reversed(list(self.children)):
            try:
                self.stop(name, grace)
            except Exception:  # keep going: the next child must still be stopped
                child = self.children.pop(name, None)
                if child is not None and child.alive():
                    child.popen.kill()


def terminate(popen: subprocess.Popen[bytes], grace: float = 5.0) -> int | None:
    """Stop one process: SIGTERM, wait ``grace`` s, then SIGKILL; returns its exit code."""
    if popen.poll() is None:
        try:
            popen.send_signal(signal.SIGTERM)
            popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=10)
        except ProcessLookupError:
            pass
    return popen.returncode
