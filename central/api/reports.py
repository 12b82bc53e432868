"""Analytics: ``GET /v1/reports/summary`` (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from central.analytics.summary import build_summary
from central.api.deps import Services, admin, services
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/summary")
def summary(svc: Services = Depends(services), _: TokenRecord = Depends(admin)) -> dict[str, Any]:
    """Stage durations per priority level, queues, the bottleneck stage, on-time rates
    (urgent vs standard, per carrier and lane), throughput per station and operator."""
    return build_summary(svc.store, svc.clock.now()).to_dict()
