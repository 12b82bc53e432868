"""`rushline config check`: validate a site file, or an agent or handheld settings file
and open each device it configures; report problems one per line (exit 2 on any).

* A site file (the default): loaded and summarised.
* A settings file with a ``[device]`` table: validated with the agent loader
  (``edge.settings``; for role pack/dock also its ``[pack]``/``[dock]`` table) or, for a
  handheld (role ``handheld`` or none, no ``[devices]`` table), the handheld loader; then
  every configured device URL (conveyor, scanner, printer) is opened once with a short
  timeout and closed again (``edge.device_check``).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from config.loader import default_site_path, load_site
from config.models import SiteConfig
from domain.models import LocationKind
from rushline.errors import UserError


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
    check = actions.add_parser(
        "check",
        help="validate a site file, or an agent/handheld settings file and its devices",
    )
    check.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="site file (default: config/default/site.toml), or an agent or handheld "
        "settings file (has a [device] table): its devices are opened once",
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for each device (default: 2)",
    )
    check.set_defaults(func=run_check)

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)


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


def _settings_document(path: Path) -> dict[str, Any] | None:
    """The file as TOML when it is a device settings file (has ``[device]``), else None
    (a site file, or a file the site loader will report on)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return data if isinstance(data.get("device"), dict) else None


def _is_handheld(data: dict[str, Any]) -> bool:
    role = data["device"].get("role")
    return role in (None, "handheld") and "devices" not in data


def check_settings_file(path: Path, data: dict[str, Any], timeout: float) -> int:
    """Validate an agent or handheld settings file, then open each configured device."""
    from edge.device_check import check_devices
    from edge.errors import EdgeError
    from sync.errors import SyncError

    profile: str | None = None
    urls: dict[str, str | None]
    try:
        if _is_handheld(data):
            from handheld_app.settings import load_handheld_settings

            handheld = load_handheld_settings(path)
            device, urls = handheld.device, {"scanner": handheld.scanner}
            print(f"handheld {device.device_id} at site {device.site}: {path}")
            if handheld.mqtt is not None:
                print(f"  mqtt: {handheld.mqtt.host}:{handheld.mqtt.port}")
        else:
            from edge.settings import load_agent_settings

            agent = load_agent_settings(path)
            device = agent.sync
            urls = {
                "conveyor": agent.devices.conveyor,
                "scanner": agent.devices.scanner,
                "printer": agent.devices.printer,
            }
            print(f"{agent.role} agent {device.device_id} at site {device.site}: {path}")
            print(f"  mqtt: {agent.mqtt.host}:{agent.mqtt.port} as {agent.mqtt.username}")
            if agent.role in ("pack", "dock"):
                from edge.agents.dock import DockAgent
                from edge.agents.pack import PackAgent
                from edge.agents.station_shell import station_settings

                keys = (PackAgent if agent.role == "pack" else DockAgent).table_keys
                station = station_settings(agent, keys)
                profile = station.printer_profile
                print(f"  [{agent.role}] site: {station.site.path}, printer {station.printer_id}")
    except (EdgeError, SyncError) as exc:
        raise UserError(str(exc)) from exc
    print(f"  store: {device.store}")
    print(f"  central: {device.central_url}")
    if not any(urls.values()):
        print("  devices: none configured")
    results = check_devices(urls, device.device_id, profile, timeout)
    for result in results:
        print(f"  {result.line()}" if result.ok else f"problem: {result.line()}")
    if any(not r.ok for r in results):
        return 2
    print("config OK")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """A settings file: validate it and open its devices. A site file: load it (a fault
    raises ConfigError: one line, exit 2). Exit 2 on any problem."""
    path = args.config or default_config_path()
    timeout = getattr(args, "timeout", 2.0)
    if not 0 < timeout <= 60:
        raise UserError(f"--timeout: must be more than 0 and at most 60 seconds, got {timeout:g}")
    data = _settings_document(path)
    if data is not None:
        return check_settings_file(path, data, timeout)
    site = load_site(path)
    for line in summary_lines(site):
        print(line)
    print("config OK")
    return 0
