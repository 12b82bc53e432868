"""`rushline sim scanner|conveyor|printer`: simulated devices for demos, tests and users
without hardware."""

from __future__ import annotations

import argparse
from typing import Any

from rushline.commands import sim_conveyor, sim_printer, sim_scanner


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("sim", help="simulated devices")
    sims = parser.add_subparsers(dest="sim", metavar="DEVICE", required=True)
    sim_scanner.register(sims)
    sim_conveyor.register(sims)
    sim_printer.register(sims)
