"""Stock per bin, transfers proposed, alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from central.api.deps import Services, caller, services
from central.service.feed import stock_docs
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1", tags=["stock"])


@router.get("/stock")
def get_stock(
    sku: str | None = None,
    warehouse: str | None = None,
    svc: Services = Depends(services),
    _: TokenRecord = Depends(caller),
) -> list[dict[str, Any]]:
    """Per bin: on_hand, reserved, available (and lots)."""
    with svc.store.reader() as tx:
        keys = {
            (s.warehouse, s.location, s.sku) for s in tx.stock_lines(sku=sku, warehouse=warehouse)
        }
        return stock_docs(tx, keys)


@router.get("/transfers")
def get_transfers(
    svc: Services = Depends(services), _: TokenRecord = Depends(caller)
) -> list[dict[str, Any]]:
    """Transfer proposals, newest first."""
    with svc.store.reader() as tx:
        return tx.transfers()
