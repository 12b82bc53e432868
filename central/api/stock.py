"""Stock per bin, transfers proposed, alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from central.api.deps import Services, caller, check_site, services, site_of
from central.service.feed import stock_docs
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1", tags=["stock"])


@router.get("/stock")
def get_stock(
    sku: str | None = None,
    warehouse: str | None = None,
    svc: Services = Depends(services),
    token: TokenRecord = Depends(caller),
) -> list[dict[str, Any]]:
    """Per bin: on_hand, reserved, available (and lots). A device reads its own site
    (the default warehouse of its queries)."""
    if warehouse is None:
        warehouse = site_of(token)
    else:
        check_site(token, warehouse, f"warehouse {warehouse!r}")
    with svc.store.reader() as tx:
        keys = {
            (s.warehouse, s.location, s.sku) for s in tx.stock_lines(sku=sku, warehouse=warehouse)
        }
        return stock_docs(tx, keys)


@router.get("/transfers")
def get_transfers(
    svc: Services = Depends(services), token: TokenRecord = Depends(caller)
) -> list[dict[str, Any]]:
    """Transfer proposals, newest first (for a device: those from or to its site)."""
    with svc.store.reader() as tx:
        return tx.transfers(warehouse=site_of(token))
