"""A real Mosquitto broker for tests: its own config, port and (optionally) passwords."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.waiting import free_port, port_open, wait_until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


@dataclass
class Broker:
    """Mosquitto on 127.0.0.1:``port`` under ``workdir``. ``users`` maps user -> password;
    with users the broker refuses anonymous clients; ``acl`` is the ACL file's text;
    ``extra`` is appended to the configuration."""

    workdir: Path
    port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)
    acl: str | None = None
    extra: str = ""  # more configuration lines (e.g. a bridge)
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def config_text(self) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            # as root mosquitto would drop to user "mosquitto", who cannot read the 0600
            # password file nor write the log in the test's temp folder
            *(["user root"] if os.geteuid() == 0 else []),
            f"persistence_location {self.workdir}/",
            "persistence true",
            "autosave_interval 1",
            f"log_dest file {self.workdir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.users:
            lines += ["allow_anonymous false", f"password_file {self.workdir}/passwd"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            lines.append(f"acl_file {self.workdir}/acl")
        return "\n".join(lines) + "\n" + self.extra

    def start(self) -> Broker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.users:
            passwd = self.workdir / "passwd"
            passwd.write_text("")
            for user, password in self.users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), user, password], check=True)
            passwd.chmod(0o600)
        if self.acl is not None:
            (self.workdir / "acl").write_text(self.acl)
            (self.workdir / "acl").chmod(0o600)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_until(lambda: port_open(self.port), timeout=10, what=f"mosquitto on {self.port}")
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.workdir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_until(lambda: port_open(self.port), timeout=10, what=f"mosquitto on {self.port}")
