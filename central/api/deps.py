"""Shared request dependencies: the app's services and the caller's token."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Depends, HTTPException, Request

from central.auth import AuthError, authenticate
from central.clock import Clock
from central.settings import ServerSettings
from central.store.base import Store, TokenRecord


@dataclass(frozen=True)
class Services:
    """What every endpoint reaches through ``app.state.services``."""

    store: Store
    clock: Clock
    settings: ServerSettings
    tokens: dict[str, TokenRecord] = field(default_factory=dict)  # known tokens by hash


def services(request: Request) -> Services:
    """The app's services."""
    return request.app.state.services  # type: ignore[no-any-return]


def caller(request: Request, svc: Services = Depends(services)) -> TokenRecord:
    """The token record of the caller, or 401."""
    try:
        return authenticate(svc.store, request.headers.get("authorization"), svc.tokens)
    except AuthError as exc:
        raise HTTPException(exc.status, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


def admin(token: TokenRecord = Depends(caller)) -> TokenRecord:
    """An admin token, or 403."""
    if token.role != "admin":
        raise HTTPException(403, "this endpoint needs an admin token")
    return token
