"""Disruptions: weather, carrier outages; posting one re-prioritises open orders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from central.api.deps import Services, admin, services
from central.api.schemas import DisruptionIn
from central.service.reprioritise import post_disruption
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1/disruptions", tags=["disruptions"])


@router.post("")
def create_disruption(
    body: DisruptionIn, svc: Services = Depends(services), _: TokenRecord = Depends(admin)
) -> dict[str, Any]:
    """Record a disruption (upsert by id); answers how many orders changed level."""
    return post_disruption(
        svc.store, body.model_dump(mode="json", exclude_none=True), svc.clock, svc.settings
    )
