"""Where the summary comes from: a central database read directly, or a running central
server's ``GET /v1/reports/summary``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class ReportError(Exception):
    """The summary could not be fetched (bad URL, server down, refused token, no DB)."""


def summary_from_db(url: str | None, now: datetime | None = None) -> dict[str, Any]:
    """The summary of the central database at ``url`` (default: the data dir's)."""
    from central.analytics.summary import build_summary
    from central.store import StoreError, default_db_url, open_store

    url = url or default_db_url()
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url
    if "://" not in path and not Path(path).is_file():
        # Opening would create an empty database: a report on nothing is a mistake.
        raise ReportError(f"{path}: no such database file")
    try:
        store = open_store(url)
    except StoreError as exc:
        raise ReportError(str(exc)) from exc
    try:
        return build_summary(store, now or datetime.now(UTC)).to_dict()
    finally:
        store.close()


def summary_from_server(url: str, token: str, timeout: float = 60.0) -> dict[str, Any]:
    """The summary from a running central server (admin token)."""
    import httpx

    endpoint = url.rstrip("/") + "/v1/reports/summary"
    try:
        response = httpx.get(
            endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ReportError(f"{endpoint}: cannot reach the central server: {exc}") from exc
    if response.status_code in (401, 403):
        raise ReportError(
            f"{endpoint}: token refused ({response.status_code}): an admin token is needed"
        )
    if response.status_code != 200:
        raise ReportError(f"{endpoint}: answered {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise ReportError(f"{endpoint}: the answer is not JSON") from exc
    if not isinstance(body, dict) or "stages" not in body:
        raise ReportError(f"{endpoint}: the answer is not a report summary")
    return body
