"""The central server's FastAPI app: routers, error mapping and the periodic
re-prioritisation task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from central.api import (
    alerts,
    carrier_events,
    disruptions,
    health,
    inquiries,
    masterdata,
    orders,
    reports,
    stock,
    sync,
    track,
)
from central.api.deps import Services
from central.auth import TokenCache
from central.clock import Clock, SystemClock
from central.feedback import runtime as feedback
from central.feedback.settings import NotificationSettings
from central.service import intake, reprioritise
from central.service.context import Conflict, InputError, NotFound
from central.settings import ServerSettings
from central.store.base import Store

log = logging.getLogger(__name__)


async def _periodic(svc: Services) -> None:
    """Re-evaluate priorities and batch waiting orders every few seconds (one server
    process per database does it: see ``reprioritise.take_turn``)."""
    interval = svc.settings.reprioritise_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            if not await run_in_threadpool(reprioritise.take_turn, svc.store, interval):
                continue
            changed = await run_in_threadpool(reprioritise.tick, svc.store, svc.clock, svc.settings)
            made = await run_in_threadpool(intake.tick_batches, svc.store, svc.clock, svc.settings)
            if changed or made:
                log.info("tick: %d orders changed level, %d tasks made", len(changed), made)
        except Exception:  # the loop must survive a bad tick; the next one retries
            log.exception("periodic re-prioritisation failed")


def create_app(
    store: Store,
    clock: Clock | None = None,
    settings: ServerSettings | None = None,
    notifications: NotificationSettings | None = None,
) -> FastAPI:
    """The app over ``store``; time comes from ``clock`` (default: the system clock);
    ``notifications`` default to the notifications file (central.feedback.settings)."""
    settings = settings or ServerSettings()
    svc = Services(
        store, clock or SystemClock(), settings, TokenCache(settings.token_cache_seconds)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(_periodic(svc)) if svc.settings.reprioritise_seconds > 0 else None
        )
        app.state.feedback.start()
        try:
            yield
        finally:
            await run_in_threadpool(app.state.feedback.stop)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="Rushline central", version="1", lifespan=lifespan)
    app.state.services = svc
    for module in (health, orders, disruptions, masterdata, stock, alerts, sync, track):
        app.include_router(module.router)
    for module in (carrier_events, reports):
        app.include_router(module.router)
    app.include_router(inquiries.router)
    feedback.install(app, svc, notifications)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": list(exc.loc), "msg": exc.message, "type": "value_error"}]},
            status_code=422,
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    return app


def services_of(app: FastAPI) -> Any:
    """The services an app was built with (for tests and the CLI)."""
    return app.state.services
