"""Customer questions: asked on the tracking page (limited in length and rate per
token), queued for staff with the order's context, answered by e-mail and on the page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from central.clock import ManualClock
from central.feedback.settings import SmtpSettings
from tests.central.conftest import NOW, order_body
from tests.central.feedback_support import delivery_status, fast_settings, feedback_app
from tests.central.test_notify_email import Mailbox, smtp_server
from tests.support.waiting import wait_until


def test_questions_are_limited_queued_and_answered(tmp_path: Path) -> None:
    mailbox = Mailbox()
    clock = ManualClock(NOW)
    with smtp_server(mailbox) as port:
        settings = fast_settings(
            status_events=frozenset(), smtp=SmtpSettings(host="127.0.0.1", port=port)
        )
        with feedback_app(tmp_path / "c.db", clock, settings) as app, app.client() as http:
            doc = http.post("/v1/orders", json=order_body("IQ-1")).json()
            token = doc["tracking_token"]
            ask = f"{app.url}/v1/track/{token}/inquiries"

            too_long = httpx.post(ask, json={"message": "x" * 501})
            assert too_long.status_code == 422 and "500" in str(too_long.json())
            assert httpx.post(ask, json={"message": "  \u0000 "}).status_code == 422
            assert httpx.post(ask, json={"message": 12}).status_code == 422

            first = httpx.post(ask, json={"message": "Can you leave it with my neighbour?"})
            assert first.status_code == 201
            for n in range(2):
                assert httpx.post(ask, json={"message": f"more {n}"}).status_code == 201
            limited = httpx.post(ask, json={"message": "one too many"})
            assert limited.status_code == 429
            assert 0 < int(limited.headers["retry-after"]) <= 3600

            assert httpx.get(f"{app.url}/v1/inquiries").status_code == 401
            queue = http.get("/v1/inquiries").json()
            assert len(queue) == 3 and queue[0]["message"] == "Can you leave it with my neighbour?"
            context = queue[0]["order"]
            assert context["status"] == "allocated" and context["priority"]["level"]
            assert [e["event"] for e in context["timeline"]][:2] == ["received", "priority"]
            assert "email" not in context["customer"]

            answer = http.post(
                f"/v1/inquiries/{first.json()['id']}/answer",
                json={"text": "Yes, we will tell the driver."},
            )
            assert answer.status_code == 200 and answer.json()["status"] == "answered"
            assert answer.json()["notification_id"]
            again = http.post(f"/v1/inquiries/{first.json()['id']}/answer", json={"text": "x"})
            assert again.status_code == 409
            assert http.post("/v1/inquiries/nope/answer", json={"text": "x"}).status_code == 404
            wait_until(lambda: delivery_status(http, "IQ-1", "email") == "sent", timeout=15)

            page = httpx.get(f"{app.url}/track/{token}").text
            assert "Yes, we will tell the driver." in page
            view = httpx.get(f"{app.url}/v1/track/{token}").json()
            assert view["questions"][0]["answer"] == "Yes, we will tell the driver."
            assert [q["status"] for q in http.get("/v1/inquiries").json()] == ["open", "open"]

            clock.advance(timedelta(hours=1, minutes=1))  # the hour window has moved on
            assert httpx.post(ask, json={"message": "and now?"}).status_code == 201
    message = mailbox.messages[0]
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Re: your question about order IQ-1"
    body = message.get_content()
    assert "> Can you leave it with my neighbour?" in body
    assert "Yes, we will tell the driver." in body


def test_the_page_form_asks_and_reports_the_limit(tmp_path: Path) -> None:
    settings = fast_settings(inquiry_per_hour=1)
    with feedback_app(tmp_path / "c.db", ManualClock(NOW), settings) as app, app.client() as http:
        token = http.post("/v1/orders", json=order_body("IQ-2")).json()["tracking_token"]
        with httpx.Client(base_url=app.url, follow_redirects=False) as browser:
            question = "Where is it? <script>alert(1)</script>"
            sent = browser.post(f"/track/{token}/ask", data={"message": question})
            assert sent.status_code == 303 and sent.headers["location"] == f"/track/{token}?asked=1"
            page = browser.get(sent.headers["location"]).text
            assert "Thanks, we got your question." in page and "Where is it?" in page
            assert "<script>" not in page and "&lt;script&gt;alert(1)" in page
            limited = browser.post(f"/track/{token}/ask", data={"message": "Hello?"})
            assert limited.status_code == 429 and "at most 1 questions per hour" in limited.text
            assert browser.post("/track/bad-token/ask", data={"message": "x"}).status_code == 404
        assert len(http.get("/v1/inquiries").json()) == 1
