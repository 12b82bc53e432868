"""Build a site's Mosquitto files: per-device ACL, PBKDF2-SHA512 password file, config.

The ACL follows the device's role (DESIGN.md §4.3, prefix ``rushline/v1/{site}``):

| role | may publish (besides its own ``dev/{id}/#`` and ``central/state``) | may also read |
|---|---|---|
| sorter | ``conveyor/{conveyor}/#`` | |
| pack | ``printer/{printer}/#``, ``order/+/event`` | ``conveyor/+/event`` |
| dock | ``printer/{printer}/#``, ``order/+/event`` | |
| dispatch | ``task/#``, ``order/+/event``, ``claim/#`` (clears claims left on closed tasks) | ``task/#``, ``claim/#`` |
| handheld | ``order/+/event``, ``claim/+/{id}`` (its own task claims) | ``task/{id}``, ``claim/#`` |
| monitor | (only its own ``dev/``) | everything of the site |
| supervisor | ``dev/+/command`` (operators' tools: the dock's ``close_pickup``) | everything of the site |
| conveyor | ``conveyor/{conveyor}/#`` (an MQTT conveyor bridge) | |

Every device reads ``dev/+/state``, ``order/+/event`` and ``central/state``.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import re
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from config.errors import ConfigError

ROLES = (
    "sorter",
    "pack",
    "dock",
    "dispatch",
    "handheld",
    "monitor",
    "supervisor",
    "conveyor",
)
PBKDF2_ITERATIONS = 10_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class BrokerDevice:
    """One client of the floor bus: its id (= MQTT username), role and station ids."""

    id: str
    role: str
    conveyor: str | None = None  # sorter: the conveyor whose topics it owns (default: id)
    printer: str | None = None  # pack/dock: the printer whose topics it owns (default: id)


def default_devices_path() -> Path:
    """The device list shipped with the package (``config/default/devices.toml``)."""
    return Path(str(resources.files("config") / "default" / "devices.toml"))


def _template(name: str) -> str:
    return (resources.files("config") / "broker" / name).read_text(encoding="utf-8")


def env_name(device_id: str) -> str:
    """The environment variable holding a device's MQTT password."""
    return "RUSHLINE_MQTT_PASSWORD_" + re.sub(r"[^A-Za-z0-9]", "_", device_id).upper()


def parse_devices(entries: Any, file: str) -> list[BrokerDevice]:
    """Validate a ``[[devices]]`` list (each {id, role, conveyor?, printer?})."""
    if not isinstance(entries, list) or not entries:
        raise ConfigError(file, "devices", "must be a non-empty list of [[devices]] tables")
    found: list[BrokerDevice] = []
    for i, entry in enumerate(entries):
        key = f"devices[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(file, key, "must be a table")
        unknown = sorted(set(entry) - {"id", "role", "conveyor", "printer"})
        if unknown:
            raise ConfigError(file, f"{key}.{unknown[0]}", "unknown key")
        ident = entry.get("id")
        if not isinstance(ident, str) or not _ID.match(ident):
            raise ConfigError(
                file, f"{key}.id", f"{ident!r} is not a device id (letters, digits, - _ .)"
            )
        if ident in {d.id for d in found}:
            raise ConfigError(file, f"{key}.id", f"duplicate id {ident!r}")
        role = entry.get("role")
        if role not in ROLES:
            raise ConfigError(
                file, f"{key}.role", f"must be one of {', '.join(ROLES)}, got {role!r}"
            )
        station: dict[str, str | None] = {}
        for name in ("conveyor", "printer"):
            value = entry.get(name)
            if value is not None and (not isinstance(value, str) or not _ID.match(value)):
                raise ConfigError(file, f"{key}.{name}", f"{value!r} is not a {name} id")
            station[name] = value
        found.append(BrokerDevice(ident, role, **station))
    return found


