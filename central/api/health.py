"""Liveness: answers without a token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from central.api.deps import Services, services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(svc: Services = Depends(services)) -> dict[str, Any]:
    """OK when the store answers."""
    with svc.store.reader() as tx:
        epoch = tx.get_meta("epoch")
    return {"ok": True, "epoch": epoch}
