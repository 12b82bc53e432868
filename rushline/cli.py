"""The ``rushline`` command: one entry point for every process (DESIGN.md §4.1)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from config.errors import ConfigError
from rushline.errors import UserError

# Each module exposes ``register(subparsers)`` and sets ``func`` on its parsers; the
# function takes the parsed namespace and returns an exit code.
COMMAND_MODULES = (
    "rushline.commands.demo",
    "rushline.commands.central",
    "rushline.commands.agent",
    "rushline.commands.handheld",
    "rushline.commands.sim",
    "rushline.commands.sync",
    "rushline.commands.report",
    "rushline.commands.config",
    "rushline.commands.broker",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rushline", description="Warehouse floor for urgent orders."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except (UserError, ConfigError) as exc:
        print(f"rushline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
