"""E-mail notifications to a real SMTP server on loopback (aiosmtpd): templates,
Message-ID from the notification id, retry after a 4xx reply, no address leak."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from central.clock import ManualClock
from central.feedback.notify.email import render
from central.feedback.settings import SmtpSettings, parse_settings
from central.store.feedback_sql import NotificationRow
from tests.central.conftest import NOW, order_body
from tests.central.feedback_support import delivery_status, fast_settings, feedback_app
from tests.support.waiting import free_port, wait_until


class Mailbox:
    """An aiosmtpd handler keeping messages; answers ``refuse`` replies first."""

    def __init__(self, refuse: list[str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse = list(refuse or [])
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse:
                return self.refuse.pop(0)
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append(message)  # type: ignore[arg-type]
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    """An SMTP server on a free loopback port."""
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _mail_settings(port: int) -> Any:
    return fast_settings(
        smtp=SmtpSettings(host="127.0.0.1", port=port, sender="Shop <s@shop.test>")
    )


def test_status_email_goes_to_the_customer(tmp_path: Path) -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        settings = _mail_settings(port)
        with (
            feedback_app(tmp_path / "c.db", ManualClock(NOW), settings) as app,
            app.client() as http,
        ):
            doc = http.post("/v1/orders", json=order_body("EM-1")).json()
            wait_until(lambda: delivery_status(http, "EM-1", "email") == "sent", timeout=15)
            note = http.get("/v1/notifications", params={"order_id": "EM-1"}).json()[0]
    assert mailbox.recipients == [["ada@example.com"]]
    message = mailbox.messages[0]
    assert message["Subject"] == "Your order EM-1: your items are reserved"
    assert message["Message-ID"] == f"<{note['id']}@rushline>"
    assert message["From"] == "Shop <s@shop.test>"
    body = message.get_content()
    assert f"/track/{doc['tracking_token']}" in body
    assert "Hello Ada" in body
    assert "Main St" not in body and "10115" not in body


def test_temporary_smtp_refusal_is_retried(tmp_path: Path) -> None:
    mailbox = Mailbox(refuse=["451 4.3.0 try again later"])
    with smtp_server(mailbox) as port:
        settings = _mail_settings(port)
        with (
            feedback_app(tmp_path / "c.db", ManualClock(NOW), settings) as app,
            app.client() as http,
        ):
            http.post("/v1/orders", json=order_body("EM-2")).raise_for_status()
            wait_until(lambda: delivery_status(http, "EM-2", "email") == "sent", timeout=15)
            delivery = http.get("/v1/notifications", params={"order_id": "EM-2"}).json()[0][
                "deliveries"
            ][0]
    assert delivery["attempts"] == 2 and len(mailbox.messages) == 1


def test_templates_come_from_config_and_headers_stay_one_line() -> None:
    settings = parse_settings(
        {
            "smtp": {"enabled": True, "port": 2525, "sender": "A <a@b.test>"},
            "templates": {"status.shipped": {"subject": "Shipped!\n{{ order_id }}"}},
        }
    )
    note = NotificationRow(
        "n1",
        "C-1",
        "O-7",
        "status.shipped",
        {
            "order_id": "O-7",
            "recipient": "Ada L.",
            "message": "Your order O-7: on its way.",
            "tracking": "TRK1",
            "carrier_service": "dhl-express",
            "tracking_url": "http://x/track/t",
            "resolutions": [],
        },
        "t",
    )
    message = render(note, "ada@example.com", settings)
    assert message["Subject"] == "Shipped! O-7"
    assert "Carrier tracking number: TRK1 (dhl-express)" in message.get_content()
