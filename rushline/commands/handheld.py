"""`rushline handheld [--config FILE]`: the Kivy handheld app for pickers."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path
from typing import Any

from rushline.errors import UserError
from sync.errors import SyncError


def default_config() -> Path:
    """The handheld settings that ship with the package."""
    return Path(str(resources.files("config.default").joinpath("handheld.toml")))


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "handheld",
        help="the Kivy handheld app for pickers",
        description="The picker handheld: badge sign-in, urgent tasks first, scan-driven "
        "pick flow, short picks, tote drop, stock lookup. Works offline from its SQLite "
        "store and syncs with central in the background.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="handheld settings TOML (default: the packaged config/default/handheld.toml)",
    )
    parser.add_argument("--operator", metavar="ID", help="sign in as ID (no badge prompt)")
    parser.add_argument("--offline", action="store_true", help="do not sync with central")
    parser.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the settings (one clear line on a mistake) and run the app."""
    from handheld_app.settings import load_handheld_settings

    path = Path(args.config) if args.config else default_config()
    try:
        settings = load_handheld_settings(path)
    except SyncError as exc:
        raise UserError(str(exc)) from exc
    if args.operator is not None:
        from handheld_app.presenters.signin import SignInPresenter

        outcome = SignInPresenter().typed(args.operator)
        if outcome.operator is None:
            raise UserError(f"--operator: {outcome.feedback.message}")
        args.operator = outcome.operator
    from handheld_app.launch import main

    return main(
        settings,
        operator=args.operator,
        use_sync=not args.offline,
        exit_when_ready=args.exit_when_ready,
    )
