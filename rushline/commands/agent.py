"""`rushline agent sorter|pack|dock|dispatch --config FILE`: one floor agent process.

It runs until SIGTERM or SIGINT, then stops cleanly (outboxes keep what was not sent).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from edge.errors import EdgeError
from rushline.errors import UserError

# role -> module with ``run(settings) -> int`` (imported only when that agent starts).
AGENTS = {
    "sorter": "edge.agents.sorter",
    "pack": "edge.agents.pack",
    "dock": "edge.agents.dock",
    "dispatch": "edge.agents.dispatch",
}
HELP = {
    "sorter": "conveyor sorter: induction -> divert by priority",
    "pack": "pack station: verify, carton, carrier, label",
    "dock": "dock: handover scan marks orders shipped",
    "dispatch": "task dispatcher: pushes hot pick tasks to handhelds",
}


def register(subparsers: Any) -> None:
    """Add ``rushline agent <role> --config FILE``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="run one floor agent", description=__doc__
    )
    roles = parser.add_subparsers(dest="agent", metavar="ROLE", required=True)
    for role, text in HELP.items():
        sub = roles.add_parser(role, help=text, description=text)
        sub.add_argument(
            "--config",
            type=Path,
            required=True,
            metavar="FILE",
            help=f"agent settings TOML ([device], [central], [mqtt], [devices], [{role}])",
        )
        sub.set_defaults(func=run, role=role)


def run(args: argparse.Namespace) -> int:
    """Load the settings, check the role, and hand over to the agent's ``run``."""
    from edge.settings import load_agent_settings

    try:
        settings = load_agent_settings(args.config)
    except EdgeError as exc:
        raise UserError(str(exc)) from exc
    if settings.role != args.role:
        raise UserError(
            f"{args.config}: [device] role: {settings.role!r}, but this is `rushline agent {args.role}`"
        )
    try:
        module = importlib.import_module(AGENTS[args.role])
    except ModuleNotFoundError as exc:
        raise UserError(f"the {args.role} agent is not installed ({exc.name})") from exc
    try:
        return int(module.run(settings) or 0)
    except EdgeError as exc:
        raise UserError(str(exc)) from exc
