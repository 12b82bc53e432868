"""Typed, strict reading of one table of a parsed TOML/JSON document.

Every getter names the full key path in its error; ``finish()`` rejects keys nobody
asked for, so a typo (``cutof = "17:00"``) fails instead of silently using a default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, time
from typing import Any, TypeVar

from config.errors import ConfigError

T = TypeVar("T")
_MISSING: Any = object()
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Table:
    """One mapping inside a config file, read key by key with the key path kept."""

    def __init__(self, file: str, data: Any, path: str = "") -> None:
        self.file = file
        self.path = path
        if not isinstance(data, Mapping):
            raise ConfigError(file, path or "(top level)", f"expected a table, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted path of ``name`` inside this table, for error messages."""
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> ConfigError:
        """An error about key ``name`` of this table (raise it)."""
        return ConfigError(self.file, self.key(name), problem)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        """The value as parsed, marking the key as known; missing and no default -> error."""
        self._seen.add(name)
        if name not in self.data:
            if default is _MISSING:
                raise self.fail(name, "is required")
            return default
        return self.data[name]

    def text(self, name: str, default: Any = _MISSING, *, nonempty: bool = True) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.fail(name, f"{value!r} is not a string")
        if nonempty and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def integer(
        self, name: str, default: Any = _MISSING, *, min: int | None = None, max: int | None = None
    ) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"{value!r} is not a whole number")
        _check_range(self, name, value, min, max)
        return value

    def number(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"{value!r} is not a number")
        _check_range(self, name, value, min, max)
        return float(value)

    def flag(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, bool):
            raise self.fail(name, f"{value!r} is not true or false")
        return value

    def texts(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, f"{value!r} is not a list of strings")
        return tuple(value)

    def int_triple(self, name: str) -> tuple[int, int, int]:
        """Three positive whole numbers, e.g. ``dims_mm = [220, 140, 90]``."""
        value = self.raw(name)
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        ):
            raise self.fail(name, f"{value!r} is not three positive whole numbers")
        return (value[0], value[1], value[2])

    def hhmm(self, name: str) -> time:
        """A ``"HH:MM"`` clock time."""
        value = self.raw(name)
        match = _HHMM.match(value) if isinstance(value, str) else None
        if match is None:
            raise self.fail(name, f"{value!r} is not a HH:MM time")
        return time(int(match.group(1)), int(match.group(2)))

    def day(self, name: str, default: Any = _MISSING) -> Any:
        """A ``YYYY-MM-DD`` date (TOML date or string)."""
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(name, f"{value!r} is not a YYYY-MM-DD date")

    def table(self, name: str, default: Any = _MISSING) -> Table:
        value = self.raw(name, {} if default is not _MISSING else _MISSING)
        return Table(self.file, value, self.key(name))

    def tables(self, name: str, default: Any = _MISSING) -> list[Table]:
        """An array of tables (``[[name]]`` or a list of inline tables)."""
        value = self.raw(name, default)
        if not isinstance(value, list):
            raise self.fail(name, f"expected a list of tables, got {_kind(value)}")
        return [Table(self.file, item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]

    def each(self, name: str, build: Callable[[Table], T], default: Any = _MISSING) -> list[T]:
        """Build one object from every table of an array, checking each for unknown keys."""
        result = []
        for item in self.tables(name, default):
            result.append(build(item))
            item.finish()
        return result

    def finish(self) -> None:
        """Reject keys that no getter asked for: typos must not pass silently."""
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            raise self.fail(unknown[0], f"unknown key (known keys here: {known})")


def _check_range(
    table: Table, name: str, value: float, low: float | None, high: float | None
) -> None:
    if low is not None and value < low:
        raise table.fail(name, f"{value!r} is below the minimum {low}")
    if high is not None and value > high:
        raise table.fail(name, f"{value!r} is above the maximum {high}")


def _kind(value: Any) -> str:
    names: dict[type, str] = {list: "a list", dict: "a table", str: "a string"}
    return names.get(type(value), type(value).__name__)
