"""Device URLs, the way pyserial chooses a backend: ``scheme://rest?option=value``.

Examples: ``serial:///dev/ttyACM0?baudrate=9600``, ``evdev:///dev/input/by-id/x-event-kbd``,
``tcp://10.0.0.5:9100``, ``mqtt://conveyor-1``, ``sim://``, ``dummy://``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from devices.errors import DeviceURLError


@dataclass(frozen=True)
class DeviceURL:
    """A parsed device URL: ``scheme``, ``host``, ``port``, ``path`` and string options."""

    raw: str
    scheme: str
    host: str = ""
    port: int | None = None
    path: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def int_option(self, name: str, default: int) -> int:
        value = self.options.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise DeviceURLError(
                f"{self.raw}: option {name}={value!r} is not a whole number"
            ) from None


def parse_device_url(raw: str, allowed: tuple[str, ...] = ()) -> DeviceURL:
    """Parse ``raw``; with ``allowed`` given, any other scheme is a clear error."""
    if "://" not in raw:
        raise DeviceURLError(f"{raw!r} is not a device URL (expected scheme://...)")
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if allowed and scheme not in allowed:
        raise DeviceURLError(
            f"{raw}: unknown backend {scheme!r} (expected one of: {', '.join(allowed)})"
        )
    try:
        port = parts.port
    except ValueError:
        raise DeviceURLError(f"{raw}: port is not a number") from None
    return DeviceURL(
        raw=raw,
        scheme=scheme,
        host=parts.hostname or "",
        port=port,
        path=parts.path,
        options=dict(parse_qsl(parts.query)),
    )
