"""Shared request dependencies: the app's services and the caller's token."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from central.auth import AuthError, TokenCache, authenticate, cached
from central.clock import Clock
from central.settings import ServerSettings
from central.store.base import Store, TokenRecord


@dataclass(frozen=True)
class Services:
    """What every endpoint reaches through ``app.state.services``."""

    store: Store
    clock: Clock
    settings: ServerSettings
    tokens: TokenCache = field(default_factory=TokenCache)  # tokens checked lately


# The dependencies are ``async`` so FastAPI calls them on the event loop instead of
# handing each to a worker thread; only a token not seen before reads the database.


async def services(request: Request) -> Services:
    """The app's services."""
    return request.app.state.services  # type: ignore[no-any-return]


async def caller(request: Request, svc: Services = Depends(services)) -> TokenRecord:
    """The token record of the caller, or 401."""
    header = request.headers.get("authorization")
    try:
        record = cached(header, svc.tokens)
        if record is not None:
            return record
        return await run_in_threadpool(authenticate, svc.store, header, svc.tokens)
    except AuthError as exc:
        raise HTTPException(exc.status, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


def site_of(token: TokenRecord) -> str | None:
    """The one warehouse a device token may read (its site); None for an admin."""
    return None if token.role == "admin" else token.site


def check_site(token: TokenRecord, warehouse: str, what: str) -> None:
    """403 when a device token asks for ``what`` at another warehouse than its site."""
    site = site_of(token)
    if site is not None and warehouse != site:
        raise HTTPException(403, f"this device's token is for site {site!r}: {what} is not there")


async def admin(token: TokenRecord = Depends(caller)) -> TokenRecord:
    """An admin token, or 403."""
    if token.role != "admin":
        raise HTTPException(403, "this endpoint needs an admin token")
    return token
