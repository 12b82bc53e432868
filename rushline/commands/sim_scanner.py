"""`rushline sim scanner`: a simulated serial scanner on a pseudo-terminal.

Prints the pty path alone on the first line, waits (bounded by ``--wait``) until a reader
opens it, then types each barcode from ``--file`` (or stdin), one per line, framed with
``--suffix``. After the last code (EOF) it keeps the pty open for ``--linger`` seconds so
the reader can drain it (negative: until killed), then exits 0.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from devices.errors import DeviceURLError
from devices.scanner.framing import SUFFIXES, Framing
from rushline.errors import UserError

# The reader announces itself by reconfiguring the line (pyserial, minicom and friends
# all set the speed on open). We park an unusual speed on the slave and watch for it to
# change, because pyserial flushes the input on open and would eat codes typed earlier.
_MARKER_SPEED = termios.B50
_SETTLE = 0.1  # pyserial flushes right after reconfiguring; let that pass first


def register(subparsers: Any) -> None:
    """Add ``sim scanner`` to the ``sim`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scanner", help="simulated serial scanner on a pseudo-terminal"
    )
    parser.add_argument("--file", type=Path, help="barcodes, one per line (default: stdin)")
    parser.add_argument(
        "--suffix", default="CR", choices=sorted(SUFFIXES), help="frame suffix (default CR)"
    )
    parser.add_argument("--prefix", default="", help="frame prefix the scanner adds")
    parser.add_argument(
        "--delay", type=float, default=0.05, help="seconds between codes (default 0.05)"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=10.0,
        help="seconds to wait for a reader to open the pty before typing (default 10)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=2.0,
        help="seconds to keep the pty open after the last code; negative: until killed",
    )
    parser.set_defaults(func=run)


def _codes(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        code = line.rstrip("\r\n")
        if code.strip():
            yield code


def _write_all(fd: int, data: bytes, stall: float = 5.0) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            # The pty buffer is full: nobody is reading. Give up rather than hang forever.
            if not select.select([], [fd], [], stall)[1]:
                raise UserError(f"no reader drained the scanner pty for {stall:g}s") from None
            continue
        view = view[written:]


def _park_marker(slave: int) -> None:
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[4] = attrs[5] = _MARKER_SPEED
    termios.tcsetattr(slave, termios.TCSANOW, attrs)


def _wait_for_reader(slave: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if termios.tcgetattr(slave)[5] != _MARKER_SPEED:
            time.sleep(_SETTLE)
            return True
        time.sleep(0.01)
    return False


def run(args: argparse.Namespace) -> int:
    """Run the simulated scanner until its codes are typed (and the linger passes)."""
    if args.delay < 0 or args.wait < 0:
        raise UserError("--delay and --wait must not be negative")
    try:
        framing = Framing(suffix=args.suffix, prefix=args.prefix)
    except DeviceURLError as exc:
        raise UserError(str(exc)) from exc
    source = None
    if args.file is not None:
        try:
            source = args.file.open(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{args.file}: cannot read ({exc.strerror or exc})") from exc
    master, slave = os.openpty()
    try:
        _park_marker(slave)
        os.set_blocking(master, False)
        print(os.ttyname(slave), flush=True)
        lines = source if source is not None else sys.stdin
        waited = False
        for code in _codes(lines):
            if not waited:
                _wait_for_reader(slave, args.wait)
                waited = True
            _write_all(master, framing.encode(code))
            if args.delay:
                time.sleep(args.delay)
        if args.linger < 0:
            while True:
                time.sleep(3600)
        time.sleep(args.linger)
    finally:
        if source is not None:
            source.close()
        os.close(slave)
        os.close(master)
    return 0
