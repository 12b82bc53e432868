"""Webhook delivery: the notification as JSON, signed with the endpoint's secret
(``X-Rushline-Signature: sha256=<hex HMAC-SHA256 of the body>``) and carrying
``Idempotency-Key: <notification id>``.

Delivery is at-least-once: a crash between a successful POST and recording it repeats
the POST with the same body, signature and Idempotency-Key, so a receiver that keeps
the keys it has processed sees each notification once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

import httpx

from central.feedback.notify.channel import SENT, Outcome
from central.feedback.settings import WebhookEndpoint
from central.store.feedback_sql import DeliveryRow, NotificationRow

SIGNATURE_HEADER = "X-Rushline-Signature"
# Statuses worth another try; every other 4xx means the request itself is refused.
RETRY_STATUSES = frozenset({408, 425, 429})


def sign(body: bytes, secret: str) -> str:
    """The signature header value of ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` (constant-time compare)."""
    return bool(header) and hmac.compare_digest(sign(body, secret), str(header))


def webhook_body(notification: NotificationRow) -> bytes:
    """The JSON body; the same bytes on every attempt (so the signature is too)."""
    doc = {
        "id": notification.id,
        "event": notification.event,
        "order_id": notification.order_id,
        "customer_id": notification.customer,
        "created_at": notification.created_at,
        "data": notification.payload,
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")


class WebhookChannel:
    """POSTs notifications to the configured endpoints (by name)."""

    def __init__(self, endpoints: Sequence[WebhookEndpoint], timeout_seconds: float) -> None:
        self._endpoints = {e.name: e for e in endpoints}
        self._http = httpx.Client(timeout=timeout_seconds, follow_redirects=False)

    def send(self, delivery: DeliveryRow, notification: NotificationRow) -> Outcome:
        """One POST; 2xx is sent, 5xx/408/429/timeouts/connection errors retry."""
        endpoint = self._endpoints.get(delivery.target)
        if endpoint is None:
            return Outcome(False, False, f"webhook endpoint {delivery.target!r} is not configured")
        body = webhook_body(notification)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, endpoint.secret),
            "Idempotency-Key": notification.id,
            "X-Rushline-Event": notification.event,
            "X-Rushline-Attempt": str(delivery.attempts + 1),
            "User-Agent": "rushline-central/1",
        }
        try:
            response = self._http.post(endpoint.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return Outcome(False, True, f"timeout: {exc}")
        except httpx.HTTPError as exc:
            return Outcome(False, True, f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return SENT
        error = f"HTTP {response.status_code}"
        retry = response.status_code >= 500 or response.status_code in RETRY_STATUSES
        return Outcome(False, retry, error)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()
