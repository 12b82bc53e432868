"""`rushline sim conveyor`."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("conveyor", help="simulated conveyor")
    parser.set_defaults(func=lambda args: parser.error("not available yet") or 2)
