"""The ``rushline`` command: one entry point for every process (DESIGN.md §4.1)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from config.errors import ConfigError
from rushline.errors import UserError

# Each command's module exposes ``register(subparsers)`` and sets ``func`` on its parsers;
# the function takes the parsed namespace and returns an exit code. Only the module of
# the command being run is imported: agents and simulators start in a fraction of the
# time, and ``rushline --help`` lists the commands from this table alone.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("rushline.commands.demo", "run the whole simulated floor and report"),
    "central": ("rushline.commands.central", "the central server"),
    "agent": ("rushline.commands.agent", "a floor agent (sorter, pack, dock, dispatch)"),
    "handheld": ("rushline.commands.handheld", "the handheld app for pickers"),
    "sim": ("rushline.commands.sim", "simulated devices"),
    "sync": ("rushline.commands.sync", "one sync round for a device store"),
    "report": ("rushline.commands.report", "analytics report"),
    "config": ("rushline.commands.config", "check configuration"),
    "broker": ("rushline.commands.broker", "floor broker passwords and ACLs"),
}


def _chosen_command(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser, with the full sub-parser of the command named in ``argv`` (if any)."""
    parser = argparse.ArgumentParser(
        prog="rushline", description="Warehouse floor for urgent orders."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen_command(argv)
    for name, (module, summary) in COMMANDS.items():
        if name == chosen:
            importlib.import_module(module).register(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
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
