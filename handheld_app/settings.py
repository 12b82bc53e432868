"""The handheld's settings file (TOML): the device and sync settings of
``sync.settings`` plus the scanner source, the optional MQTT bus for pushed hot picks
and the screen.

```toml
[device]
id = "hh-01"
site = "DE-FRA"
store = "~/.local/share/rushline/hh-01.db"  # relative = beside this file; ~ = home
[central]
url = "http://127.0.0.1:8700"
token = "..."
[scanner]
source = "wedge://"     # wedge://, serial:///dev/ttyACM0?baudrate=9600, evdev:///dev/input/..., sim://
[mqtt]                  # optional: pushed hot picks, presence, and the totes it binds
host = "127.0.0.1"
port = 1883
username = ""          # default: the device id (the shipped broker ACL's user)
password = ""          # or password_file = "broker/handheld-1.pw" (beside this file)
[ui]
width = 480
height = 800
sounds = true
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.errors import DeviceError
from devices.scanner import SCHEMES
from devices.url import parse_device_url
from sync.errors import SettingsError
from sync.settings import (
    DeviceSettings,
    parse_device_settings,
    read_settings_file,
    reject_unknown,
    settings_table,
)


@dataclass(frozen=True)
class MqttSettings:
    """Where the floor bus is (pushed tasks)."""

    host: str
    port: int = 1883
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class HandheldSettings:
    """Everything ``rushline handheld`` reads from its settings file."""

    path: Path
    device: DeviceSettings
    scanner: str = "wedge://"
    mqtt: MqttSettings | None = None
    width: int = 480
    height: int = 800
    sounds: bool = True


def _int(path: Path, table: dict[str, Any], section: str, key: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise SettingsError(f"{path}: [{section}] {key}: must be an integer 1..65535")
    return value


def _str(path: Path, table: dict[str, Any], section: str, key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise SettingsError(f"{path}: [{section}] {key}: must be a string")
    return value


def parse_handheld_settings(data: dict[str, Any], path: Path) -> HandheldSettings:
    """Build settings from a parsed TOML document; errors name the file and key."""
    reject_unknown(path, data, None, ("device", "central", "sync", "scanner", "mqtt", "ui"))
    device_table = dict(settings_table(path, data, "device"))
    store = device_table.get("store")
    if isinstance(store, str) and store.startswith("~"):
        device_table["store"] = str(Path(store).expanduser())
    device = parse_device_settings({**data, "device": device_table}, path)
    scanner_table = settings_table(path, data, "scanner")
    reject_unknown(path, scanner_table, "scanner", ("source",))
    source = _str(path, scanner_table, "scanner", "source", "wedge://").strip() or "wedge://"
    try:
        parse_device_url(source, allowed=SCHEMES)
    except DeviceError as exc:
        raise SettingsError(f"{path}: [scanner] source: {exc}") from exc
    mqtt_table = settings_table(path, data, "mqtt")
    reject_unknown(
        path, mqtt_table, "mqtt", ("host", "port", "username", "password", "password_file")
    )
    mqtt = None
    if mqtt_table.get("host"):
        password = _str(path, mqtt_table, "mqtt", "password", "")
        password_file = _str(path, mqtt_table, "mqtt", "password_file", "")
        if password_file and not password:
            secret = Path(password_file).expanduser()
            secret = secret if secret.is_absolute() else path.parent / secret
            try:
                password = secret.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(
                    f"{path}: [mqtt] password_file: cannot read {secret}: {exc.strerror or exc}"
                ) from exc
        mqtt = MqttSettings(
            host=_str(path, mqtt_table, "mqtt", "host", ""),
            port=_int(path, mqtt_table, "mqtt", "port", 1883),
            # The shipped broker ACL names each device's user after the device.
            username=_str(path, mqtt_table, "mqtt", "username", "") or device.device_id,
            password=password,
        )
    ui = settings_table(path, data, "ui")
    reject_unknown(path, ui, "ui", ("width", "height", "sounds"))
    sounds = ui.get("sounds", True)
    if not isinstance(sounds, bool):
        raise SettingsError(f"{path}: [ui] sounds: must be true or false")
    return HandheldSettings(
        path=path,
        device=device,
        scanner=source,
        mqtt=mqtt,
        width=_int(path, ui, "ui", "width", 480),
        height=_int(path, ui, "ui", "height", 800),
        sounds=sounds,
    )


def load_handheld_settings(path: str | Path) -> HandheldSettings:
    """Read the handheld settings file; ``SettingsError`` names the file and key."""
    path = Path(path)
    return parse_handheld_settings(read_settings_file(path), path)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise SettingsError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """TOML text of a document of tables holding plain values (what this file uses)."""
    out: list[str] = []
    for name, table in data.items():
        if not isinstance(table, dict):
            out.append(f"{name} = {_toml_value(table)}")
            continue
        out.append(f"\n[{name}]")
        out.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
    return "\n".join(out).lstrip("\n") + "\n"


def save_edits(path: str | Path, central_url: str, token: str, scanner: str) -> HandheldSettings:
    """Write the settings screen's edits (central URL, token, scanner source) to the
    file, after checking them; a bad value raises ``SettingsError`` and writes nothing."""
    path = Path(path)
    data = read_settings_file(path)
    data.setdefault("central", {})["url"] = central_url.strip()
    data["central"]["token"] = token.strip()
    data.setdefault("scanner", {})["source"] = scanner.strip()
    checked = parse_handheld_settings(data, path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dump_toml(data), encoding="utf-8")
    tmp.replace(path)
    return checked
