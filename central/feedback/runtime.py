"""Wiring into the central app: the notification settings and the background worker,
reachable from requests as ``app.state.feedback``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from central.clock import Clock
from central.feedback.notify.worker import NotificationWorker
from central.feedback.settings import NotificationSettings, load_settings
from central.settings import ServerSettings
from central.store.base import Store


@dataclass
class FeedbackRuntime:
    """The feedback feature of one app: settings, and the worker while it runs."""

    store: Store
    clock: Clock
    server_settings: ServerSettings
    settings: NotificationSettings
    worker: NotificationWorker | None = field(default=None)

    def start(self) -> None:
        """Start the notification worker (it picks up pending deliveries at once)."""
        if self.worker is None:
            self.worker = NotificationWorker(
                self.store, self.server_settings, self.settings, clock=self.clock
            )
            self.worker.start()

    def stop(self) -> None:
        """Stop the worker and close its channels."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def wake(self) -> None:
        """Ask the worker to deliver now (e.g. after an answer was queued)."""
        if self.worker is not None:
            self.worker.wake()


def install(
    app: Any, services: Any, settings: NotificationSettings | None = None
) -> FeedbackRuntime:
    """Attach the feedback runtime to ``app`` (settings default to the notifications
    file: ``$RUSHLINE_NOTIFICATIONS``, the data dir's, or the shipped one)."""
    runtime = FeedbackRuntime(
        services.store, services.clock, services.settings, settings or load_settings()
    )
    app.state.feedback = runtime
    return runtime


def runtime_of(request: Request) -> FeedbackRuntime:
    """The feedback runtime of the request's app."""
    return request.app.state.feedback  # type: ignore[no-any-return]
