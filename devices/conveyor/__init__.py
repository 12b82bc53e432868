"""Sorter conveyors: the ``Conveyor`` port, backends chosen by URL, and a simulator.

``serial:///dev/ttyUSB1?baudrate=115200&ack_timeout=0.2&retries=3&heartbeat=2``
(DESIGN.md §4.4) or ``mqtt://host:1883/conveyor-1?site=DE-FRA&username=u&password=p``
(DESIGN.md §4.3).
"""

from __future__ import annotations

from devices.conveyor.base import (
    Conveyor,
    ConveyorEvent,
    ConveyorStatus,
    EventCallback,
    EventType,
)
from devices.conveyor.protocol import ConveyorError
from devices.errors import DeviceURLError
from devices.url import DeviceURL, parse_device_url

__all__ = [
    "Conveyor",
    "ConveyorError",
    "ConveyorEvent",
    "ConveyorStatus",
    "EventCallback",
    "EventType",
    "open_conveyor",
]

SCHEMES = ("serial", "mqtt")


def _float_option(url: DeviceURL, name: str, default: float) -> float:
    value = url.option(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise DeviceURLError(f"{url.raw}: option {name}={value!r} is not a number") from None


def open_conveyor(url: str, client_id: str | None = None) -> Conveyor:
    """Build and open the conveyor named by ``url``; errors name the URL.

    ``client_id`` is the MQTT client id (ignored for serial). Close it (or use ``with``).
    """
    parsed = parse_device_url(url, allowed=SCHEMES)
    if parsed.scheme == "serial":
        from devices.conveyor.serial import SerialConveyor

        if not parsed.path:
            raise DeviceURLError(f"{url}: no device path (serial:///dev/ttyUSB0)")
        return SerialConveyor(
            parsed.path,
            baudrate=parsed.int_option("baudrate", 115200),
            ack_timeout=_float_option(parsed, "ack_timeout", 0.2),
            retries=parsed.int_option("retries", 3),
            heartbeat=_float_option(parsed, "heartbeat", 2.0),
            backoff_max=_float_option(parsed, "backoff_max", 1.0),
        ).open()
    from devices.conveyor.mqtt import MqttConveyor

    conveyor_id = parsed.path.strip("/")
    site = parsed.option("site")
    if not parsed.host or not conveyor_id or "/" in conveyor_id or not site:
        raise DeviceURLError(
            f"{url}: expected mqtt://host[:port]/conveyor_id?site=SITE[&username=..&password=..]"
        )
    return MqttConveyor(
        host=parsed.host,
        port=parsed.port or 1883,
        conveyor_id=conveyor_id,
        site=site,
        username=parsed.option("username"),
        password=parsed.option("password"),
        client_id=client_id or parsed.option("client_id"),
        connect_timeout=_float_option(parsed, "connect_timeout", 5.0),
    ).open()
