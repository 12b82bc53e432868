"""Orders: intake, read, list (most urgent first) and cancel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from central.api.deps import Services, admin, caller, check_site, services, site_of
from central.api.schemas import OrderIn
from central.service import intake
from central.service.docs import feed_view
from central.store.base import TokenRecord
from domain.models import Level, OrderStatus

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=201)
def create_order(
    body: OrderIn,
    response: Response,
    svc: Services = Depends(services),
    _: TokenRecord = Depends(admin),
) -> dict[str, Any]:
    """Take an order (idempotent by id): 201 new, 200 same body again, 409 different body."""
    status, doc = intake.create_order(
        svc.store, body.model_dump(mode="json"), svc.clock, svc.settings
    )
    response.status_code = status
    return doc


@router.get("")
def list_orders(
    status: OrderStatus | None = None,
    priority: Level | None = None,
    limit: int = Query(100, ge=1, le=1000),
    svc: Services = Depends(services),
    token: TokenRecord = Depends(caller),
) -> list[dict[str, Any]]:
    """Orders, most urgent first (a device sees its own site's, as the sync feed)."""
    docs = intake.list_orders(
        svc.store,
        status.value if status else None,
        priority.value if priority else None,
        limit,
        site_of(token),
    )
    return [for_caller(doc, token) for doc in docs]


@router.get("/{order_id}")
def get_order(
    order_id: str, svc: Services = Depends(services), token: TokenRecord = Depends(caller)
) -> dict[str, Any]:
    """One order with lines, allocations, priority, status, exceptions and timeline. A
    device reads its own site's orders and those that moved away from it (as the feed)."""
    doc = intake.get_order(svc.store, order_id)
    if doc.get("moved_from") != site_of(token):
        check_site(token, doc["warehouse"], f"order {order_id!r}")
    return for_caller(doc, token)


def for_caller(doc: dict[str, Any], token: TokenRecord) -> dict[str, Any]:
    """An admin sees the whole order; a floor device the same view as the sync feed,
    without the customer's personal contact data (e-mail)."""
    return doc if token.role == "admin" else feed_view(doc)


@router.post("/{order_id}/cancel")
def cancel_order(
    order_id: str, svc: Services = Depends(services), _: TokenRecord = Depends(admin)
) -> dict[str, Any]:
    """Cancel (after shipping: an exception for a person instead)."""
    return intake.cancel_order(svc.store, order_id, svc.clock, svc.settings)
