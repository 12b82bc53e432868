"""The notification worker: one thread that tails the timeline into the outbox, runs the
SLA risk monitor on its interval and delivers due notifications with capped backoff.

Pending deliveries live in the database, so a restarted server picks them up on start.
Each attempt's outcome (sent, retry at, failed) is recorded in one UPDATE after the
send; a crash in between repeats that one send with the same Idempotency-Key.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from central.clock import Clock, SystemClock
from central.feedback import stamp
from central.feedback.notify.channel import Channel, Outcome
from central.feedback.notify.email import EmailChannel
from central.feedback.notify.outbox import feedback_tx, scan_timeline
from central.feedback.notify.webhook import WebhookChannel
from central.feedback.risk_monitor import evaluate
from central.feedback.settings import NotificationSettings
from central.settings import ServerSettings
from central.store.base import Store
from central.store.feedback_sql import DeliveryRow, NotificationRow

log = logging.getLogger(__name__)
BATCH = 50


def default_channels(settings: NotificationSettings) -> dict[str, Channel]:
    """The channels the settings configure."""
    channels: dict[str, Channel] = {
        "webhook": WebhookChannel(settings.webhooks, settings.retry.timeout_seconds)
    }
    if settings.smtp is not None:
        channels["email"] = EmailChannel(settings)
    return channels


def settle(
    delivery: DeliveryRow, outcome: Outcome, now: datetime, settings: NotificationSettings
) -> DeliveryRow:
    """The delivery after one attempt: sent, pending again after a backoff, or failed."""
    attempts = delivery.attempts + 1
    if outcome.sent:
        return replace(
            delivery, status="sent", attempts=attempts, last_error=None, sent_at=stamp(now)
        )
    if outcome.retry and attempts < settings.retry.max_attempts:
        due = now + timedelta(seconds=settings.retry.delay(attempts))
        return replace(
            delivery,
            status="pending",
            attempts=attempts,
            next_at=stamp(due),
            last_error=outcome.error,
        )
    return replace(delivery, status="failed", attempts=attempts, last_error=outcome.error)


class NotificationWorker:
    """Outbox scanning, risk monitoring and delivery in one background thread.

    ``clock`` is business time (risk verdicts, notification times); ``send_clock`` is
    the wall clock that paces retries (injectable for tests)."""

    def __init__(
        self,
        store: Store,
        server_settings: ServerSettings,
        settings: NotificationSettings,
        clock: Clock | None = None,
        send_clock: Clock | None = None,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self.store = store
        self.server_settings = server_settings
        self.settings = settings
        self.clock = clock or SystemClock()
        self.send_clock = send_clock or SystemClock()
        self.channels: Mapping[str, Channel] = (
            channels if channels is not None else default_channels(settings)
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_risk: float | None = None
        self._mark = secrets.token_hex(4)

    # --- one round, callable directly in tests ------------------------------------------

    def scan(self) -> list[str]:
        """Timeline -> outbox; returns new notification ids."""
        return scan_timeline(self.store, self.settings, self.clock.now())

    def monitor(self) -> list[str]:
        """One risk evaluation; returns the notifications it made."""
        report = evaluate(self.store, self.clock.now(), self.server_settings, self.settings)
        return list(report.notifications)

    def deliver_due(self, limit: int = BATCH) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        with self.store.reader() as tx:
            due = feedback_tx(tx).due_deliveries(stamp(self.send_clock.now()), limit)
        attempted = 0
        for delivery, notification in due:
            if self._stop.is_set():
                break
            claimed = self._claim(delivery)
            if claimed is not None:
                self._attempt(claimed, notification)
                attempted += 1
        return attempted

    def _claim(self, delivery: DeliveryRow) -> DeliveryRow | None:
        """Lease the delivery for one attempt, so a second worker on the same database
        (several servers on one PostgreSQL) does not send it too."""
        lease_seconds = 2 * self.settings.retry.timeout_seconds + 5
        until = self.send_clock.now() + timedelta(seconds=lease_seconds)
        lease = f"{stamp(until)}#{self._mark}"
        with self.store.transaction() as tx:
            if not feedback_tx(tx).claim_delivery(delivery, lease):
                return None
        return replace(delivery, next_at=lease)

    def _attempt(self, delivery: DeliveryRow, notification: NotificationRow) -> None:
        channel = self.channels.get(delivery.channel)
        if channel is None:
            outcome = Outcome(False, False, f"channel {delivery.channel!r} is not configured")
        else:
            try:
                outcome = channel.send(delivery, notification)
            except Exception as exc:  # a channel bug must not stop the other deliveries
                log.exception("channel %s failed", delivery.channel)
                outcome = Outcome(False, True, f"{type(exc).__name__}: {exc}")
        after = settle(delivery, outcome, self.send_clock.now(), self.settings)
        with self.store.transaction() as tx:
            feedback_tx(tx).settle_delivery(after)
        if after.status == "failed":
            log.warning(
                "notification %s to %s %s failed for good: %s",
                notification.id,
                delivery.channel,
                delivery.target,
                after.last_error,
            )

    def run_once(self) -> None:
        """Scan, monitor when its interval has passed, deliver what is due. Each step
        is guarded on its own: a failing risk round must not hold up deliveries."""
        self._guarded(self.scan)
        interval = self.settings.risk_interval_seconds
        if interval > 0 and (
            self._last_risk is None or time.monotonic() - self._last_risk >= interval
        ):
            self._last_risk = time.monotonic()
            self._guarded(self.monitor)
        self._guarded(self.deliver_due)

    @staticmethod
    def _guarded(step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:  # the worker survives a bad step; the next round retries
            log.exception("notification step %s failed", getattr(step, "__name__", step))

    # --- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (pending deliveries are picked up at once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        # The first risk round comes one interval after start, not during start-up.
        self._last_risk = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="notification-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run a round now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the thread (after the attempt in progress), turn what reached the
        timeline since its last round into notifications (sent after the next start),
        and close the channels."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            # An order shipped just before a shutdown has its notice in the outbox now,
            # not only when the server next starts.
            self._guarded(self.scan)
        for channel in self.channels.values():
            channel.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self._pause())
            self._wake.clear()

    def _pause(self) -> float:
        """Sleep until the next poll or the next due retry, whichever is sooner."""
        pause = self.settings.poll_seconds
        try:
            with self.store.reader() as tx:
                due = feedback_tx(tx).next_delivery_at()
        except Exception:
            return pause
        if due is not None:
            when = datetime.fromisoformat(due.split("#", 1)[0].replace("Z", "+00:00"))
            wait = (when - self.send_clock.now()).total_seconds()
            pause = min(pause, max(0.01, wait))
        return pause
