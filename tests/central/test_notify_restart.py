"""The outbox survives a crash: the central server process is killed between webhook
attempts; after the restart the pending delivery goes out with the same
Idempotency-Key and nothing is notified twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.feedback.notify.webhook import verify
from tests.central.feedback_support import (
    SECRET,
    delivery_status,
    notifications_of,
    webhook_receiver,
)
from tests.support.central import TEST_MASTERDATA, CentralProcess
from tests.support.waiting import wait_until


def _config(url: str) -> str:
    return f"""
[notifications]
status_events = ["allocated"]
exception_events = []
at_risk = false
poll_seconds = 0.1

[risk]
interval_seconds = 0

[retry]
max_attempts = 20
base_seconds = 0.5
cap_seconds = 1.0
timeout_seconds = 2.0

[[webhooks]]
name = "shop"
url = "{url}"
secret = "{SECRET}"
"""


def _order(order_id: str) -> dict[str, object]:
    deadline = datetime.now(UTC) + timedelta(days=5)
    return {
        "id": order_id,
        "customer": {
            "id": "C-9",
            "name": "Bea Stone",
            "email": "",
            "tier": "standard",
            "flags": [],
        },
        "ship_to": {
            "name": "Bea Stone",
            "line1": "Elm 2",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
        "lines": [{"sku": "SKU-2001", "qty": 1}],
        "deadline": deadline.isoformat(),
        "service": "standard",
        "tags": [],
    }


def test_killed_mid_delivery_resumes_without_duplicates(tmp_path: Path) -> None:
    with webhook_receiver(default=500) as receiver:
        workdir = tmp_path / "central"
        workdir.mkdir()
        (workdir / "notifications.toml").write_text(_config(receiver.url))
        server = CentralProcess(workdir).start()
        try:
            server.import_masterdata(TEST_MASTERDATA)
            with server.client() as http:
                http.post("/v1/orders", json=_order("RS-1")).raise_for_status()
                wait_until(lambda: len(receiver.requests) >= 1, timeout=20, what="first attempt")
            server.kill()  # SIGKILL between attempts: the delivery is pending in the DB
            first_key = receiver.requests[0].headers["idempotency-key"]
            receiver.default = 200
            server.start()
            with server.client() as http:
                wait_until(lambda: delivery_status(http, "RS-1") == "sent", timeout=20, what="sent")
                # A later order delivered proves the worker ran further rounds after "sent".
                http.post("/v1/orders", json=_order("RS-2")).raise_for_status()
                wait_until(lambda: delivery_status(http, "RS-2") == "sent", timeout=20, what="RS-2")
                notes = notifications_of(http, "RS-1")
        finally:
            server.stop()
    assert len(notes) == 1 and notes[0]["id"] == first_key
    rs1 = [r for r in receiver.requests if r.headers["idempotency-key"] == first_key]
    assert len(rs1) >= 2  # at least one failed attempt before the kill, one after
    assert receiver.processed[first_key] == 1  # accepted exactly once
    assert len({r.body for r in rs1}) == 1
    assert all(verify(r.body, SECRET, r.headers["x-rushline-signature"]) for r in rs1)
    assert len(receiver.processed) == 2  # RS-1 and RS-2, each once
