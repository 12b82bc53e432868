"""`rushline broker passwords`: the floor bus's Mosquitto files for a site's devices.

Devices come from ``--devices id:role,...``, else ``[[devices]]`` in the site file, else
``devices.toml`` beside it, else the shipped ``config/default/devices.toml``. Passwords come
from ``RUSHLINE_MQTT_PASSWORD_<ID>`` (e.g. ``RUSHLINE_MQTT_PASSWORD_SORTER_1``) or are
generated; they are written in clear only to files with mode 0600 in ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from config.broker.generate import (
    choose_passwords,
    default_devices_path,
    devices_from_list,
    load_devices,
    write_broker_files,
)
from config.errors import ConfigError
from config.loader import default_site_path
from rushline.errors import UserError


def register(subparsers: Any) -> None:
    """Add ``rushline broker passwords``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "broker", help="MQTT broker (Mosquitto) configuration for the floor bus"
    )
    actions = parser.add_subparsers(dest="broker_action", metavar="ACTION", required=True)
    pw = actions.add_parser(
        "passwords",
        help="write mosquitto.conf, acl, passwd and per-device password files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pw.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="site file (default: config/default/site.toml)",
    )
    pw.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    pw.add_argument(
        "--devices",
        default=None,
        metavar="LIST",
        help="id:role,... instead of the site's device list",
    )
    pw.add_argument("--port", type=int, default=1883, help="listener port (default 1883)")
    pw.add_argument("--bind", default="127.0.0.1", help="listener address (default 127.0.0.1)")
    pw.add_argument(
        "--user",
        default=None,
        help="account mosquitto runs as; it must own the files (default: the current user)",
    )
    pw.set_defaults(func=run_passwords)


def run_passwords(args: argparse.Namespace) -> int:
    """Write the broker files and print what was written."""
    site_path = Path(args.config) if args.config else default_site_path()
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port: {args.port} is not a TCP port (1..65535)")
    site, devices = load_devices(site_path)
    if site is None:
        raise ConfigError(str(site_path), "site_id", "missing")
    if args.devices is not None:
        devices = devices_from_list(args.devices)
    if not devices:
        beside = site_path.parent / "devices.toml"
        source = beside if beside.is_file() else default_devices_path()
        listed_site, devices = load_devices(source)
        if not devices:
            raise ConfigError(str(source), "devices", "no [[devices]] listed")
        if listed_site is not None and listed_site != site:
            raise ConfigError(
                str(source), "site_id", f"{listed_site!r} is not the site {site!r} of {site_path}"
            )
    passwords = choose_passwords(devices)
    try:
        written = write_broker_files(
            args.out, site, devices, passwords, args.port, args.bind, args.user
        )
    except OSError as exc:
        raise UserError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from exc
    for device in devices:
        print(
            f"{device.id:<16} {device.role:<9} password file {Path(args.out) / (device.id + '.pw')}"
        )
    print(
        f"wrote {len(written)} files to {args.out}; start with: mosquitto -c {Path(args.out) / 'mosquitto.conf'}"
    )
    return 0
