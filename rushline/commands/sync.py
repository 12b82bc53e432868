"""`rushline sync --config FILE`: one sync round of a device store, then a summary."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rushline.errors import UserError
from sync.client import SyncClient
from sync.errors import SyncError
from sync.settings import load_device_settings
from sync.store import LocalStore


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sync",
        help="push a device's outbox and pull the change feed once",
        description="One sync round of the device store named in a device settings file "
        "([device] id, site, store; [central] url, token). Exit 1 when central is "
        "unreachable or refuses the round.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="device settings TOML")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Do one round and print pushed/acked/rejected/pulled, pending left and the cursor."""
    try:
        settings = load_device_settings(args.config)
        store = LocalStore(settings.store, settings.device_id, settings.site)
    except SyncError as exc:
        raise UserError(str(exc)) from exc
    with (
        store,
        SyncClient(
            store,
            settings.central_url,
            settings.token,
            batch_size=settings.batch_size,
            timeout=settings.timeout,
        ) as client,
    ):
        result = client.run_once()
    print(
        f"device {settings.device_id}: pushed {result.pushed}, acked {result.acked}, "
        f"rejected {result.rejected}, pulled {result.pulled}, pending {result.pending}, "
        f"cursor {result.cursor}"
    )
    if not result.ok:
        print(f"rushline: sync failed ({result.error_kind}): {result.error}", file=sys.stderr)
        return 1
    return 0
