"""The tracking page in a real headless browser (Debian chromium via Playwright) at a
phone's size (390x844), against the central server on loopback; screenshots go to
tests/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from central.clock import ManualClock
from tests.central.conftest import NOW, order_body
from tests.central.feedback_support import fast_settings, feedback_app
from tests.support.fixtures_central import CentralApp

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing: no browser to drive"
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[CentralApp]:
    with feedback_app(tmp_path / "c.db", ManualClock(NOW), fast_settings()) as handle:
        yield handle


@pytest.fixture
def phone() -> Iterator[Any]:
    """A fresh browser page sized like a phone."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
            )
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def _short_order(app: CentralApp) -> dict[str, Any]:
    body = order_body(
        "ORD-24017",
        lines=[("SKU-3001", 5), ("SKU-2001", 1)],
        hours=30,
        customer={
            "id": "C-5",
            "name": "Marta Nowak",
            "email": "marta@example.com",
            "tier": "standard",
            "flags": [],
        },
        ship_to={
            "name": "Marta Nowak",
            "line1": "Hauptstraße 9",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
    )
    body["deadline"] = (NOW + timedelta(hours=30)).isoformat()
    with app.client() as http:
        return dict(http.post("/v1/orders", json=body).json())


def test_tracking_page_on_a_phone(app: CentralApp, phone: Any) -> None:
    doc = _short_order(app)
    url = f"{app.url}/track/{doc['tracking_token']}"
    response = phone.goto(url)
    assert response is not None and response.status == 200
    assert phone.locator("h1").inner_text() == "We have your order"
    assert "6 items to Berlin, DE" in phone.locator("header").inner_text()
    assert "late" in (phone.locator("#eta .value").first.get_attribute("class") or "")
    assert phone.locator("#delay").is_visible()
    assert "short in stock" in phone.locator("#delay").inner_text()
    steps = phone.locator("ol.steps li")
    assert steps.count() == 6
    # Nothing is wider than the phone: no sideways scrolling.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    text = phone.locator("body").inner_text()
    for secret in ("Hauptstraße", "10115", "marta@example.com", "Nowak"):
        assert secret not in text
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "track_phone.png"), full_page=True)

    phone.fill("#message", "Could the missing item come separately?")
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{url}?asked=1")
    assert "Thanks, we got your question." in phone.locator("#questions").inner_text()
    assert "Could the missing item come separately?" in phone.locator("#questions").inner_text()
    phone.screenshot(path=str(SHOTS / "track_phone_asked.png"), full_page=True)
