"""Master data: warehouses, bins, SKUs, stock and carrier services (upsert)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from central.api.deps import Services, admin, services
from central.api.schemas import MasterDataIn
from central.service.masterdata import import_masterdata
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1/masterdata", tags=["masterdata"])


@router.post("")
def post_masterdata(
    body: MasterDataIn, svc: Services = Depends(services), _: TokenRecord = Depends(admin)
) -> dict[str, Any]:
    """Upsert master data; stock rows already imported are not added twice."""
    counts = import_masterdata(svc.store, body.model_dump(mode="json"), svc.clock, svc.settings)
    return {"imported": counts}
