"""A device's settings file (TOML): who it is, where its store lives, where central is.

```toml
[device]
id = "hh-01"          # device id, as in its token
site = "DE-FRA"       # the warehouse it works in
store = "hh-01.db"    # SQLite file; relative to this file's folder
[central]
url = "http://127.0.0.1:8700"
token = "..."         # device token (rushline central token --role device ...)
[sync]                # optional
interval = 1.0        # seconds between rounds when idle
batch_size = 500      # ops per push (max 1000)
timeout = 5.0         # HTTP timeout, seconds
```
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.errors import SettingsError


@dataclass(frozen=True)
class DeviceSettings:
    """What a device needs to open its store and reach the central server."""

    device_id: str
    site: str
    store: Path
    central_url: str
    token: str
    interval: float = 1.0
    batch_size: int = 500
    timeout: float = 5.0


def read_settings_file(path: Path, error: type[Exception] = SettingsError) -> dict[str, Any]:
    """The parsed TOML document at ``path``; ``error`` names the file and what is wrong."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid TOML: {exc}") from exc


def settings_table(
    path: Path, data: Mapping[str, Any], name: str, error: type[Exception] = SettingsError
) -> dict[str, Any]:
    """The table ``[name]`` of a settings document, ``{}`` when absent; ``error`` if not a table."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise error(f"{path}: [{name}]: must be a table")
    return table


def reject_unknown(
    path: Path,
    table: Mapping[str, Any],
    section: str | None,
    known: Collection[str],
    error: type[Exception] = SettingsError,
) -> None:
    """``error`` naming the first key of ``[section]`` (the top level when None) that is
    not ``known``: a misspelt setting is refused instead of silently left at its default."""
    for key in table:
        if key not in known:
            where = (
                f"[{key}]: unknown table" if section is None else f"[{section}] {key}: unknown key"
            )
            raise error(f"{path}: {where}{did_you_mean(key, known)}")


def did_you_mean(key: str, known: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` naming the known key closest to a misspelt one, or ''."""
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# The keys of the tables every device settings file has.
DEVICE_KEYS = ("id", "site", "store")
# An agent's ``[device]`` also names its role (pack, sorter, dock, ...).
AGENT_DEVICE_KEYS = (*DEVICE_KEYS, "role")
CENTRAL_KEYS = ("url", "token")
SYNC_KEYS = ("interval", "batch_size", "timeout")


def _text(path: Path, table: dict[str, Any], section: str, key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{path}: [{section}] {key}: required, a non-empty string")
    return value.strip()


def _number(
    path: Path, table: dict[str, Any], key: str, default: float, lo: float, hi: float
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise SettingsError(
            f"{path}: [sync] {key}: must be a number from {lo} to {hi}, got {value!r}"
        )
    return float(value)


def parse_device_settings(
    data: dict[str, Any], path: Path, device_keys: Collection[str] = DEVICE_KEYS
) -> DeviceSettings:
    """Build settings from a parsed TOML document; ``path`` names it in errors and
    anchors a relative store path. ``device_keys`` are the keys ``[device]`` may have
    (a file with more tables adds its own)."""
    sections: dict[str, dict[str, Any]] = {}
    known = {"device": device_keys, "central": CENTRAL_KEYS, "sync": SYNC_KEYS}
    for name, keys in known.items():
        table = settings_table(path, data, name)
        if name != "sync" and not table:
            raise SettingsError(f"{path}: [{name}]: missing")
        reject_unknown(path, table, name, keys)
        sections[name] = table
    device, central, sync = sections["device"], sections["central"], sections["sync"]
    store = Path(_text(path, device, "device", "store"))
    if not store.is_absolute():
        store = path.parent / store
    url = _text(path, central, "central", "url")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(
            f"{path}: [central] url: must start with http:// or https://, got {url!r}"
        )
    return DeviceSettings(
        device_id=_text(path, device, "device", "id"),
        site=_text(path, device, "device", "site"),
        store=store,
        central_url=url.rstrip("/"),
        token=_text(path, central, "central", "token"),
        interval=_number(path, sync, "interval", 1.0, 0.01, 3600),
        batch_size=int(_number(path, sync, "batch_size", 500, 1, 1000)),
        timeout=_number(path, sync, "timeout", 5.0, 0.1, 600),
    )


def load_device_settings(path: str | Path) -> DeviceSettings:
    """Read a device settings TOML file (a handheld's or an agent's, whose ``[device]``
    also has a ``role``); ``SettingsError`` names the file and key. Tables other than
    these are left to the program the file is for."""
    path = Path(path)
    return parse_device_settings(read_settings_file(path), path, AGENT_DEVICE_KEYS)
