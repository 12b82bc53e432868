"""Sync with floor devices: push operations, pull the change feed (SYNC_CONTRACT.md)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from central.api.deps import Services, caller, services
from central.api.schemas import read_push
from central.service import apply_ops, feed
from central.store.base import TokenRecord

router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.post("/push", response_model=None)
async def push(
    request: Request, svc: Services = Depends(services), token: TokenRecord = Depends(caller)
) -> Response:
    """Apply a device's operations: ``{acked_seq, results}``."""
    if token.role != "device":
        raise HTTPException(403, "push needs a device token")
    limit = svc.settings.max_push_bytes
    too_big = HTTPException(413, f"push body larger than {limit} bytes: send fewer ops")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        parts.append(chunk)
    # Reading, checking and applying the ops, and writing the answer, happen on one
    # worker thread: the event loop goes on serving while a big push is read.
    return await run_in_threadpool(_apply, b"".join(parts), token, svc)


def _apply(raw: bytes, token: TokenRecord, svc: Services) -> Response:
    try:
        body = read_push(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**e, "loc": ("body", *e["loc"])}
                for e in exc.errors(include_url=False, include_context=False)
            ]
        ) from exc
    if body["device"] != token.device:
        raise HTTPException(
            403, f"this token belongs to device {token.device!r}, not {body['device']!r}"
        )
    if len(body["ops"]) > svc.settings.max_push_ops:
        raise HTTPException(
            413, f"{len(body['ops'])} ops in one push; at most {svc.settings.max_push_ops}"
        )
    ops: list[dict[str, Any]] = body["ops"]  # type: ignore[assignment]
    result = apply_ops.push(svc.store, body["device"], token.site, ops, svc.clock, svc.settings)
    # orjson writes the per-op results in under half of pydantic-core's time.
    return Response(orjson.dumps(result), media_type="application/json")


@router.get("/pull")
def pull(
    cursor: int = Query(0, ge=0),
    limit: int = Query(500, ge=1),
    epoch: str | None = Header(default=None, alias="X-Rushline-Epoch"),
    svc: Services = Depends(services),
    token: TokenRecord = Depends(caller),
) -> dict[str, Any]:
    """Changes after ``cursor``: a device sees its own site only, an admin everything."""
    site = token.site if token.role == "device" else None
    try:
        page = feed.pull(svc.store, cursor, min(limit, svc.settings.pull_limit_max), site, epoch)
    except feed.EpochMismatch as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"cursor": page.cursor, "epoch": page.epoch, "changes": page.changes, "more": page.more}
