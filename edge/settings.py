"""An agent's settings file (TOML): the device settings of ``sync.settings`` plus its role,
the MQTT broker, its device URLs and a role-specific table.

```toml
[device]
id = "sorter-1"            # device id: MQTT client id and username, as in its token
site = "DE-FRA"            # warehouse (site) it works in; MQTT topics use it
role = "sorter"            # sorter | pack | dock | dispatch | handheld | monitor
store = "sorter-1.db"      # SQLite file; relative to this file's folder
[central]
url = "http://127.0.0.1:8700"
token = "..."              # device token (rushline central token --role device ...)
[sync]                     # optional, as in sync.settings
interval = 1.0
[mqtt]
host = "127.0.0.1"
port = 1883
username = "sorter-1"      # default: the device id
password = "..."           # or password_file = "secrets/sorter-1.pw" (relative to this file)
keepalive = 15             # seconds
session_expiry = 3600      # seconds the broker keeps our session while we are away
[devices]                  # device URLs (devices/ backends); each optional
conveyor = "serial:///dev/ttyUSB1?baudrate=115200"
scanner = "serial:///dev/ttyACM0"
printer = "tcp://10.0.0.5:9100"
[sorter]                   # the role's own table, read by the agent (``settings.role_table``)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from edge.errors import AgentSettingsError
from sync.errors import SettingsError
from sync.settings import (
    AGENT_DEVICE_KEYS,
    DeviceSettings,
    parse_device_settings,
    read_settings_file,
    reject_unknown,
    settings_table,
)

ROLES = ("sorter", "pack", "dock", "dispatch", "handheld", "monitor")
_KNOWN_TABLES = {"device", "central", "sync", "mqtt", "devices", *ROLES}
_DEVICE_URLS = ("conveyor", "scanner", "printer")


@dataclass(frozen=True)
class MqttSettings:
    """Where the floor bus is and how this device logs in."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    keepalive: int = 15
    session_expiry: int = 3600


@dataclass(frozen=True)
class DeviceUrls:
    """The device URLs an agent opens (``None`` when it has none of that kind)."""

    conveyor: str | None = None
    scanner: str | None = None
    printer: str | None = None


@dataclass(frozen=True)
class AgentSettings:
    """Everything one floor agent needs; ``sync`` is what LocalStore/SyncClient take."""

    path: Path
    role: str
    sync: DeviceSettings
    mqtt: MqttSettings
    devices: DeviceUrls = DeviceUrls()
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def device_id(self) -> str:
        """This device's id."""
        return self.sync.device_id

    @property
    def site(self) -> str:
        """The warehouse this device works in."""
        return self.sync.site

    @property
    def store(self) -> Path:
        """The device's SQLite store file."""
        return self.sync.store

    @property
    def bus_store(self) -> Path:
        """The bus's own SQLite file (outbox, seq counter, dedupe window), beside the store."""
        return self.store.with_name(self.store.name + ".bus")

    def role_table(self, name: str | None = None) -> Mapping[str, Any]:
        """The role-specific table (default: this agent's role), empty when absent."""
        return self.tables.get(name or self.role, MappingProxyType({}))

    def fail(self, key: str, problem: str) -> AgentSettingsError:
        """An error naming this settings file and ``key`` (e.g. ``sorter.express_lane``)."""
        return AgentSettingsError(f"{self.path}: {key}: {problem}")


def _table(path: Path, data: Mapping[str, Any], name: str) -> dict[str, Any]:
    return settings_table(path, data, name, AgentSettingsError)


def _int(path: Path, table: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise AgentSettingsError(
            f"{path}: [mqtt] {key}: must be a whole number from {lo} to {hi}, got {value!r}"
        )
    return value


def _opt_text(path: Path, table: Mapping[str, Any], section: str, key: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise AgentSettingsError(f"{path}: [{section}] {key}: must be a non-empty string")
    return value.strip()


def _mqtt(path: Path, table: Mapping[str, Any], device_id: str) -> MqttSettings:
    reject_unknown(
        path,
        table,
        "mqtt",
        ("host", "port", "username", "password", "password_file", "keepalive", "session_expiry"),
        AgentSettingsError,
    )
    password = _opt_text(path, table, "mqtt", "password")
    password_file = _opt_text(path, table, "mqtt", "password_file")
    if password is not None and password_file is not None:
        raise AgentSettingsError(
            f"{path}: [mqtt] password_file: give password or password_file, not both"
        )
    if password_file is not None:
        secret = Path(password_file)
        if not secret.is_absolute():
            secret = path.parent / secret
        try:
            password = secret.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AgentSettingsError(
                f"{path}: [mqtt] password_file: cannot read {secret}: {exc.strerror or exc}"
            ) from exc
        if not password:
            raise AgentSettingsError(f"{path}: [mqtt] password_file: {secret} is empty")
    return MqttSettings(
        host=_opt_text(path, table, "mqtt", "host") or "127.0.0.1",
        port=_int(path, table, "port", 1883, 1, 65535),
        username=_opt_text(path, table, "mqtt", "username") or device_id,
        password=password,
        keepalive=_int(path, table, "keepalive", 15, 1, 3600),
        session_expiry=_int(path, table, "session_expiry", 3600, 0, 2**32 - 1),
    )


def parse_agent_settings(data: Mapping[str, Any], path: Path) -> AgentSettings:
    """Build settings from a parsed TOML document; errors name ``path`` and the key."""
    reject_unknown(path, data, None, _KNOWN_TABLES, AgentSettingsError)
    try:
        device_settings = parse_device_settings(dict(data), path, AGENT_DEVICE_KEYS)
    except SettingsError as exc:
        raise AgentSettingsError(str(exc)) from exc
    device = _table(path, data, "device")
    role = device.get("role")
    if role not in ROLES:
        raise AgentSettingsError(
            f"{path}: [device] role: must be one of {', '.join(ROLES)}, got {role!r}"
        )
    urls = _table(path, data, "devices")
    unknown = sorted(set(urls) - set(_DEVICE_URLS))
    if unknown:
        raise AgentSettingsError(
            f"{path}: [devices] {unknown[0]}: unknown device (known: {', '.join(_DEVICE_URLS)})"
        )
    devices = DeviceUrls(**{k: _opt_text(path, urls, "devices", k) for k in _DEVICE_URLS})
    tables = {
        name: MappingProxyType(dict(_table(path, data, name))) for name in ROLES if name in data
    }
    return AgentSettings(
        path=path,
        role=str(role),
        sync=device_settings,
        mqtt=_mqtt(path, _table(path, data, "mqtt"), device_settings.device_id),
        devices=devices,
        tables=MappingProxyType(tables),
    )


def load_agent_settings(path: str | Path) -> AgentSettings:
    """Read an agent settings TOML file; ``AgentSettingsError`` names the file and key."""
    path = Path(path)
    return parse_agent_settings(read_settings_file(path, AgentSettingsError), path)
