"""Fixtures shared by the edge tests: the floor broker with the shipped device list,
ACL and passwords (authentication on), agent settings files, and a central server.

* ``floor_broker`` -> ``FloorBroker``: real Mosquitto on a free port, password file made by
  ``config.broker.generate`` (PBKDF2 ``$7$``), the ACL of ``config/default/devices.toml``
  (sorter-1/conveyor-1, pack-1/printer-pack-1, dock-1/printer-dock-1, dispatch-1,
  handheld-1..3, monitor-1); every password is ``pw-<id>``.
* ``agent_settings`` -> ``make(device_id, **options) -> AgentSettings``: writes a settings
  TOML under tmp_path and loads it with ``load_agent_settings``. Options: ``role``
  (default: the device list's), ``central_url``/``token`` (default: a closed port, so
  sync is offline), ``devices`` {conveyor, scanner, printer}, ``tables`` {role: {...}},
  ``sync`` {interval...}, ``broker`` (default: ``floor_broker``), ``password``.
* ``floor_central`` -> ``FloorCentral``: the ``central_server`` fixture of
  tests/support/fixtures_central.py (``.server``: restartable, default master data) with
  ``url`` and ``device_token(device_id)`` for this site.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from config.broker.generate import (
    BrokerDevice,
    acl_text,
    default_devices_path,
    load_devices,
    passwd_text,
)
from edge.settings import AgentSettings, load_agent_settings
from tests.support.broker import Broker
from tests.support.waiting import free_port, wait_until

if TYPE_CHECKING:
    from handheld_app.tasks_push import TaskPush

SITE = "DE-FRA"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_text(tables: dict[str, dict[str, Any]]) -> str:
    """A TOML document of plain tables (enough for settings files)."""
    out = []
    for name, table in tables.items():
        out.append(f"[{name}]")
        out += [
            f"{key} = {_toml_value(value)}" for key, value in table.items() if value is not None
        ]
        out.append("")
    text = "\n".join(out)
    tomllib.loads(text)  # fail here, not in the code under test
    return text


@dataclass
class FloorBroker(Broker):
    """The test broker with the shipped device list, its ACL and our own password file."""

    site: str = SITE
    devices: list[BrokerDevice] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)

    def config_text(self) -> str:
        text = super().config_text()
        head = text[: len(text) - len(self.extra)]
        return (
            head.replace("allow_anonymous true\n", "")
            + "allow_anonymous false\n"
            + f"password_file {self.workdir}/passwd\n"
            + self.extra
        )

    def start(self) -> FloorBroker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        passwd = self.workdir / "passwd"
        passwd.write_text(passwd_text(self.passwords))
        passwd.chmod(0o600)
        self.acl = acl_text(self.site, self.devices)
        super().start()
        return self

    def role_of(self, device_id: str) -> str:
        for device in self.devices:
            if device.id == device_id:
                return device.role
        raise KeyError(f"{device_id} is not in the floor device list")


def handheld_on_bus(
    broker: FloorBroker, device: str, on_task: Callable[[dict[str, Any]], None] | None = None
) -> TaskPush:
    """``device``'s own handheld bus client, logged in and connected (stop it after)."""
    from handheld_app.tasks_push import TaskPush

    handheld = TaskPush(
        "127.0.0.1",
        broker.port,
        broker.site,
        device,
        on_task or (lambda task: None),
        username=device,
        password=broker.passwords[device],
    )
    handheld.start()
    try:
        wait_until(lambda: handheld.connected, timeout=10, what=f"{device} on the bus")
    except BaseException:
        handheld.stop()
        raise
    return handheld


def handheld_announces(
    broker: FloorBroker, order_id: str, tote: str, heard: Callable[[], object]
) -> None:
    """handheld-1's own bus client says that ``order_id`` is in ``tote``; returns once
    ``heard()`` is true (the listener got it)."""
    handheld = handheld_on_bus(broker, "handheld-1")
    try:
        handheld.announce_tote(order_id, tote)
        wait_until(heard, what=f"{tote} announced for {order_id}")
    finally:
        handheld.stop()


@pytest.fixture
def floor_broker(tmp_path: Path) -> Iterator[FloorBroker]:
    """Mosquitto with authentication and the shipped per-device ACL."""
    site, devices = load_devices(default_devices_path())
    broker = FloorBroker(
        workdir=tmp_path / "floor-broker",
        site=site or SITE,
        devices=devices,
        passwords={d.id: f"pw-{d.id}" for d in devices},
    ).start()
    try:
        yield broker
    finally:
        broker.stop()


AgentSettingsFactory = Callable[..., AgentSettings]


@pytest.fixture
def agent_settings(tmp_path: Path, floor_broker: FloorBroker) -> AgentSettingsFactory:
    """A factory of agent settings files (see the module docstring)."""
    closed_port = free_port()

    def make(
        device_id: str,
        role: str | None = None,
        central_url: str | None = None,
        token: str = "no-token",
        devices: dict[str, str] | None = None,
        tables: dict[str, dict[str, Any]] | None = None,
        sync: dict[str, Any] | None = None,
        broker: Broker | None = None,
        password: str | None = None,
        site: str = SITE,
    ) -> AgentSettings:
        broker = broker or floor_broker
        folder = tmp_path / "agents" / device_id
        folder.mkdir(parents=True, exist_ok=True)
        doc: dict[str, dict[str, Any]] = {
            "device": {
                "id": device_id,
                "site": site,
                "role": role or floor_broker.role_of(device_id),
                "store": f"{device_id}.db",
            },
            "central": {
                "url": central_url or f"http://127.0.0.1:{closed_port}",
                "token": token,
            },
            "sync": {"interval": 0.2, "timeout": 2.0, **(sync or {})},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "username": device_id,
                "password": password or floor_broker.passwords.get(device_id, "none"),
                "keepalive": 5,
            },
        }
        if devices:
            doc["devices"] = dict(devices)
        doc.update(tables or {})
        path = folder / "agent.toml"
        path.write_text(toml_text(doc))
        return load_agent_settings(path)

    return make


@dataclass
class FloorCentral:
    """A running central server for floor tests."""

    url: str
    server: Any
    device_token: Callable[[str], str]


@pytest.fixture
def floor_central(request: pytest.FixtureRequest) -> FloorCentral:
    """The shared ``central_server`` fixture with master data, plus device tokens."""
    server = request.getfixturevalue("central_server")
    url = str(getattr(server, "url", getattr(server, "base_url", "")))

    def device_token(device_id: str) -> str:
        return str(server.device_token(device_id, SITE))

    return FloorCentral(url=url.rstrip("/"), server=server, device_token=device_token)