def load_devices(path: str | Path) -> tuple[str | None, list[BrokerDevice]]:
    """Read ``site``/``site_id`` and ``[[devices]]`` from a TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "", "no such file") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from exc
    site = data.get("site_id", data.get("site"))
    if site is not None and (not isinstance(site, str) or not _ID.match(site)):
        raise ConfigError(str(path), "site", f"{site!r} is not a site id")
    if "devices" not in data:
        return site, []
    return site, parse_devices(data["devices"], str(path))


def devices_from_list(text: str) -> list[BrokerDevice]:
    """``--devices sorter-1:sorter,pack-1:pack,...`` (``id:role``) as devices."""
    entries = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        ident, sep, role = item.partition(":")
        if not sep:
            raise ConfigError("--devices", item, "expected id:role (e.g. sorter-1:sorter)")
        entries.append({"id": ident.strip(), "role": role.strip()})
    return parse_devices(entries, "--devices")


def acl_rules(device: BrokerDevice, site: str) -> list[str]:
    """The ``topic`` lines of one device (mosquitto acl syntax)."""
    p = f"rushline/v1/{site}"
    rules = [
        f"topic readwrite {p}/dev/{device.id}/#",
        f"topic readwrite {p}/central/state",
        f"topic read {p}/dev/+/state",
        f"topic read {p}/order/+/event",
    ]
    if device.role in ("sorter", "conveyor"):
        rules.append(f"topic readwrite {p}/conveyor/{device.conveyor or device.id}/#")
    elif device.role in ("pack", "dock"):
        rules.append(f"topic readwrite {p}/printer/{device.printer or device.id}/#")
        # A station announces the orders it packed or shipped, so the others learn it
        # even while the central server is away.
        rules.append(f"topic write {p}/order/+/event")
        if device.role == "pack":
            rules.append(f"topic read {p}/conveyor/+/event")
    elif device.role == "dispatch":
        rules += [
            f"topic readwrite {p}/task/#",
            f"topic write {p}/order/+/event",
            # It reads the handhelds' task claims, and clears those left on closed tasks.
            f"topic readwrite {p}/claim/#",
        ]
    elif device.role == "handheld":
        # A handheld says which tote an order went into, for the sorter and the stations,
        # and which tasks its picker works on (only under its own id), for the others.
        rules += [
            f"topic read {p}/task/{device.id}",
            f"topic write {p}/order/+/event",
            f"topic read {p}/claim/#",
            f"topic readwrite {p}/claim/+/{device.id}",
        ]
    elif device.role == "monitor":
        rules.append(f"topic read {p}/#")
    elif device.role == "supervisor":
        rules += [f"topic read {p}/#", f"topic write {p}/dev/+/command"]
    return rules


def acl_text(site: str, devices: Iterable[BrokerDevice]) -> str:
    """The whole ACL file for ``devices`` at ``site``."""
    lines = [
        _template("header.template.acl").format(site=site, prefix=f"rushline/v1/{site}").rstrip()
    ]
    for device in devices:
        lines += [
            "",
            f"# {device.id} ({device.role})",
            f"user {device.id}",
            *acl_rules(device, site),
        ]
    return "\n".join(lines) + "\n"


def hash_password(
    password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """Mosquitto's ``$7$`` password hash: PBKDF2-SHA512, 12-byte salt, base64 fields."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def passwd_text(passwords: Mapping[str, str]) -> str:
    """A mosquitto password file: ``user:$7$...`` per line."""
    return "".join(f"{user}:{hash_password(pw)}\n" for user, pw in passwords.items())


def choose_passwords(
    devices: Iterable[BrokerDevice], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each device's password from ``RUSHLINE_MQTT_PASSWORD_<ID>``, else a new random one."""
    env = os.environ if env is None else env
    return {d.id: env.get(env_name(d.id)) or secrets.token_urlsafe(18) for d in devices}


def conf_text(
    out_dir: Path, site: str, port: int = 1883, bind: str = "127.0.0.1", user: str | None = None
) -> str:
    """mosquitto.conf pointing at the passwd and acl files in ``out_dir``; ``user`` is the
    account mosquitto runs as (default: the one writing the files, who owns them)."""
    out_dir = out_dir.resolve()
    return _template("mosquitto.template.conf").format(
        user=user or getpass.getuser(),
        site=site,
        port=port,
        bind=bind,
        conf_path=out_dir / "mosquitto.conf",
        passwd_path=out_dir / "passwd",
        acl_path=out_dir / "acl",
        data_dir=out_dir / "data",
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def write_broker_files(
    out_dir: str | Path,
    site: str,
    devices: list[BrokerDevice],
    passwords: Mapping[str, str],
    port: int = 1883,
    bind: str = "127.0.0.1",
    user: str | None = None,
) -> list[Path]:
    """Write mosquitto.conf, acl, passwd (hashed) and the clear passwords (``passwords.toml``
    and ``<id>.pw``, 0600, for the agents' ``password_file``); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    written = [out / "mosquitto.conf", out / "acl", out / "passwd", out / "passwords.toml"]
    (out / "mosquitto.conf").write_text(conf_text(out, site, port, bind, user), encoding="utf-8")
    _write_private(out / "acl", acl_text(site, devices))
    _write_private(out / "passwd", passwd_text({d.id: passwords[d.id] for d in devices}))
    _write_private(
        out / "passwords.toml",
        "# MQTT passwords in clear: keep this file private.\n"
        + "".join(f'"{d.id}" = "{passwords[d.id]}"\n' for d in devices),
    )
    for device in devices:
        path = out / f"{device.id}.pw"
        _write_private(path, passwords[device.id] + "\n")
        written.append(path)
    return written
