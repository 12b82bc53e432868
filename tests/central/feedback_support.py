"""Test parts for customer feedback: a webhook receiver (http.server thread on a free
loopback port) and the central app in-process with chosen notification settings."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from central.feedback.settings import NotificationSettings, RetryPolicy, WebhookEndpoint
from central.settings import ServerSettings
from tests.support.central import TEST_MASTERDATA
from tests.support.fixtures_central import CentralApp
from tests.support.waiting import free_port, wait_until

SECRET = "whsec-test-0123456789abcdef"


@dataclass
class Received:
    """One request the receiver got and what it answered."""

    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class WebhookReceiver:
    """Answers each POST with the next status of ``script`` (then ``default``) and
    records it; ``processed`` holds Idempotency-Keys it accepted (how a receiver dedupes)."""

    script: list[int] = field(default_factory=list)
    default: int = 200
    requests: list[Received] = field(default_factory=list)
    processed: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def answered(self, status: int) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.answered == status]

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = self.script.pop(0) if self.script else self.default
            self.requests.append(Received(headers, body, status))
            if 200 <= status < 300:
                key = headers.get("idempotency-key", "")
                self.processed[key] = self.processed.get(key, 0) + 1
            return status


@contextmanager
def webhook_receiver(
    script: list[int] | None = None, default: int = 200
) -> Iterator[WebhookReceiver]:
    """A running receiver; stopped and closed on exit."""
    receiver = WebhookReceiver(list(script or []), default)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def fast_settings(**changes: Any) -> NotificationSettings:
    """Notification settings that act quickly (tests): short poll and backoff, no
    automatic risk rounds."""
    base = NotificationSettings(
        status_events=frozenset({"allocated", "shipped"}),
        poll_seconds=0.05,
        risk_interval_seconds=0,
        retry=RetryPolicy(max_attempts=5, base_seconds=0.05, cap_seconds=0.2, timeout_seconds=2),
    )
    return replace(base, **changes)


def hook(url: str, events: frozenset[str] = frozenset()) -> WebhookEndpoint:
    """A webhook endpoint with the test secret."""
    return WebhookEndpoint("shop", url, SECRET, events)


@contextmanager
def feedback_app(
    db_path: Path, clock: Any, notifications: NotificationSettings
) -> Iterator[CentralApp]:
    """The central app (uvicorn thread, free port) with these notification settings and
    the test master data loaded."""
    import uvicorn

    from central.app import create_app
    from central.auth import create_token
    from central.store import open_store

    try:  # the PostgreSQL schema of this test when it runs on that backend
        from tests.support.pg import central_db_url

        url = central_db_url(db_path)
    except ImportError:
        url = f"sqlite:///{db_path}"
    store = open_store(url)
    app = create_app(
        store,
        clock=clock,
        settings=ServerSettings(reprioritise_seconds=0),
        notifications=notifications,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="feedback-uvicorn", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=15, what="in-process central server")
        handle = CentralApp(
            f"http://127.0.0.1:{port}",
            store,
            clock,
            app.state.services.settings,
            create_token(store, "admin"),
        )
        handle.feedback = app.state.feedback  # type: ignore[attr-defined]
        with handle.client() as http:
            http.post("/v1/masterdata", json=TEST_MASTERDATA).raise_for_status()
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        store.close()


def notifications_of(client: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    """The notification log of one order (admin endpoint)."""
    response = client.get("/v1/notifications", params={"order_id": order_id})
    response.raise_for_status()
    return list(response.json())


def delivery_status(client: httpx.Client, order_id: str, channel: str = "webhook") -> str | None:
    """The status of the order's first notification's delivery on ``channel``."""
    for note in notifications_of(client, order_id):
        for delivery in note["deliveries"]:
            if delivery["channel"] == channel:
                return str(delivery["status"])
    return None


def parse(body: bytes) -> dict[str, Any]:
    """A webhook body as JSON."""
    return dict(json.loads(body))


def at(moment: datetime) -> str:
    """ISO text of a moment."""
    return moment.isoformat()
