"""A simulated ESC/POS network printer (port 9100 style) for demos, tests and users
without hardware.

It answers DLE EOT status queries from its current state, splits the stream into jobs
(a job ends at a cut or when the connection closes) and writes each job's raw bytes
``NNNN-<hint>.bin`` and a readable preview ``NNNN-<hint>.txt`` to its output folder.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from devices.errors import DeviceError
from devices.printer.preview import JobPreview, iter_tokens, preview
from devices.printer.status import Paper, encode_status

log = logging.getLogger(__name__)

_ORDER = re.compile(r"ORDER (\S+)")
_KINDS = {"SHIPPING LABEL": "shipping", "PACKING SLIP": "slip", "PICK LABEL": "pick"}
_POLL = 0.2  # seconds between checks of the stop flag while blocked on a socket


@dataclass(frozen=True)
class SimJob:
    """One job the simulated printer received and wrote out."""

    number: int
    name: str
    data: bytes
    preview: JobPreview
    bin_path: Path
    txt_path: Path


def job_hint(job_preview: JobPreview) -> str:
    """A short file-name part: the order id and label kind found in the printed text."""
    parts = []
    match = _ORDER.search(job_preview.text)
    if match:
        parts.append(match.group(1))
    parts += [kind for title, kind in _KINDS.items() if title in job_preview.text][:1]
    hint = "-".join(parts) or "job"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", hint)[:60]


class PrinterSim:
    """A TCP ESC/POS printer; ``start()`` binds (port 0 picks a free port), ``stop()``
    closes every connection. Paper and online state can change while it runs."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9100,
        out_dir: str | Path = "printer-out",
        paper: Paper | str = Paper.OK,
        online: bool = True,
        profile: str = "default",
    ) -> None:
        self.host = host
        self.port = port
        self.out_dir = Path(out_dir)
        self.paper = Paper(paper)
        self.online = online
        self.profile = profile
        self.jobs: list[SimJob] = []
        self.status_queries = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._next_number = 1

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the real port once started with port 0."""
        return self.host, self.port

    @property
    def url(self) -> str:
        """``tcp://host:port`` for :func:`devices.printer.open_printer`."""
        return f"tcp://{self.host}:{self.port}"

    def set_paper(self, paper: Paper | str) -> None:
        """Load, run low on or run out of paper."""
        self.paper = Paper(paper)
        log.info("printer sim paper: %s", self.paper.value)

    def cycle_paper(self) -> Paper:
        """ok -> low -> out -> ok; returns the new state (SIGUSR1 in the CLI)."""
        order = [Paper.OK, Paper.LOW, Paper.OUT]
        self.set_paper(order[(order.index(self.paper) + 1) % len(order)])
        return self.paper

    def start(self) -> None:
        """Bind, listen and accept connections in a background thread."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        existing = [int(p.name[:4]) for p in self.out_dir.glob("[0-9][0-9][0-9][0-9]-*.bin")]
        self._next_number = max(existing, default=0) + 1
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind((self.host, self.port))
        except OSError as exc:
            server.close()
            raise DeviceError(
                f"printer sim: cannot listen on {self.host}:{self.port} ({exc})"
            ) from exc
        server.listen(8)
        server.settimeout(_POLL)
        self.host, self.port = server.getsockname()[:2]
        self._server = server
        self._stopping.clear()
        self._spawn(self._accept_loop, "printer-sim-accept")

    def set_online(self, online: bool) -> None:
        """Take the printer offline (DLE EOT 1 says so) or back online."""
        self.online = online

    def stop(self) -> None:
        """Stop accepting, end every connection (finishing its open job) and wait."""
        self._stopping.set()
        # The accept thread is first in the list and spawns no more once it has ended.
        for thread in list(self._threads[:1]):
            thread.join(timeout=5)
        for thread in list(self._threads[1:]):
            thread.join(timeout=5)
        self._threads.clear()
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self) -> PrinterSim:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        server = self._server
        while server is not None and not self._stopping.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, "printer-sim-conn", conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(_POLL)
        pending = bytearray()  # received, not yet tokenized completely
        job = bytearray()
        with conn:
            while not self._stopping.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                pending += chunk
                consumed = 0
                for token in iter_tokens(bytes(pending)):
                    if token.kind == "incomplete":
                        break
                    consumed = token.end
                    if token.kind == "status_query":
                        with self._lock:
                            self.status_queries += 1
                        try:
                            conn.sendall(encode_status(token.arg, self.online, self.paper))
                        except OSError:
                            break
                    elif token.kind != "realtime":
                        job += pending[token.start : token.end]
                        if token.kind == "cut":
                            self._write_job(bytes(job))
                            job.clear()
                del pending[:consumed]
        if job or pending:
            self._write_job(bytes(job + pending))

    def _write_job(self, data: bytes) -> None:
        job_preview = preview(data, self.profile)
        with self._lock:
            number = self._next_number
            self._next_number += 1
            name = f"{number:04d}-{job_hint(job_preview)}"
            bin_path = self.out_dir / f"{name}.bin"
            txt_path = self.out_dir / f"{name}.txt"
            bin_path.write_bytes(data)
            txt_path.write_text(job_preview.render(), encoding="utf-8")
            self.jobs.append(SimJob(number, name, data, job_preview, bin_path, txt_path))
        log.info("printer sim printed %s", name)
