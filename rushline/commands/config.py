"""`rushline config check`: load and validate a site, then report problems one per line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from config.loader import default_site_path, load_site
from config.models import SiteConfig
from domain.models import LocationKind


def default_config_path() -> Path:
    """``config/default/site.toml`` of the project (or of the installed package)."""
    return default_site_path()


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--config FILE`` option every command shares."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="site file (default: config/default/site.toml)",
    )


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "config", help="check configuration", description="Configuration tools."
    )
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION")
    check = actions.add_parser("check", help="validate a site file and its devices")
    add_config_argument(check)
    check.set_defaults(func=run_check)

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)


def check_devices(site: SiteConfig) -> list[str]:
    """Problems with the site's configured devices, one line each (none configured yet)."""
    return []


def summary_lines(site: SiteConfig) -> list[str]:
    """A short, human summary of what the site file holds."""
    pick = sum(1 for loc in site.locations if loc.kind is LocationKind.PICK)
    return [
        f"site {site.site_id}: {site.path}",
        f"  master data: {site.masterdata_path}",
        f"  warehouses: {len(site.warehouses)} ({', '.join(w.id for w in site.warehouses)})",
        f"  bins: {len(site.locations)} ({pick} pick, {len(site.locations) - pick} other)",
        f"  skus: {len(site.skus)}, stock records: {len(site.stock)}",
        f"  carrier services: {len(site.carriers)}, cartons: {len(site.cartons)}",
    ]


def run_check(args: argparse.Namespace) -> int:
    """Load the site (a fault raises ConfigError: one line, exit 2), then check devices."""
    site = load_site(args.config or default_config_path())
    for line in summary_lines(site):
        print(line)
    problems = check_devices(site)
    for problem in problems:
        print(f"problem: {problem}")
    if problems:
        return 2
    print("config OK")
    return 0
