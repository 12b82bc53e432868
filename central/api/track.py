"""Customer tracking by token (no login; the unguessable token is the key):
``GET /v1/track/{token}`` (JSON), ``GET /track/{token}`` (a phone-friendly page), and the
customer's questions (``POST /v1/track/{token}/inquiries``, or the page's form)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from central.api.deps import Services, services
from central.feedback import inquiries
from central.feedback.notify.outbox import feedback_tx
from central.feedback.risk_monitor import RiskInputs, assess_doc
from central.feedback.runtime import runtime_of
from central.feedback.templating import environment
from central.feedback.tracking import customer_view, local_time
from central.store.feedback_sql import InquiryRow
from domain.models import DomainError

router = APIRouter(tags=["tracking"])

# The token is in the URL: keep it out of caches, referrers and search engines.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"


def _view(svc: Services, token: str) -> tuple[dict[str, Any], Any]:
    """The customer view of the token's order and the warehouse's time zone, or 404."""
    with svc.store.reader() as tx:
        doc = tx.order_by_token(token)
        if doc is None:
            raise HTTPException(404, "unknown tracking token", headers=PRIVATE_HEADERS)
        verdict = None
        if doc["status"] not in ("shipped", "delivered", "cancelled"):
            try:
                verdict = assess_doc(doc, svc.clock.now(), RiskInputs.read(tx), svc.settings)
            except (DomainError, KeyError, ValueError):
                verdict = feedback_tx(tx).risk_of(doc["id"])
        questions = [
            q
            for q in feedback_tx(tx).inquiries(order_id=doc["id"], limit=50)
            if q.token_hash == inquiries.token_hash(token)
        ]
        warehouse = tx.masters("warehouse").get(doc["warehouse"], {})
        view = customer_view(doc, tx.timeline(doc["id"]), verdict, questions)
    try:
        zone = ZoneInfo(str(warehouse.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return view, zone


@router.get("/v1/track/{token}")
def track(token: str, svc: Services = Depends(services)) -> JSONResponse:
    """The customer view of the order behind a tracking token."""
    view, _ = _view(svc, token)
    return JSONResponse(view, headers=PRIVATE_HEADERS)


def _ask(request: Request, svc: Services, token: str, message: Any) -> InquiryRow:
    settings = runtime_of(request).settings
    return inquiries.ask(svc.store, token, message, svc.clock.now(), settings)


@router.post("/v1/track/{token}/inquiries", status_code=201)
async def ask_json(
    token: str,
    request: Request,
    message: Any = Body(..., embed=True),
    svc: Services = Depends(services),
) -> JSONResponse:
    """Ask about the order (max 500 characters, a few per hour per token)."""
    try:
        row = await run_in_threadpool(_ask, request, svc, token, message)
    except inquiries.RateLimited as exc:
        raise HTTPException(
            429, str(exc), headers={**PRIVATE_HEADERS, "Retry-After": str(exc.retry_after)}
        ) from exc
    except inquiries.BadMessage as exc:
        raise HTTPException(
            422, [{"loc": ["body", "message"], "msg": str(exc), "type": "value_error"}]
        ) from exc
    except inquiries.InquiryError as exc:
        raise HTTPException(exc.status, str(exc), headers=PRIVATE_HEADERS) from exc
    return JSONResponse(
        {"id": row.id, "status": row.status, "created_at": row.created_at},
        status_code=201,
        headers=PRIVATE_HEADERS,
    )


def _unknown_page() -> HTMLResponse:
    html = environment().get_template("track_unknown.html").render()
    headers = {**PRIVATE_HEADERS, "Content-Security-Policy": PAGE_POLICY}
    return HTMLResponse(html, status_code=404, headers=headers)


def _page(
    request: Request,
    svc: Services,
    token: str,
    status_code: int = 200,
    notice: str = "",
    error: str = "",
) -> HTMLResponse:
    view, zone = _view(svc, token)
    html = (
        environment()
        .get_template("track.html")
        .render(
            view=view,
            token=token,
            when=lambda value: local_time(value, zone),
            notice=notice,
            error=error,
            max_chars=runtime_of(request).settings.inquiry_max_chars,
        )
    )
    headers = {**PRIVATE_HEADERS, "Content-Security-Policy": PAGE_POLICY}
    return HTMLResponse(html, status_code=status_code, headers=headers)


@router.get("/track/{token}", response_class=HTMLResponse)
def track_page(
    token: str, request: Request, asked: int = 0, svc: Services = Depends(services)
) -> HTMLResponse:
    """The tracking page (a friendly 404 page for an unknown token)."""
    try:
        return _page(request, svc, token, notice="Thanks, we got your question." if asked else "")
    except HTTPException as exc:
        if exc.status_code == 404:
            return _unknown_page()
        raise


@router.post("/track/{token}/ask", response_class=HTMLResponse)
def ask_form(
    token: str,
    request: Request,
    message: str = Form(""),
    svc: Services = Depends(services),
) -> Any:
    """The page's question form: back to the page (303) or the page with the error."""
    try:
        _ask(request, svc, token, message)
    except inquiries.UnknownToken:
        return _unknown_page()
    except inquiries.InquiryError as exc:
        return _page(request, svc, token, status_code=exc.status, error=str(exc))
    return RedirectResponse(f"/track/{token}?asked=1", status_code=303, headers=PRIVATE_HEADERS)
