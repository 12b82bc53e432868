"""`rushline sim conveyor`: a simulated conveyor controller (DESIGN.md §4.4) on a pty.

Prints the pty's device path alone on the first line, then serves until SIGTERM/SIGINT.
With ``--induct-file F`` (``-`` for stdin) each non-blank line of F is a tote id put on
the belt at the induction scanner (an ``IND`` frame), ``--interval`` seconds apart.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from devices.conveyor import ConveyorError
from devices.conveyor.sim import ConveyorSim
from rushline.errors import UserError

DESCRIPTION = """\
A simulated conveyor controller speaking the serial line protocol on a pseudo-terminal.
Prints the device path alone on the first line, then serves until SIGTERM or SIGINT.
With --induct-file F ('-' for stdin) each non-blank line is a tote id put on the belt
at the induction scanner (an IND frame), --interval seconds apart. Totes with no divert
are reported MISS|tote|0 and come round again after --recirculation seconds."""


def register(subparsers: Any) -> None:
    """Add ``sim conveyor`` to the ``sim`` sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "conveyor",
        help="simulated conveyor controller on a pseudo-terminal",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--lanes", type=int, default=4, help="divert lanes (default 4)")
    parser.add_argument(
        "--speed", type=float, default=2.0, metavar="M_PER_S", help="belt speed (default 2.0)"
    )
    parser.add_argument(
        "--spacing", type=float, default=1.0, metavar="M", help="metres between gates (1.0)"
    )
    parser.add_argument(
        "--window", type=float, default=0.05, metavar="S", help="gate window in s (0.05)"
    )
    parser.add_argument(
        "--recirculation",
        type=float,
        default=None,
        metavar="S",
        help="seconds before a missed tote comes round again (default: twice the belt run)",
    )
    parser.add_argument(
        "--induct-file",
        default=None,
        metavar="F",
        help="tote ids to induct, one per line ('-' reads stdin)",
    )
    parser.add_argument(
        "--interval", type=float, default=0.0, metavar="S", help="seconds between inductions"
    )
    parser.set_defaults(func=run)


def _induct_lines(
    sim: ConveyorSim, lines: Iterable[str], interval: float, stop: threading.Event
) -> None:
    for line in lines:
        tote = line.strip()
        if not tote:
            continue
        try:
            sim.induct(tote)
        except ConveyorError as exc:
            print(f"rushline sim conveyor: skipped {tote!r}: {exc}", file=sys.stderr, flush=True)
        if stop.wait(interval):
            return


def run(args: argparse.Namespace) -> int:
    """Serve the simulated conveyor until a signal arrives."""
    if args.lanes < 1 or args.speed <= 0 or args.spacing <= 0 or args.window < 0:
        raise UserError("--lanes must be >= 1, --speed and --spacing > 0, --window >= 0")
    source: TextIO | None = None
    if args.induct_file not in (None, "-"):
        try:
            source = Path(args.induct_file).open(encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise UserError(f"--induct-file {args.induct_file}: {exc.strerror}") from exc
    try:
        sim = ConveyorSim(
            lanes=args.lanes,
            speed_m_s=args.speed,
            gate_spacing_m=args.spacing,
            gate_window_s=args.window,
            recirculation_s=args.recirculation,
        )
    except ConveyorError as exc:
        raise UserError(str(exc)) from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with sim:
            print(sim.path, flush=True)
            if args.induct_file == "-":
                # stdin may block forever; a daemon thread does not hold up the exit.
                threading.Thread(
                    target=_induct_lines,
                    args=(sim, sys.stdin, args.interval, stop),
                    daemon=True,
                ).start()
            elif source is not None:
                with source:
                    _induct_lines(sim, source, args.interval, stop)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
