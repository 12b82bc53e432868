"""The demo's servers: Mosquitto with its own config and password file, and the central
server (``rushline central serve``) over a SQLite file, both on free loopback ports."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rushline.demo.processes import ProcessError, Supervisor, rushline_argv

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class BrokerInfo:
    """Where the floor bus is and who may log in (user -> password)."""

    workdir: Path
    port: int
    users: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"

    @property
    def conf(self) -> Path:
        """The broker's configuration file."""
        return self.workdir / "mosquitto.conf"


def own_broker_files(info: BrokerInfo, devices: list[dict[str, str]], site: str) -> None:
    """Config, password file (mosquitto_passwd) and a site-wide ACL, when the edge
    broker tooling is not installed."""
    passwd = info.workdir / "passwd"
    passwd.write_text("")
    passwd.chmod(0o600)
    for user, password in info.users.items():
        subprocess.run(
            [MOSQUITTO_PASSWD, "-b", str(passwd), user, password],
            check=True,
            capture_output=True,
            timeout=10,
        )
    acl = info.workdir / "acl"
    acl.write_text(
        "".join(f"user {d['id']}\ntopic readwrite rushline/v1/{site}/#\n\n" for d in devices)
    )
    acl.chmod(0o600)
    (info.workdir / "data").mkdir(exist_ok=True)
    info.conf.write_text(
        "\n".join(
            [
                f"listener {info.port} 127.0.0.1",
                "allow_anonymous false",
                f"password_file {passwd}",
                f"acl_file {acl}",
                "persistence true",
                f"persistence_location {info.workdir / 'data'}/",
                "autosave_interval 1",
                "log_dest stderr",
            ]
        )
        + "\n"
    )


def tooling_broker_files(info: BrokerInfo, devices: list[dict[str, str]], site: str) -> bool:
    """Write the files with ``config.broker.generate`` (per-role ACLs); False when that
    tooling is not installed."""
    try:
        from config.broker.generate import BrokerDevice, write_broker_files
    except ImportError:
        return False
    entries = [
        BrokerDevice(d["id"], d["role"], d.get("conveyor"), d.get("printer")) for d in devices
    ]
    write_broker_files(info.workdir, site, entries, info.users, port=info.port)
    return True


def start_broker(
    supervisor: Supervisor,
    workdir: Path,
    devices: list[dict[str, str]],
    site: str,
    timeout: float = 10.0,
) -> BrokerInfo:
    """Write config, password file and ACL under ``workdir`` and start Mosquitto.
    ``devices``: [{id, role, conveyor?, printer?}]; each gets a random password."""
    if not Path(MOSQUITTO).exists():
        raise ProcessError(f"{MOSQUITTO}: Mosquitto is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    info = BrokerInfo(workdir, free_port(), {d["id"]: secrets.token_urlsafe(16) for d in devices})
    if not tooling_broker_files(info, devices, site):
        own_broker_files(info, devices, site)
    text = info.conf.read_text(encoding="utf-8")
    if os.geteuid() == 0 and not any(line.startswith("user ") for line in text.splitlines()):
        # As root mosquitto drops to user "mosquitto", who cannot read our 0600 files.
        with info.conf.open("a", encoding="utf-8") as conf:
            conf.write("user root\n")
    child = supervisor.start("mosquitto", (MOSQUITTO, "-c", str(info.conf)))
    supervisor.wait_ready(child, lambda: port_open(info.port), timeout, "broker port")
    return info


class CentralServer:
    """``rushline central serve`` on a free port over ``workdir/central.db``; restartable
    on the same database and port (the outage)."""

    def __init__(
        self, supervisor: Supervisor, workdir: Path, config: Path | None, tick_seconds: float
    ) -> None:
        self.supervisor = supervisor
        self.workdir = workdir
        self.config = config
        self.tick_seconds = tick_seconds
        self.port = free_port()
        self.admin_token = ""
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def db_path(self) -> Path:
        """The central SQLite file."""
        return self.workdir / "central.db"

    @property
    def db_url(self) -> str:
        """The database URL given to ``rushline central``."""
        return f"sqlite:///{self.db_path}"

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        """True while the server process runs."""
        child = self.supervisor.children.get("central")
        return child is not None and child.alive()

    def write_notifications(self, risk_seconds: float) -> None:
        """The shipped notification settings with a risk check every ``risk_seconds`` and
        tracking links to this server (central reads the file from its data dir)."""
        from importlib import resources

        source = resources.files("config") / "default" / "notifications.toml"
        target = self.workdir / "notifications.toml"
        if target.exists() or not source.is_file():
            return
        text = source.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^interval_seconds = .*$", f"interval_seconds = {risk_seconds}", text)
        text = re.sub(r"(?m)^public_base_url = .*$", f'public_base_url = "{self.url}"', text)
        target.write_text(text, encoding="utf-8")

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until ``/healthz`` answers."""
        self.write_notifications(max(1.0, self.tick_seconds * 2))
        argv = [
            "central",
            "serve",
            "--db",
            self.db_url,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--reprioritise-seconds",
            str(self.tick_seconds),
        ]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        child = self.supervisor.start(
            "central", rushline_argv(*argv), env={"RUSHLINE_DATA_DIR": str(self.workdir)}
        )
        self.supervisor.wait_ready(child, self._healthy, timeout, "/healthz answer")

    def _healthy(self) -> bool:
        return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        self.supervisor.stop("central")

    def token(self, role: str, device: str | None = None, site: str | None = None) -> str:
        """A new API token, written straight into the central database."""
        from central.auth import create_token
        from central.store import open_store

        store = open_store(self.db_url)
        try:
            return create_token(store, role, device, site)
        finally:
            store.close()

    def client(self, timeout: float = 10.0) -> httpx.Client:
        """An HTTP client with the admin token."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=timeout,
        )

    def import_masterdata(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """POST the site's master data; returns the server's counts."""
        with self.client(timeout=60) as http:
            response = http.post("/v1/masterdata", json=dict(document))
        if response.status_code != 200:
            raise ProcessError(
                f"central refused the master data ({response.status_code}): {response.text[:300]}"
            )
        return dict(response.json())
