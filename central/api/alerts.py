"""Alerts: low stock, oversold bins, at-risk orders, open exceptions, rejected ops."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from central.api.deps import Services, admin, services
from central.feedback.risk_monitor import merge_alerts
from central.service.alerts import alerts
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("")
def get_alerts(
    svc: Services = Depends(services), _: TokenRecord = Depends(admin)
) -> dict[str, list[dict[str, Any]]]:
    """Every alert class, computed now; at-risk orders carry the risk monitor's reasons
    and proposed resolutions."""
    return merge_alerts(
        alerts(svc.store, svc.clock, svc.settings), svc.store, svc.clock.now(), svc.settings
    )
