"""`rushline sim printer`: a simulated ESC/POS network printer.

Prints the bound address (``127.0.0.1:9100``) alone on the first line, then one line per
job written (``printed NNNN-<hint>``). SIGUSR1 cycles the paper ok -> low -> out -> ok;
SIGINT/SIGTERM stop it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from devices.errors import DeviceError
from devices.printer.sim import PrinterSim
from devices.printer.status import Paper
from rushline.errors import UserError


def register(subparsers: Any) -> None:
    """Add ``sim printer`` to the ``sim`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "printer", help="simulated ESC/POS network printer"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9100, help="TCP port (0: any free port)")
    parser.add_argument(
        "--out", type=Path, default=Path("printer-out"), help="folder for .bin/.txt jobs"
    )
    parser.add_argument(
        "--paper", default="ok", choices=[p.value for p in Paper], help="paper state at start"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a TCP port (0-65535)")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} exists and is not a folder")
    sim = PrinterSim(args.host, args.port, args.out, paper=args.paper)
    try:
        sim.start()
    except DeviceError as exc:
        raise UserError(str(exc)) from exc
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    def cycle(signum: int, frame: FrameType | None) -> None:
        print(f"paper {sim.cycle_paper().value}", flush=True)

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in ((signal.SIGINT, stop), (signal.SIGTERM, stop), (signal.SIGUSR1, cycle))
    }
    print(f"{sim.host}:{sim.port}", flush=True)
    reported = 0
    try:
        while not done.wait(0.1):
            while reported < len(sim.jobs):
                print(f"printed {sim.jobs[reported].name}", flush=True)
                reported += 1
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for job in sim.jobs[reported:]:
        print(f"printed {job.name}", flush=True)
    sys.stdout.flush()
    return 0
