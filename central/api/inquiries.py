"""Customer feedback for staff (admin token): the inquiry queue with each order's
context, answering (by e-mail and on the tracking page), and the notification log."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from central.api.deps import Services, admin, services
from central.feedback import inquiries
from central.feedback.notify.outbox import notification_docs
from central.feedback.runtime import runtime_of
from central.store.base import TokenRecord

router = APIRouter(tags=["feedback"])


@router.get("/v1/inquiries")
def list_inquiries(
    status: Literal["open", "answered", "all"] = "open",
    limit: int = Query(200, ge=1, le=1000),
    svc: Services = Depends(services),
    _: TokenRecord = Depends(admin),
) -> list[dict[str, Any]]:
    """Customer questions, oldest first, with the order's status, priority and timeline."""
    return inquiries.queue(svc.store, None if status == "all" else status, limit)


@router.post("/v1/inquiries/{inquiry_id}/answer")
def answer_inquiry(
    inquiry_id: str,
    request: Request,
    text: Any = Body(..., embed=True),
    svc: Services = Depends(services),
    _: TokenRecord = Depends(admin),
) -> dict[str, Any]:
    """Answer a question: e-mailed to the customer and shown on the tracking page."""
    runtime = runtime_of(request)
    try:
        done = inquiries.answer(svc.store, inquiry_id, text, svc.clock.now(), runtime.settings)
    except inquiries.BadMessage as exc:
        raise HTTPException(
            422, [{"loc": ["body", "text"], "msg": str(exc), "type": "value_error"}]
        ) from exc
    except inquiries.InquiryError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    runtime.wake()
    return {**done.inquiry, "notification_id": done.notification_id}


@router.get("/v1/notifications")
def list_notifications(
    order_id: str | None = None,
    svc: Services = Depends(services),
    _: TokenRecord = Depends(admin),
) -> list[dict[str, Any]]:
    """Notifications (newest first) with the state of each delivery."""
    return notification_docs(svc.store, order_id)
