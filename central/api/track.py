"""Customer tracking by token (no login): status and timeline, no address."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from central.api.deps import Services, services

router = APIRouter(prefix="/v1/track", tags=["tracking"])

# Timeline events a customer sees; floor details (bins, operators, totes) stay inside.
PUBLIC_EVENTS = {
    "received": "Order received",
    "allocated": "Items reserved",
    "picked": "Being picked",
    "packed": "Packed",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "stock_shortage": "Delayed: waiting for stock",
    "transfer_proposed": "Delayed: stock on its way from another warehouse",
}


def public_view(doc: dict[str, Any], timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """What the tracking page shows of an order."""
    seen: set[str] = set()
    events = []
    for entry in timeline:
        label = PUBLIC_EVENTS.get(entry["event"])
        if label is None or entry["event"] in seen:
            continue
        seen.add(entry["event"])
        events.append({"at": entry["at"], "event": entry["event"], "detail": label})
    return {
        "order_id": doc["id"],
        "status": doc["status"],
        "deadline": doc["deadline"],
        "carrier_service": doc.get("carrier_service"),
        "tracking": doc.get("tracking"),
        "destination": {"city": doc["ship_to"]["city"], "country": doc["ship_to"]["country"]},
        "timeline": events,
    }


@router.get("/{token}")
def track(token: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The customer view of the order behind a tracking token."""
    with svc.store.reader() as tx:
        doc = tx.order_by_token(token)
        if doc is None:
            raise HTTPException(404, "unknown tracking token")
        return public_view(doc, tx.timeline(doc["id"]))
