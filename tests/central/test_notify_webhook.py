"""Webhook notifications: signature, Idempotency-Key, retries with capped backoff, no
second notification for the same event; settle/backoff rules as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.clock import ManualClock
from central.feedback.notify.channel import Outcome
from central.feedback.notify.webhook import sign, verify, webhook_body
from central.feedback.notify.worker import settle
from central.feedback.settings import RetryPolicy
from central.store.feedback_sql import DeliveryRow, NotificationRow
from tests.central.conftest import NOW, order_body
from tests.central.feedback_support import (
    SECRET,
    delivery_status,
    fast_settings,
    feedback_app,
    hook,
    notifications_of,
    parse,
    webhook_receiver,
)
from tests.support.waiting import wait_until


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"id":"n1"}'
    header = sign(body, SECRET)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(body, SECRET, header)
    assert not verify(body + b" ", SECRET, header)
    assert not verify(body, SECRET + "x", header)
    assert not verify(body, SECRET, None)


def test_body_is_the_same_bytes_on_every_attempt() -> None:
    note = NotificationRow("n1", "C-1", "O-1", "status.shipped", {"b": 1, "a": 2}, "t")
    assert webhook_body(note) == webhook_body(note)
    assert parse(webhook_body(note))["data"] == {"a": 2, "b": 1}


def test_backoff_is_capped_and_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=4, base_seconds=1, cap_seconds=3)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 10)] == [1, 2, 3, 3, 3]
    settings = fast_settings(retry=policy)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = DeliveryRow("n1", "webhook", "shop", "pending", 0, "x", None, None)
    retried = settle(row, Outcome(False, True, "HTTP 500"), now, settings)
    assert retried.status == "pending" and retried.attempts == 1
    assert retried.next_at.startswith("2026-01-01T00:00:01")
    assert settle(row, Outcome(False, False, "HTTP 400"), now, settings).status == "failed"
    last = DeliveryRow("n1", "webhook", "shop", "pending", 3, "x", None, None)
    assert settle(last, Outcome(False, True, "HTTP 500"), now, settings).status == "failed"
    sent = settle(row, Outcome(True), now, settings)
    assert sent.status == "sent" and sent.sent_at is not None


def test_webhook_retries_after_500s_then_delivers_once_signed(tmp_path: Path) -> None:
    with webhook_receiver(script=[500, 503]) as receiver:
        settings = fast_settings(webhooks=(hook(receiver.url),))
        with (
            feedback_app(tmp_path / "c.db", ManualClock(NOW), settings) as app,
            app.client() as http,
        ):
            doc = http.post("/v1/orders", json=order_body("WH-1")).json()
            assert doc["status"] == "allocated"
            wait_until(lambda: delivery_status(http, "WH-1") == "sent", timeout=15, what="sent")
            notes = notifications_of(http, "WH-1")
    assert len(notes) == 1 and notes[0]["event"] == "status.allocated"
    delivery = notes[0]["deliveries"][0]
    assert delivery["attempts"] == 3 and delivery["last_error"] is None
    assert [r.answered for r in receiver.requests] == [500, 503, 200]
    keys = {r.headers["idempotency-key"] for r in receiver.requests}
    assert keys == {notes[0]["id"]}
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # the same bytes, so the same signature, on every attempt
    for r in receiver.requests:
        assert verify(r.body, SECRET, r.headers["x-rushline-signature"])
    payload = parse(receiver.requests[-1].body)
    assert payload["event"] == "status.allocated" and payload["order_id"] == "WH-1"
    assert payload["data"]["tracking_url"].endswith("/track/" + doc["tracking_token"])
    text = receiver.requests[-1].body.decode()
    assert "Main St" not in text and "ada@example.com" not in text and "10115" not in text


def test_permanent_refusal_is_not_retried(tmp_path: Path) -> None:
    with webhook_receiver(default=410) as receiver:
        settings = fast_settings(webhooks=(hook(receiver.url),))
        with (
            feedback_app(tmp_path / "c.db", ManualClock(NOW), settings) as app,
            app.client() as http,
        ):
            http.post("/v1/orders", json=order_body("WH-2")).raise_for_status()
            wait_until(lambda: delivery_status(http, "WH-2") == "failed", timeout=15, what="failed")
            note = notifications_of(http, "WH-2")[0]
    assert len(receiver.requests) == 1
    assert note["deliveries"][0]["last_error"] == "HTTP 410"


def test_unreachable_endpoint_retries_then_gives_up(tmp_path: Path) -> None:
    from tests.support.waiting import free_port

    dead = f"http://127.0.0.1:{free_port()}/hooks"
    settings = fast_settings(
        webhooks=(hook(dead),),
        retry=RetryPolicy(max_attempts=3, base_seconds=0.02, cap_seconds=0.05, timeout_seconds=1),
    )
    with feedback_app(tmp_path / "c.db", ManualClock(NOW), settings) as app, app.client() as http:
        http.post("/v1/orders", json=order_body("WH-3")).raise_for_status()
        wait_until(lambda: delivery_status(http, "WH-3") == "failed", timeout=15, what="failed")
        delivery = notifications_of(http, "WH-3")[0]["deliveries"][0]
    assert delivery["attempts"] == 3 and "Connect" in delivery["last_error"]


def test_same_event_notifies_a_customer_once(tmp_path: Path) -> None:
    with webhook_receiver() as receiver:
        settings = fast_settings(
            webhooks=(hook(receiver.url, frozenset({"status"})),),
            exception_events=frozenset({"short_pick"}),
        )
        clock = ManualClock(NOW)
        with feedback_app(tmp_path / "c.db", clock, settings) as app, app.client() as http:
            http.post("/v1/orders", json=order_body("WH-4")).raise_for_status()
            wait_until(lambda: delivery_status(http, "WH-4") == "sent", timeout=15, what="sent")
            # More timeline entries for the same order in the same state: no new notification.
            http.post(
                "/v1/disruptions",
                json={
                    "id": "storm",
                    "kind": "weather",
                    "region": {"country": "DE"},
                    "starts_at": NOW.isoformat(),
                    "ends_at": (NOW + timedelta(days=2)).isoformat(),
                    "escalate_by": 2,
                },
            ).raise_for_status()
            worker = app.feedback.worker  # type: ignore[attr-defined]
            assert worker is not None
            worker.scan()
            notes = notifications_of(http, "WH-4")
    assert [n["event"] for n in notes] == ["status.allocated"]
    assert len(receiver.answered(200)) == 1


@pytest.mark.parametrize("events", [frozenset({"at_risk"}), frozenset({"exception"})])
def test_endpoint_event_filter(events: frozenset[str]) -> None:
    endpoint = hook("http://127.0.0.1:1/x", events)
    assert not endpoint.wants("status.shipped")
    assert endpoint.wants("at_risk") == ("at_risk" in events)
    assert endpoint.wants("exception.short_pick") == ("exception" in events)


def test_carrier_delay_notifies_and_shows_on_the_page(tmp_path: Path) -> None:
    with webhook_receiver() as receiver:
        settings = fast_settings(webhooks=(hook(receiver.url, frozenset({"carrier"})),))
        with (
            feedback_app(tmp_path / "c.db", ManualClock(NOW), settings) as app,
            app.client() as http,
        ):
            doc = http.post("/v1/orders", json=order_body("WH-5")).json()
            op = {
                "op_id": "01900000-0000-7000-8000-0000000000c5",
                "seq": 1,
                "kind": "order.shipped",
                "at": NOW.isoformat(),
                "data": {"order_id": "WH-5", "carrier_service": "dhl-express", "tracking": "JD5"},
            }
            with app.client(app.token("device", "dock-1", "DE-FRA")) as dock:
                pushed = dock.post("/v1/sync/push", json={"device": "dock-1", "ops": [op]}).json()
            assert pushed["results"][0]["status"] == "applied"
            report = {"tracking": "JD5", "event": "delayed", "at": NOW.isoformat()}
            http.post("/v1/carrier-events", json={"events": [report]}).raise_for_status()
            wait_until(lambda: receiver.answered(200), timeout=15, what="carrier webhook")
            view = http.get(f"/v1/track/{doc['tracking_token']}").json()
    payload = parse(receiver.requests[0].body)
    assert payload["event"] == "carrier.delivery_delayed"
    assert payload["data"]["message"] == "The carrier reports a delay with your parcel."
    assert "The carrier reports a delay" in [e["label"] for e in view["timeline"]]
    assert view["status"] == "shipped" and view["tracking"] == "JD5"
