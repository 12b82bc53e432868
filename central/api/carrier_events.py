"""Carrier tracking events in: ``POST /v1/carrier-events`` (admin), JSON or CSV."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from central.analytics.carrier_events import (
    TooMany,
    apply_events,
    events_from_csv,
    events_from_json,
)
from central.api.deps import Services, admin, services
from central.service.context import InputError
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1/carrier-events", tags=["carriers"])
log = logging.getLogger(__name__)

MAX_BYTES = 16 * 1024 * 1024
_CSV_TYPES = {"text/csv", "application/csv", "text/plain"}


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        raise HTTPException(413, f"body larger than {MAX_BYTES} bytes: split the file")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BYTES} bytes: split the file")
    return bytes(raw)


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError((where,), f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc


async def _upload(request: Request) -> tuple[str, bytes]:
    """The uploaded file of a multipart form: (file name, bytes)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        raise HTTPException(413, f"body larger than {MAX_BYTES} bytes: split the file")
    async with request.form(max_files=1) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise InputError(("body", "file"), "multipart upload needs a file field 'file'")
        data = await upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise HTTPException(413, f"file larger than {MAX_BYTES} bytes: split the file")
    return upload.filename or "", data


@router.post("")
async def post_carrier_events(
    request: Request, svc: Services = Depends(services), _: TokenRecord = Depends(admin)
) -> dict[str, Any]:
    """Record carrier events (``{"events": [...]}``, a ``text/csv`` body or a multipart
    CSV file); a bad row answers 422 naming row and column, and nothing is applied."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "multipart/form-data":
            name, raw = await _upload(request)
            text = _text(raw, "file")
            if name.lower().endswith(".json"):
                events = events_from_json(_json(text))
            else:
                events = events_from_csv(text)
        elif kind in _CSV_TYPES:
            events = events_from_csv(_text(await _body(request), "body"))
        elif kind in ("application/json", ""):
            events = events_from_json(_json(_text(await _body(request), "body")))
        else:
            raise HTTPException(
                415, f"content type {kind!r}: send application/json, text/csv or a multipart file"
            )
    except TooMany as exc:
        log.warning("carrier events refused: %s", exc)
        raise HTTPException(413, str(exc)) from exc
    except InputError as exc:
        log.warning("carrier events refused, nothing applied: %s", exc)
        raise
    try:
        result = await run_in_threadpool(apply_events, svc.store, events, svc.clock, svc.settings)
    except InputError as exc:
        log.warning("carrier events refused, nothing applied: %s", exc)
        raise
    log.info(
        "carrier events: %d received, %d applied, %d deliveries measured",
        result["received"],
        result["applied"],
        result["delivered"],
    )
    return result


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(("body",), f"invalid JSON: {exc.msg} at line {exc.lineno}") from exc
