"""Pytest fixtures for a real central server (uvicorn on a free loopback port)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.central import CentralProcess, default_masterdata
from tests.support.pg import (  # noqa: F401  (the backend switch: fixtures and their hook)
    central_backend,
    central_db_url,
    pg_database,
    pg_url,
    pytest_generate_tests,
)
from tests.support.waiting import free_port, wait_until


@pytest.fixture
def central_server(tmp_path: Path) -> Iterator[CentralProcess]:
    """``rushline central serve`` as a subprocess with the default master data imported;
    ``.admin_token``, ``.device_token(device, site)``, ``.url``, ``.restart()``."""
    workdir = tmp_path / "central"
    server = CentralProcess(workdir, db=central_db_url(workdir / "central.db")).start()
    try:
        server.import_masterdata(default_masterdata())
        yield server
    finally:
        server.stop()


@dataclass
class CentralApp:
    """The central app in this process: uvicorn in a thread on a free port (a real HTTP
    server), with its store, clock and settings reachable for the test."""

    url: str
    store: Any
    clock: Any
    settings: Any
    admin_token: str

    def token(self, role: str, device: str | None = None, site: str | None = None) -> str:
        """A new token."""
        from central.auth import create_token

        return create_token(self.store, role, device, site)

    def client(self, token: str | None = None) -> httpx.Client:
        """An httpx client with ``token`` (default: admin) as bearer."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.admin_token}"},
            timeout=30,
        )


def start_central_app(
    db_path: Path, clock: Any = None, settings: Any = None
) -> tuple[CentralApp, Any, threading.Thread]:
    """Start uvicorn in a thread; returns the app handle, the uvicorn server and thread."""
    import uvicorn

    from central.app import create_app
    from central.auth import create_token
    from central.store import open_store

    store = open_store(central_db_url(db_path))
    app = create_app(store, clock=clock, settings=settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="central-uvicorn", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, what="in-process central server")
    svc = app.state.services
    handle = CentralApp(
        f"http://127.0.0.1:{port}", store, svc.clock, svc.settings, create_token(store, "admin")
    )
    return handle, server, thread


def stop_central_app(handle: CentralApp, server: Any, thread: threading.Thread) -> None:
    """Stop uvicorn, join its thread and close the store."""
    server.should_exit = True
    thread.join(timeout=15)
    handle.store.close()


@pytest.fixture
def central_app(tmp_path: Path) -> Iterator[CentralApp]:
    """The central app in-process (uvicorn thread, free port), test master data loaded."""
    from tests.support.central import TEST_MASTERDATA

    handle, server, thread = start_central_app(tmp_path / "central.db")
    try:
        with handle.client() as http:
            http.post("/v1/masterdata", json=TEST_MASTERDATA).raise_for_status()
        yield handle
    finally:
        stop_central_app(handle, server, thread)
